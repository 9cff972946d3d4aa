"""An HTTP embedding server (FastAPI + uvicorn) with dynamic batching, and its client `BertClient`.

    app = create_app(SentenceEncoder.from_pretrained("all-MiniLM-L6-v2/", pooling_layer=-1))
    serve(app, host="0.0.0.0", port=5555)                  # or: bert-tf2-serving-start -model_dir ...
    BertClient("127.0.0.1", 5555).encode(["hi", "你好"])   # float32 np.ndarray [2, 384]

API (JSON in, JSON out; every error is `{"error": "..."}` with a 4xx status, and the server keeps going):
  POST /encode  {"texts": ["...", ...]}  ->  {"embeddings": [[...], ...], "shape": [N, D]}
  GET  /status  ->  model options, limits and counters (requests, texts, batches, failures).
Limits: `max_texts_per_request` texts (413), `max_text_chars` characters per text (413),
`max_request_bytes` per body (413); bad JSON 400; wrong types or an empty list 422.

Dynamic batching: requests wait in one queue; each of `num_worker` workers takes the first waiting
request plus every other already waiting one while the total stays within `max_batch_size` texts,
makes ONE `encoder.encode` call on them (in a thread, so the event loop keeps accepting), and hands
each request its rows. Under load, concurrent requests share model calls; alone, a request adds no wait.
"""

import asyncio
import collections
import concurrent.futures
import contextlib
import http.client
import json
import socket
import threading
import time

import numpy as np

_Job = collections.namedtuple("_Job", ["texts", "future"])


class DynamicBatcher:
  """Merges concurrent `submit` calls into `encode_fn` calls of at most `max_batch_size` texts."""

  def __init__(self, encode_fn, max_batch_size=256, num_worker=1):
    self.encode_fn, self.max_batch_size, self.num_worker = encode_fn, max_batch_size, num_worker
    self.stats = collections.Counter()
    self._queue = None
    self._tasks = []
    self._pool = None

  async def start(self):
    self._queue = asyncio.Queue()
    self._pool = concurrent.futures.ThreadPoolExecutor(self.num_worker, thread_name_prefix="encoder")
    self._tasks = [asyncio.create_task(self._work()) for _ in range(self.num_worker)]

  async def stop(self):
    for task in self._tasks:
      task.cancel()
    await asyncio.gather(*self._tasks, return_exceptions=True)
    self._pool.shutdown(wait=False)

  async def submit(self, texts):
    """list of str -> float32 np.ndarray [len(texts), ...], computed in some shared batch."""
    future = asyncio.get_running_loop().create_future()
    await self._queue.put(_Job(texts, future))
    return await future

  async def _work(self):
    carried = None  # a job that did not fit the previous batch goes first in the next
    loop = asyncio.get_running_loop()
    while True:
      jobs = [carried or await self._queue.get()]
      carried = None
      size = len(jobs[0].texts)
      while not self._queue.empty():
        job = self._queue.get_nowait()
        if size + len(job.texts) > self.max_batch_size:
          carried = job
          break
        jobs.append(job)
        size += len(job.texts)
      texts = [t for job in jobs for t in job.texts]
      try:
        vectors = await loop.run_in_executor(self._pool, self.encode_fn, texts)
      except Exception as e:  # pylint: disable=broad-except
        self.stats["failed_batches"] += 1
        for job in jobs:
          if not job.future.done():
            job.future.set_exception(e)
        continue
      self.stats.update(batches=1, batched_requests=len(jobs), batched_texts=len(texts))
      start = 0
      for job in jobs:
        if not job.future.done():  # the client may have gone away
          job.future.set_result(vectors[start:start + len(job.texts)])
        start += len(job.texts)


class RequestError(Exception):
  """A client error: HTTP status and message."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status


def parse_encode_request(body, max_texts_per_request, max_text_chars):
  """Request body bytes -> list of str, or RequestError(status, message)."""
  try:
    payload = json.loads(body)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise RequestError(400, "malformed JSON: %s" % e) from None
  if not isinstance(payload, dict) or "texts" not in payload:
    raise RequestError(422, 'expected a JSON object {"texts": [str, ...]}')
  texts = payload["texts"]
  if not isinstance(texts, list):
    raise RequestError(422, '"texts" must be a list of strings, got %s' % type(texts).__name__)
  if not texts:
    raise RequestError(422, '"texts" is empty')
  if len(texts) > max_texts_per_request:
    raise RequestError(413, "%d texts in one request; the limit is %d" % (len(texts), max_texts_per_request))
  for i, text in enumerate(texts):
    if not isinstance(text, str):
      raise RequestError(422, "texts[%d] is %s, not a string" % (i, type(text).__name__))
    if len(text) > max_text_chars:
      raise RequestError(413, "texts[%d] has %d characters; the limit is %d" % (i, len(text), max_text_chars))
  return texts


def create_app(encoder, max_batch_size=256, num_worker=1, max_texts_per_request=256, max_text_chars=10000,
               max_request_bytes=4 << 20):
  """A FastAPI app serving `encoder` (a `SentenceEncoder`, or anything with `encode(texts, batch_size)`)."""
  from fastapi import FastAPI, Request  # pylint: disable=g-import-not-at-top
  from fastapi.responses import JSONResponse  # pylint: disable=g-import-not-at-top

  batcher = DynamicBatcher(lambda texts: encoder.encode(texts, batch_size=max_batch_size), max_batch_size, num_worker)
  started = time.time()

  @contextlib.asynccontextmanager
  async def lifespan(app):
    del app
    await batcher.start()
    yield
    await batcher.stop()

  app = FastAPI(title="bert_tf2 embedding server", lifespan=lifespan)
  app.state.batcher = batcher

  def error(status, message):
    batcher.stats["rejected_requests"] += 1
    return JSONResponse({"error": message}, status_code=status)

  @app.exception_handler(Exception)
  async def _internal_error(request, exc):
    del request
    batcher.stats["failed_requests"] += 1
    return JSONResponse({"error": "internal error: %s" % type(exc).__name__}, status_code=500)

  @app.exception_handler(405)
  async def _method_not_allowed(request, exc):
    del exc
    return error(405, "%s is not allowed on %s" % (request.method, request.url.path))

  @app.exception_handler(404)
  async def _not_found(request, exc):
    del exc
    return error(404, "no such endpoint %s; use POST /encode or GET /status" % request.url.path)

  @app.post("/encode")
  async def encode(request: Request):
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_request_bytes:
      return error(413, "request body of %s bytes; the limit is %d" % (declared, max_request_bytes))
    body = bytearray()
    async for chunk in request.stream():
      body += chunk
      if len(body) > max_request_bytes:
        return error(413, "request body over the limit of %d bytes" % max_request_bytes)
    try:
      texts = parse_encode_request(bytes(body), max_texts_per_request, max_text_chars)
    except RequestError as e:
      return error(e.status, str(e))
    vectors = await batcher.submit(texts)
    batcher.stats.update(requests=1, texts=len(texts))
    return JSONResponse({"embeddings": vectors.tolist(), "shape": list(vectors.shape)})

  @app.get("/status")
  async def status():
    options = {k: getattr(encoder, k, None) for k in ("max_seq_length", "pooling_strategy", "pooling_layer",
                                                      "normalize", "dimension")}
    limits = dict(max_batch_size=max_batch_size, num_worker=num_worker, max_texts_per_request=max_texts_per_request,
                  max_text_chars=max_text_chars, max_request_bytes=max_request_bytes)
    return {"status": "ok", "uptime_s": round(time.time() - started, 3), "model": options, "limits": limits,
            "counters": dict(batcher.stats)}

  return app


def serve(app, host="0.0.0.0", port=5555, sock=None, log_level="warning"):
  """Runs `app` with uvicorn until interrupted (on `sock` if given, e.g. one bound to port 0)."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False))
  server.run(sockets=[sock] if sock is not None else None)


@contextlib.contextmanager
def background_server(app, host="127.0.0.1"):
  """Runs `app` in a thread on a free port (tests, benchmarks); yields the port, stops on exit."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock.bind((host, 0))
  server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
  thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
  thread.start()
  while not server.started:
    if not thread.is_alive():
      raise RuntimeError("the server thread died on start")
    time.sleep(0.01)
  try:
    yield sock.getsockname()[1]
  finally:
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


class BertClientError(Exception):
  """The server answered with an error status."""

  def __init__(self, status, message):
    super().__init__("HTTP %d: %s" % (status, message))
    self.status, self.message = status, message


class BertClient:
  """Client of the embedding server over one kept-alive HTTP connection (one per thread).

  Example:
    with BertClient("127.0.0.1", 5555) as bc:
      vectors = bc.encode(["First do it", "then do it right"])  # float32 [2, D]
  """

  def __init__(self, host="127.0.0.1", port=5555, timeout=60.0):
    self.host, self.port, self.timeout = host, port, timeout
    self._connection = None

  def _request(self, method, path, payload=None):
    body = None if payload is None else json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    for attempt in (0, 1):  # reconnect once if the kept-alive connection was closed
      if self._connection is None:
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
      try:
        self._connection.request(method, path, body=body, headers=headers)
        response = self._connection.getresponse()
        data = response.read()
        break
      except (ConnectionError, http.client.HTTPException):
        self.close()
        if attempt:
          raise
    result = json.loads(data)
    if response.status != 200:
      raise BertClientError(response.status, result.get("error", data.decode("utf-8", "replace")))
    return result

  def encode(self, texts):
    """list of str -> float32 np.ndarray [N, D] ([N, T, D] for a NONE-pooling server)."""
    if isinstance(texts, str):
      raise TypeError("encode takes a list of strings, not one string")
    return np.asarray(self._request("POST", "/encode", {"texts": list(texts)})["embeddings"], np.float32)

  def status(self):
    """The server's /status dict."""
    return self._request("GET", "/status")

  def close(self):
    if self._connection is not None:
      self._connection.close()
      self._connection = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
