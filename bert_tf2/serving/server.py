"""An HTTP embedding server (FastAPI + uvicorn) with dynamic batching; the client is `BertClient`.

    app = create_app(SentenceEncoder.from_pretrained("all-MiniLM-L6-v2/", pooling_layer=-1))
    serve(app, port=5555)                        # or: bert-tf2-serving-start -model_dir ... (bert_tf2.serving.start)
    BertClient(port=5555).encode(["hi", "你好"])  # float32 np.ndarray [2, 384]; bert_tf2.serving.client

API (UTF-8 JSON in and out; every error is `{"error": "..."}` with a 4xx status, and the server keeps going):
  POST /encode  {"texts": [str, ...] | [[piece, ...], ...], "is_tokenized": false, "show_tokens": false,
                 "id": any, "output": "json" | "base64"}
            ->  {"id": ..., "shape": [N, D], "dtype": "float32", "result": [[...], ...]   (output "json")
                 or "result_base64": "<float32 bytes>"  (output "base64", what BertClient asks for),
                 "tokens": [["[CLS]", ..., "[SEP]"], ...]  (show_tokens, if the server shows tokens)}
  GET  /status (also /status/server) -> bert-as-service's server_status keys, limits and counters.
  POST /v1/embeddings, GET /v1/models: OpenAI's embeddings API on the same batches (`openai_api`).
`"id"` and `"result"` are bert-as-service's HTTP names (its `-http_port` API), so its HTTP clients work.
Limits: `max_texts_per_request` texts (413), `max_text_chars` characters per text (413),
`max_request_bytes` per body (413, sent after reading and discarding up to `max_drain_bytes` of the
body, so that any client -- curl, urllib, requests -- reads the 413 instead of a connection reset);
bad JSON 400; wrong types or an empty list 422. With `api_key`, every route needs `Authorization:
Bearer <key>` (401 without it). /v1/ routes answer errors in OpenAI's shape `{"error": {"message", ...}}`.

Dynamic batching (`batching.DynamicBatcher`, each batch run by `runner.EncodeRunner`): requests wait in
one queue; a worker takes every waiting request (up to `max_batch_size` texts) and makes them ONE job
in a thread: tokenize, split the merged texts into groups of similar length (`length_groups`: no long
padding of short texts), run the encoder, hand each request its rows. The event loop only parses and
answers; the encoder runs while the next requests queue, so under load the encoder is never idle
between batches. /status shows where the time went (`model_seconds`, `prepare_seconds`, busy share,
padding share) and the [UNK] counter.
"""

import asyncio
import base64
import collections
import contextlib
import json
import socket
import threading
import time

import numpy as np

from bert_tf2.serving import openai_api
from bert_tf2.serving import runner as runner_lib
from bert_tf2.serving import search_api
from bert_tf2.serving.batching import DynamicBatcher, length_groups  # noqa: F401  (re-exported)
from bert_tf2.serving.client import BertClient, BertClientError, ConcurrentBertClient, __version__  # noqa: F401
from bert_tf2.serving.runner import tokenized_features  # noqa: F401  (re-exported)
EncodeRequest = collections.namedtuple("EncodeRequest", ["texts", "is_tokenized", "show_tokens", "id", "output"])


class RequestError(Exception):
  """A client error: HTTP status, message and extra response headers (e.g. `Connection: close`)."""

  def __init__(self, status, message, headers=None):
    super().__init__(message)
    self.status, self.headers = status, headers


def parse_encode_request(body, max_texts_per_request, max_text_chars):
  """Request body bytes -> EncodeRequest, or RequestError(status, message)."""
  try:
    payload = json.loads(body)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise RequestError(400, "malformed JSON: %s" % e) from None
  if not isinstance(payload, dict) or "texts" not in payload:
    raise RequestError(422, 'expected a JSON object {"texts": [str, ...]}')
  texts, is_tokenized = payload["texts"], payload.get("is_tokenized", False)
  if not isinstance(texts, list):
    raise RequestError(422, '"texts" must be a list of strings, got %s' % type(texts).__name__)
  if not texts:
    raise RequestError(422, '"texts" is empty')
  if len(texts) > max_texts_per_request:
    raise RequestError(413, "%d texts in one request; the limit is %d" % (len(texts), max_texts_per_request))
  output = payload.get("output", "json")
  if output not in ("json", "base64"):
    raise RequestError(422, '"output" must be "json" or "base64", got %r' % (output,))
  for i, text in enumerate(texts):
    if is_tokenized:
      if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
        raise RequestError(422, "texts[%d] must be a list of strings (is_tokenized)" % i)
      length = sum(len(t) for t in text)
    elif not isinstance(text, str):
      raise RequestError(422, "texts[%d] is %s, not a string" % (i, type(text).__name__))
    else:
      length = len(text)
    if length > max_text_chars:
      raise RequestError(413, "texts[%d] has %d characters; the limit is %d" % (i, length, max_text_chars))
  return EncodeRequest(texts, bool(is_tokenized), bool(payload.get("show_tokens", False)), payload.get("id"),
                       output)


def _json_bytes(content):
  """A JSON value -> compact UTF-8 bytes (non-ASCII kept as is)."""
  return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_response(content, status=200, headers=None, body=None):
  """A UTF-8 JSON response of `content` (or of the already encoded `body`)."""
  from fastapi.responses import Response  # pylint: disable=g-import-not-at-top
  body = _json_bytes(content) if body is None else body
  return Response(body, status_code=status, media_type="application/json; charset=utf-8", headers=headers)


class _Handlers:
  """The server's answers: /encode (read body, parse, batch, reply), /status, and every error reply.

  Holds the limits, the shared `stats` counter, the runner and the batcher; `create_app` wires
  these methods to FastAPI routes and exception handlers.
  """

  def __init__(self, encoder, runner, batcher, stats, limits, max_drain_bytes, show_tokens_to_client, server_info,
               model_name):
    self.encoder, self.runner, self.batcher, self.stats = encoder, runner, batcher, stats
    self.limits = limits  # create_app's limits by name, as /status reports them
    self.max_drain_bytes = max_drain_bytes
    self.show_tokens_to_client, self.server_info = show_tokens_to_client, server_info
    self.model_name = model_name
    self.started = time.time()

  def error(self, status, message, headers=None, path="", param=None):
    """`{"error": message}` with `status` (OpenAI's error object under /v1/); counts a rejected request."""
    self.stats["rejected_requests"] += 1
    if path.startswith(openai_api.PREFIX):
      return _json_response(openai_api.error_body(status, message, param), status, headers)
    return _json_response({"error": message}, status, headers)

  async def embeddings(self, request):
    """POST /v1/embeddings (OpenAI's API): the /encode batch of the same texts, in OpenAI's response shape."""
    path = request.url.path
    try:
      body = await self._read_body(request)
      parsed = openai_api.parse_embeddings_request(body, self.limits["max_texts_per_request"],
                                                   self.limits["max_text_chars"])
      vectors, tokens = await self.batcher.submit(EncodeRequest(parsed.texts, False, False, None, "base64"))
      counts = [len(t) for t in tokens] if tokens is not None else [len(t.split()) for t in parsed.texts]
      out = openai_api.embeddings_response(vectors, counts, self.model_name, parsed,
                                           bool(getattr(self.encoder, "normalize", False)))
    except RequestError as e:
      return self.error(e.status, str(e), e.headers, path)
    except openai_api.InvalidRequest as e:
      return self.error(e.status, str(e), path=path, param=e.param)
    self.stats.update(requests=1, texts=len(parsed.texts))
    if parsed.encoding_format == "float" and vectors.size > 20000:  # as /encode: no long float printing on the loop
      return _json_response(None, body=await asyncio.get_running_loop().run_in_executor(None, _json_bytes, out))
    return _json_response(out)

  def models(self):
    """GET /v1/models: the served model, in OpenAI's list shape."""
    return _json_response(openai_api.models_response(self.model_name, self.started))

  async def encode(self, request):
    """POST /encode: body -> EncodeRequest -> one batcher job -> the JSON reply (or a 4xx error)."""
    try:
      body = await self._read_body(request)
      parsed = parse_encode_request(body, self.limits["max_texts_per_request"], self.limits["max_text_chars"])
      if parsed.is_tokenized and not self.runner.has_features:
        raise RequestError(422, "this server's encoder takes text only (no is_tokenized)")
    except RequestError as e:
      return self.error(e.status, str(e), e.headers)
    vectors, tokens = await self.batcher.submit(parsed)
    self.stats.update(requests=1, texts=len(parsed.texts))
    out = {"id": parsed.id, "shape": list(vectors.shape), "dtype": "float32"}
    if parsed.output == "base64":
      out["result_base64"] = base64.b64encode(np.ascontiguousarray(vectors, "<f4").tobytes()).decode("ascii")
    else:
      out["result"] = vectors.tolist()
    if parsed.show_tokens and self.show_tokens_to_client and tokens is not None:
      out["tokens"] = tokens
    if "result" in out and vectors.size > 20000:  # ~10 ms of float printing: not on the event loop
      return _json_response(None, body=await asyncio.get_running_loop().run_in_executor(None, _json_bytes, out))
    return _json_response(out)

  async def _read_body(self, request):
    """The request body as bytes; RequestError 413 (after `_drain`) if it is over `max_request_bytes`."""
    max_request_bytes = self.limits["max_request_bytes"]
    chunks = request.stream()  # one iterator: starlette's stream() may not be started twice
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_request_bytes:
      message = "request body of %s bytes; the limit is %d bytes" % (declared, max_request_bytes)
      if int(declared) > self.max_drain_bytes:
        raise RequestError(413, message, {"Connection": "close"})
      await self._drain(chunks, 0, message)
    body = bytearray()
    async for chunk in chunks:
      body += chunk
      if len(body) > max_request_bytes:
        await self._drain(chunks, len(body), "request body over the limit of %d bytes" % max_request_bytes)
    return bytes(body)

  async def _drain(self, chunks, received, message):
    """Reads and discards the rest of the body `chunks` (up to max_drain_bytes), then raises RequestError 413.

    Reading it first lets any client (curl, urllib, requests) read the 413 instead of a connection reset.
    """
    from starlette.requests import ClientDisconnect  # pylint: disable=g-import-not-at-top
    try:
      async for chunk in chunks:
        received += len(chunk)
        if received > self.max_drain_bytes:  # give up reading: answer and close (the client may see a reset)
          raise RequestError(413, message, {"Connection": "close"})
    except ClientDisconnect:
      pass
    raise RequestError(413, message)

  def status(self):
    """GET /status: bert-as-service's server_status keys, the encoder's options, limits and counters."""
    stats, limits = self.stats, self.limits
    options = {k: getattr(self.encoder, k, None) for k in ("max_seq_length", "pooling_strategy", "pooling_layer",
                                                           "normalize", "dimension")}
    uptime = time.time() - self.started
    counters = dict(stats)
    counters["encoder_busy_share"] = round(stats["batch_seconds"] / max(uptime, 1e-9), 4)
    if stats["padded_tokens"]:
      counters["padding_share"] = round(1 - stats["real_tokens"] / stats["padded_tokens"], 4)
    info = {"status": "ok", "server_version": __version__, "uptime_s": round(uptime, 3),
            "max_seq_len": options["max_seq_length"], "max_batch_size": limits["max_batch_size"],
            "num_worker": limits["num_worker"], "pooling_strategy": options["pooling_strategy"],
            "pooling_layer": options["pooling_layer"], "show_tokens_to_client": self.show_tokens_to_client,
            "num_request": stats["requests"], "num_sentence": stats["texts"], "unk_batches": stats["unk_batches"],
            "model": options, "limits": dict(limits), "counters": counters}
    info.update(self.server_info or {})
    return _json_response(info)


def _add_error_handlers(app, handlers):
  """Every error as JSON (OpenAI's error object under /v1/): 500 for an exception in a handler, 404 and 405."""

  @app.exception_handler(Exception)
  async def _internal_error(request, exc):
    handlers.stats["failed_requests"] += 1
    message = "internal error: %s: %s" % (type(exc).__name__, exc)
    if request.url.path.startswith(openai_api.PREFIX):
      return _json_response(openai_api.error_body(500, message), 500)
    return _json_response({"error": message}, 500)

  @app.exception_handler(405)
  async def _method_not_allowed(request, exc):
    del exc
    return handlers.error(405, "%s is not allowed on %s" % (request.method, request.url.path), path=request.url.path)

  @app.exception_handler(404)
  async def _not_found(request, exc):
    del exc
    return handlers.error(404, "no such endpoint %s; use POST /encode, POST /v1/embeddings or GET /status"
                          % request.url.path, path=request.url.path)


def create_app(encoder, max_batch_size=256, num_worker=1, max_texts_per_request=256, max_text_chars=10000,
               max_request_bytes=4 << 20, max_drain_bytes=64 << 20, unk_threshold=0.1, show_tokens_to_client=False,
               fixed_embed_length=False, overhead_tokens=64, model_batch_size=16, cors=None, server_info=None,
               model_name="bert_tf2", api_key=None, searcher=None):
  """A FastAPI app serving `encoder` (a `SentenceEncoder`, or anything with `encode(texts, batch_size)`).

  Args beyond the limits above: `unk_threshold` (float: share of [UNK] pieces in a batch that
  logs a warning and counts `unk_batches`), `show_tokens_to_client` (send tokens when asked),
  `fixed_embed_length` (NONE pooling: pad token vectors to max_seq_len), `overhead_tokens` and
  `model_batch_size` (see `length_groups`: most texts in one model call; on this 2-core CPU calls
  of 8-16 texts ran about twice as many sentences/s as calls of 64-128), `cors` (the
  Access-Control-Allow-Origin value, or None), `server_info` (dict merged into /status, e.g. ports),
  `model_name` (the model id /v1/embeddings and /v1/models answer with), `api_key` (str: every route
  then needs `Authorization: Bearer <api_key>`, else 401; None: open), `searcher` (a
  `bert_tf2.retrieval.searcher.Searcher`: POST /search answers from its index, `serving.search_api`).
  """
  from fastapi import FastAPI, Request  # pylint: disable=g-import-not-at-top

  stats = collections.Counter()
  runner = runner_lib.EncodeRunner(encoder, stats, max_batch_size, unk_threshold, overhead_tokens,
                                   fixed_embed_length, model_batch_size)
  batcher = DynamicBatcher(runner, max_batch_size, num_worker, stats)
  limits = dict(max_batch_size=max_batch_size, num_worker=num_worker, max_texts_per_request=max_texts_per_request,
                max_text_chars=max_text_chars, max_request_bytes=max_request_bytes, unk_threshold=unk_threshold,
                model_batch_size=model_batch_size)
  handlers = _Handlers(encoder, runner, batcher, stats, limits, max_drain_bytes, show_tokens_to_client, server_info,
                       model_name)

  @contextlib.asynccontextmanager
  async def lifespan(app):
    del app
    await batcher.start()
    yield
    await batcher.stop()

  app = FastAPI(title="bert_tf2 embedding server", lifespan=lifespan)
  app.state.batcher = batcher
  if api_key:  # added before CORS, so CORS is the outer one and answers browsers' preflights itself
    app.add_middleware(openai_api.BearerAuth, api_key=api_key, on_reject=lambda: stats.update(rejected_requests=1))
  if cors:
    from fastapi.middleware.cors import CORSMiddleware  # pylint: disable=g-import-not-at-top
    app.add_middleware(CORSMiddleware, allow_origins=[cors], allow_methods=["GET", "POST"], allow_headers=["*"])
  _add_error_handlers(app, handlers)

  @app.post("/encode")
  async def encode(request: Request):
    return await handlers.encode(request)

  @app.get("/status")
  @app.get("/status/server")
  async def status():
    return handlers.status()

  @app.post("/v1/embeddings")
  async def embeddings(request: Request):
    return await handlers.embeddings(request)

  @app.get("/v1/models")
  async def models():
    return handlers.models()

  if searcher is not None:
    search_handler = search_api.SearchHandler(searcher)

    @app.post("/search")
    async def search(request: Request):
      try:
        parsed = search_api.parse_search_request(await handlers._read_body(request),  # pylint: disable=protected-access
                                                 max_texts_per_request, max_text_chars)
        out = await search_handler.search(*parsed)
      except RequestError as e:
        return handlers.error(e.status, str(e), e.headers)
      except search_api.InvalidSearch as e:
        return handlers.error(e.status, str(e))
      stats.update(search_requests=1, queries=len(parsed[0]))
      return _json_response(out)

  return app


def serve(app, host="0.0.0.0", port=5555, extra_ports=(), sock=None, log_level="warning"):
  """Runs `app` with uvicorn until interrupted, on `port` and `extra_ports` (or on `sock`, from `bind_socket`)."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  sockets = [sock] if sock is not None else [bind_socket(host, p) for p in (port,) + tuple(extra_ports)]
  server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))
  server.run(sockets=sockets)


def bind_socket(host, port):
  """A bound (not yet listening) TCP socket; port 0 picks a free one.

  Made with proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on accepted sockets whose proto
  says TCP. Without it, Nagle held each response's body (uvicorn writes headers and body separately)
  until the client's delayed ACK, ~40 ms later: that was most of a request's time at one client.
  """
  sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock.bind((host, port))
  return sock


@contextlib.contextmanager
def background_server(app, host="127.0.0.1"):
  """Runs `app` in a thread on a free port (tests, benchmarks); yields the port, stops on exit."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  sock = bind_socket(host, 0)
  # log_config=None: uvicorn leaves the process's logging alone (no handlers bound to this moment's stderr)
  server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, log_config=None))
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
