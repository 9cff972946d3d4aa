"""The servers benchmarks/server_load.py loads: ours (a subprocess of `bert_tf2.serving.start`), infinity
(`infinity_emb v2` from the venv of benchmarks/setup_peers.sh), and a light client of OpenAI's
embeddings route that every one of them speaks.

    with start_infinity("/work/venv-infinity", engine="optimum", port=7997) as port:
      OpenAIStyleClient(port, "/embeddings", "all-MiniLM-L6-v2").encode(["hi"])   # float32 [1, 384]

The load clients are plain `http.client` with one kept-alive connection per thread (the `openai`
client's httpx and pydantic would spend the cores the servers share); they send what the `openai`
client sends by default: `{"model", "input": [str, ...], "encoding_format": "base64"}`.
"""

import base64
import contextlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_NAME = "all-MiniLM-L6-v2"


class OpenAIStyleClient:
  """POST `path` (`/v1/embeddings` on ours, `/embeddings` on infinity) -> float32 [N, D]; one connection."""

  def __init__(self, port, path, model=MODEL_NAME, api_key=None, timeout=600):
    self.path, self.model = path, model
    self.headers = {"Content-Type": "application/json"}
    if api_key:
      self.headers["Authorization"] = "Bearer " + api_key
    self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

  def encode(self, texts):
    body = json.dumps({"model": self.model, "input": list(texts), "encoding_format": "base64"}).encode("utf-8")
    self.connection.request("POST", self.path, body=body, headers=self.headers)
    response = self.connection.getresponse()
    payload = response.read()
    if response.status != 200:
      raise RuntimeError("HTTP %d: %s" % (response.status, payload[:300]))
    data = sorted(json.loads(payload)["data"], key=lambda d: d["index"])
    return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") if isinstance(d["embedding"], str)
                     else np.float32(d["embedding"]) for d in data])

  def connect(self):
    self.connection.connect()

  def close(self):
    self.connection.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def _wait(port, path, process, log, what, deadline_s=900):
  """Polls GET `path` until 200; exits with the log's tail if `process` dies or the deadline passes."""
  deadline = time.time() + deadline_s
  while True:
    try:
      connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
      connection.request("GET", path)
      if connection.getresponse().status == 200:
        return
    except OSError:
      pass
    if process.poll() is not None or time.time() > deadline:
      log.seek(0)
      sys.exit("%s did not start: %s" % (what, log.read().decode(errors="replace")[-3000:]))
    time.sleep(0.5)


@contextlib.contextmanager
def _process(argv, port, ready_path, what, cwd=None, env=None):
  """Runs a server subprocess (its output in a temporary file, not a pipe that could fill), yields once ready."""
  log = tempfile.TemporaryFile()
  process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
  try:
    _wait(port, ready_path, process, log, what)
    yield port
  finally:
    process.terminate()
    try:
      process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      process.kill()
    log.close()


def start_ours(model_dir, port, max_seq_len, max_batch_size, num_worker, model_batch_size, extra_flags=()):
  """Our server as its users start it: `python -m bert_tf2.serving.start` (mean of the last layer, normalized)."""
  argv = [sys.executable, "-m", "bert_tf2.serving.start", "-model_dir", model_dir, "-host", "127.0.0.1", "-port",
          str(port), "-max_seq_len", str(max_seq_len), "-max_batch_size", str(max_batch_size), "-num_worker",
          str(num_worker), "-model_batch_size", str(model_batch_size), "-pooling_layer", "-1", "-normalize",
          "-model_name", MODEL_NAME] + list(extra_flags)
  return _process(argv, port, "/status", "our server", cwd=ROOT)


def start_infinity(venv, engine, port, model_dir=None, batch_size=32):
  """infinity as its users start it: `infinity_emb v2 --model-id <dir> --engine <engine> --device cpu`.

  Run from inside the model directory with `--model-id .` (see benchmarks/setup_peers.sh: with an absolute
  path its optimum engine does not find the ONNX file); offline, no usage statistics; batch 32 is its default.
  `--pooling-method mean`: MiniLM is mean-pooled, and infinity's optimum engine pools the [CLS] vector unless
  told (its "auto" means CLS there; mean cosine 0.42 to the model's vectors without this flag).
  """
  model_dir = model_dir or os.path.join(venv, "models", MODEL_NAME)
  if not os.path.exists(os.path.join(model_dir, "model_quantized.onnx")):
    sys.exit("no infinity model in %s: run bash benchmarks/setup_peers.sh" % model_dir)
  env = dict(os.environ, HF_HUB_OFFLINE="1", INFINITY_ANONYMOUS_USAGE_STATS="0", DO_NOT_TRACK="1")
  env.pop("PYTHONPATH", None)
  argv = [os.path.join(venv, "bin", "infinity_emb"), "v2", "--model-id", ".", "--served-model-name", MODEL_NAME,
          "--engine", engine, "--device", "cpu", "--pooling-method", "mean", "--batch-size", str(batch_size),
          "--host", "127.0.0.1", "--port",
          str(port), "--log-level", "warning"]
  return _process(argv, port, "/models", "infinity (%s)" % engine, cwd=model_dir, env=env)
