"""`BertClient`: bert-as-service's client, over HTTP to `bert-tf2-serving-start`.

    from bert_tf2.serving import BertClient        # or, as bert-as-service users write it:
    from bert_serving.client import BertClient     # (a shim package shipped with bert_tf2)

    with BertClient(ip="localhost", port=5555, port_out=5556, timeout=10000) as bc:
      bc.encode(["First do it", "then do it right"])                      # float32 np.ndarray [2, D]
      bc.encode([["First", "do", "it"]], is_tokenized=True)             # pieces given, not re-tokenized
      vectors, tokens = bc.encode(["hey you"], show_tokens=True)        # [["[CLS]", "hey", "you", "[SEP]"]]

The constructor and `encode`/`fetch`/`fetch_all`/`encode_async`/`server_status`/`status`/`close`
take bert-as-service's arguments with its meanings, except that the transport is HTTP (one JSON
request per `encode`) instead of two ZeroMQ sockets: `port` is the server's HTTP port and
**`port_out` is accepted and ignored**. `timeout` is in milliseconds (-1: wait forever), as there.
Only numpy and the standard library are imported: the client needs no TensorFlow.
Texts are sent as UTF-8 JSON (`ensure_ascii=False`); vectors come back as base64 float32 bytes.
"""

import base64
import collections
import concurrent.futures
import http.client
import importlib.metadata
import json
import os
import threading
import uuid
import warnings

import numpy as np

try:
  __version__ = importlib.metadata.version("bert_tf2")
except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path
  __version__ = "0.1.0"

Response = collections.namedtuple("Response", ["id", "embedding", "tokens"])


class BertClientError(Exception):
  """The server answered with an error status (its JSON `error` message is kept)."""

  def __init__(self, status, message):
    super().__init__("HTTP %d: %s" % (status, message))
    self.status, self.message = status, message


class BertClient:
  """A client of the embedding server; thread-safe (one kept-alive HTTP connection per thread).

  Args (bert-as-service's):
    ip: str, server host.
    port: int, the server's HTTP port (`-port`, or `-http_port`).
    port_out: int, ignored over HTTP (bert-as-service's result socket); kept so its calls work.
    output_fmt: "ndarray" (float32 np.ndarray) or "list" (nested Python lists).
    show_server_config: print the server's configuration when connecting.
    identity: str, this client's id (default: a random UUID), sent as header X-Client-Identity.
    check_version: raise AttributeError if the server's version differs from the client's.
    check_length: warn when a text has more whitespace words than the server's max_seq_len.
    check_token_info: ask whether the server returns tokens (`-show_tokens_to_client`).
    ignore_all_checks: contact the server only on the first `encode` (server may still be starting).
    timeout: int, milliseconds to wait for a response; -1 waits forever. Expiry raises TimeoutError.
    api_key: str, [ours] the server's `-api_key`, sent as `Authorization: Bearer <key>` (default:
      $BERT_TF2_API_KEY if set); a missing or wrong key raises BertClientError (HTTP 401).
  """

  def __init__(self, ip="localhost", port=5555, port_out=5556, output_fmt="ndarray", show_server_config=False,
               identity=None, check_version=True, check_length=True, check_token_info=True, ignore_all_checks=False,
               timeout=-1, api_key=None):
    if output_fmt not in ("ndarray", "list"):
      raise AttributeError('"output_fmt" must be "ndarray" or "list"')
    self.ip, self.port, self.port_out, self.output_fmt = ip, port, port_out, output_fmt
    self.identity = str(identity or uuid.uuid4())
    self.timeout = timeout
    self.api_key = api_key if api_key is not None else os.environ.get("BERT_TF2_API_KEY") or None
    self.length_limit = 0
    self.token_info_available = False
    self.request_id = 0
    self._local = threading.local()
    self._connections = []  # every thread's connection, for close()
    self._lock = threading.Lock()
    self._pending = {}  # request id -> Future, for encode(blocking=False)
    self._executor = None
    if not ignore_all_checks and (check_version or show_server_config or check_length or check_token_info):
      server = self.server_status
      if check_version and server.get("server_version") != __version__:
        raise AttributeError('version mismatch! server version is %s but client version is %s; use the same '
                             'bert_tf2 on both sides, or BertClient(check_version=False)'
                             % (server.get("server_version"), __version__))
      if check_length:
        self.length_limit = server.get("max_seq_len")
      if check_token_info:
        self.token_info_available = bool(server.get("show_tokens_to_client"))
      if show_server_config:
        print("server config:")
        for key, value in server.items():
          print("%30s\t=\t%-30s" % (key, value))

  # --- transport ---------------------------------------------------------------------------------
  def _connection(self):
    connection = getattr(self._local, "connection", None)
    if connection is None:
      timeout = None if self.timeout is None or self.timeout < 0 else self.timeout / 1000.0
      connection = http.client.HTTPConnection(self.ip, self.port, timeout=timeout)
      self._local.connection = connection
      with self._lock:
        self._connections.append(connection)
    return connection

  def _drop_connection(self):
    connection = getattr(self._local, "connection", None)
    if connection is not None:
      connection.close()
      self._local.connection = None

  def _request(self, method, path, payload=None):
    body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"X-Client-Identity": self.identity}
    if self.api_key:
      headers["Authorization"] = "Bearer " + self.api_key
    if body is not None:
      headers["Content-Type"] = "application/json; charset=utf-8"
    for attempt in (0, 1):  # reconnect once if the kept-alive connection was closed by the server
      connection = self._connection()
      try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        break
      except TimeoutError:
        self._drop_connection()
        raise TimeoutError('no response from the server within "timeout"=%d ms: is the server at %s:%d up? are '
                           "you encoding a lot of data with a small timeout?" % (self.timeout, self.ip, self.port)
                           ) from None
      except (ConnectionError, http.client.HTTPException):
        self._drop_connection()
        if attempt:
          raise
    try:
      result = json.loads(data)
    except ValueError:
      result = {"error": data.decode("utf-8", "replace")[:500]}
    if response.status != 200:
      raise BertClientError(response.status, result.get("error", str(result)) if isinstance(result, dict) else result)
    return result

  # --- bert-as-service's API ---------------------------------------------------------------------
  @property
  def server_status(self):
    """The server's configuration and counters (GET /status), a dict."""
    return self._request("GET", "/status")

  @property
  def status(self):
    """This client's state, a dict (bert-as-service's keys)."""
    return {"identity": self.identity, "num_request": self.request_id, "num_pending_request": len(self._pending),
            "pending_request": set(self._pending), "output_fmt": self.output_fmt, "port": self.port,
            "port_out": self.port_out, "server_ip": self.ip, "client_version": __version__, "timeout": self.timeout}

  def encode(self, texts, blocking=True, is_tokenized=False, show_tokens=False):
    """Embeds `texts`: a list of str, or with `is_tokenized` a list of lists of word pieces.

    Returns float32 np.ndarray [N, D] ([N, T, D] for a NONE-pooling server), or nested lists for
    output_fmt="list"; with `show_tokens` (and a server started with -show_tokens_to_client) the
    tuple (vectors, tokens), tokens[i] = ["[CLS]", ..., "[SEP]"]. With blocking=False returns None;
    collect results with `fetch()` / `fetch_all()`.
    """
    _check_input(texts, is_tokenized)
    if self.length_limit is None:
      warnings.warn('the server puts no limit on "max_seq_len"; long texts make every batch slow')
    elif self.length_limit and not all(len(t if is_tokenized else t.split()) <= self.length_limit for t in texts):
      warnings.warn('some texts have more tokens than the server\'s "max_seq_len=%d" and are truncated; '
                    'BertClient(check_length=False) silences this, a server with a larger -max_seq_len avoids it'
                    % self.length_limit)
    with self._lock:
      self.request_id += 1
      request_id = self.request_id
    payload = {"id": request_id, "texts": list(texts), "is_tokenized": bool(is_tokenized),
               "show_tokens": bool(show_tokens), "output": "base64"}
    if not blocking:
      with self._lock:
        if self._executor is None:
          self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="bert-client")
        self._pending[request_id] = self._executor.submit(self._response, payload, show_tokens)
      return None
    response = self._response(payload, show_tokens)
    if show_tokens and not self.token_info_available:
      warnings.warn('"show_tokens=True", but the server does not send tokens: start it with -show_tokens_to_client')
    return (response.embedding, response.tokens) if show_tokens and response.tokens is not None else response.embedding

  def _response(self, payload, show_tokens):
    result = self._request("POST", "/encode", payload)
    vectors = np.frombuffer(base64.b64decode(result["result_base64"]), dtype=result["dtype"]).reshape(result["shape"])
    if self.output_fmt == "list":
      vectors = vectors.tolist()
    tokens = result.get("tokens")
    if show_tokens and tokens is not None:
      self.token_info_available = True
    return Response(payload["id"], vectors, tokens)

  def fetch(self, delay=0.0):
    """Yields Response(id, embedding, tokens) of `encode(blocking=False)` calls as they finish."""
    del delay  # results wait in their futures; nothing to poll
    while self._pending:
      with self._lock:
        futures = dict(self._pending)
      done = next(concurrent.futures.as_completed(futures.values()))
      request_id = next(i for i, f in futures.items() if f is done)
      with self._lock:
        self._pending.pop(request_id)
      yield done.result()

  def fetch_all(self, sort=True, concat=False):
    """All pending results: a list of embeddings (request order if `sort`), or one array if `concat`."""
    if not self._pending:
      return None
    results = list(self.fetch())
    if sort:
      results.sort(key=lambda r: r.id)
    embeddings = [r.embedding for r in results]
    if concat:
      embeddings = (np.concatenate(embeddings, axis=0) if self.output_fmt == "ndarray"
                    else [row for e in embeddings for row in e])
    return embeddings

  def encode_async(self, batch_generator, max_num_batch=None, delay=0.1, **kwargs):
    """Sends every batch of `batch_generator` without waiting; yields Responses as they finish."""
    for count, texts in enumerate(batch_generator, 1):
      self.encode(texts, blocking=False, **kwargs)
      if max_num_batch and count == max_num_batch:
        break
    return self.fetch(delay)

  def close(self):
    """Closes every connection of this client (a `with` block does it on exit)."""
    with self._lock:
      connections, self._connections = self._connections, []
      executor, self._executor = self._executor, None
    for connection in connections:
      connection.close()
    self._local = threading.local()
    if executor is not None:
      executor.shutdown(wait=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class ConcurrentBertClient(BertClient):
  """bert-as-service's thread-safe client. `BertClient` is thread-safe already; `max_concurrency` is
  accepted for compatibility (each thread gets its own connection)."""

  def __init__(self, max_concurrency=10, **kwargs):
    super().__init__(**kwargs)
    self.max_concurrency = max_concurrency


def _check_input(texts, is_tokenized):
  """bert-as-service's checks: a non-empty list of non-blank str (or of such lists when tokenized)."""
  if not isinstance(texts, list):
    raise TypeError('"texts" must be a list, but received %s' % type(texts).__name__)
  if not texts:
    raise ValueError('"texts" must be a non-empty list')
  for i, text in enumerate(texts):
    if is_tokenized:
      if not isinstance(text, list) or not text:
        raise TypeError("with is_tokenized=True every element must be a non-empty list of str; element %d is %r"
                        % (i, text))
      pieces = text
    else:
      pieces = [text]
    for piece in pieces:
      if not isinstance(piece, str):
        raise TypeError("all elements must be str, but element %d holds %s" % (i, type(piece).__name__))
      if not piece.strip():
        raise ValueError("all elements must be non-empty strings, but element %d is %r" % (i, text))
