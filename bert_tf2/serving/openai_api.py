"""OpenAI's embeddings API for the embedding server: request parsing, the response and error shapes, the API key.

The routes (wired by `server.create_app`) speak what the `openai` client, LangChain's `OpenAIEmbeddings`
and LlamaIndex's `OpenAIEmbedding` send, as infinity and text-embeddings-inference serve it:

  POST /v1/embeddings  {"model": str, "input": str | [str, ...], "encoding_format": "float" | "base64",
                        "dimensions": int (optional), "user": str (optional, ignored)}
                   ->  {"object": "list", "model": str, "usage": {"prompt_tokens": n, "total_tokens": n},
                        "data": [{"object": "embedding", "index": i, "embedding": [float, ...] | "<base64>"}]}
  GET  /v1/models  ->  {"object": "list", "data": [{"id": str, "object": "model", "created": t, "owned_by": ...}]}

The vectors are the ones /encode returns for the same texts (same batches, pooling, normalization).
"base64" is the little-endian float32 bytes of each vector, what openai>=1 asks for by default and
decodes with `np.frombuffer(..., "float32")`. `prompt_tokens` counts word pieces with [CLS]/[SEP].
Token-id input (lists of ints) is refused: a generic OpenAI client tokenizes with tiktoken, whose ids
mean nothing in this model's WordPiece vocabulary (LangChain: `check_embedding_ctx_length=False`).
`"model"` is not checked (clients send their own default names); the reply names the served model.
Errors on /v1/ routes have OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.

`BearerAuth` is the optional API key (`-api_key`): every route needs `Authorization: Bearer <key>`;
a missing or wrong key gets 401 with a JSON error (OpenAI's shape under /v1/, `{"error": str}` elsewhere).
"""

import base64
import collections
import hmac
import json

import numpy as np

EmbeddingsRequest = collections.namedtuple("EmbeddingsRequest", ["texts", "model", "encoding_format", "dimensions"])
ERROR_TYPES = {401: "invalid_request_error", 404: "invalid_request_error", 405: "invalid_request_error",
               413: "invalid_request_error", 500: "server_error"}
PREFIX = "/v1/"


class InvalidRequest(Exception):
  """A client error on /v1/embeddings: HTTP status, message and the offending parameter (OpenAI's `param`)."""

  def __init__(self, status, message, param=None, code=None):
    super().__init__(message)
    self.status, self.param, self.code = status, param, code


def error_body(status, message, param=None, code=None):
  """OpenAI's error object: {"error": {"message", "type", "param", "code"}}."""
  return {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"), "param": param,
                    "code": code}}


def parse_embeddings_request(body, max_texts_per_request, max_text_chars):
  """Request body bytes -> EmbeddingsRequest, or InvalidRequest (400 bad JSON, 413 over a limit, 422 otherwise)."""
  try:
    payload = json.loads(body)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise InvalidRequest(400, "malformed JSON: %s" % e) from None
  if not isinstance(payload, dict) or "input" not in payload:
    raise InvalidRequest(422, 'expected a JSON object {"model": str, "input": str | [str, ...]}', "input")
  texts = payload["input"]
  texts = [texts] if isinstance(texts, str) else texts
  if not isinstance(texts, list):
    raise InvalidRequest(422, '"input" must be a string or a list of strings, got %s' % type(texts).__name__, "input")
  if not texts:
    raise InvalidRequest(422, '"input" is empty', "input")
  if len(texts) > max_texts_per_request:
    raise InvalidRequest(413, "%d inputs in one request; the limit is %d" % (len(texts), max_texts_per_request),
                         "input")
  for i, text in enumerate(texts):
    if isinstance(text, int) or (isinstance(text, list) and text and all(isinstance(t, int) for t in text)):
      raise InvalidRequest(422, "input[%d] is token ids; this server takes text only (ids from another tokenizer, "
                           "e.g. tiktoken's, mean nothing to this model: LangChain's OpenAIEmbeddings needs "
                           "check_embedding_ctx_length=False)" % i, "input")
    if not isinstance(text, str):
      raise InvalidRequest(422, "input[%d] is %s, not a string" % (i, type(text).__name__), "input")
    if not text:
      raise InvalidRequest(422, "input[%d] is an empty string" % i, "input")
    if len(text) > max_text_chars:
      raise InvalidRequest(413, "input[%d] has %d characters; the limit is %d" % (i, len(text), max_text_chars),
                           "input")
  encoding_format = payload.get("encoding_format") or "float"
  if encoding_format not in ("float", "base64"):
    raise InvalidRequest(422, '"encoding_format" must be "float" or "base64", got %r' % (encoding_format,),
                         "encoding_format")
  dimensions = payload.get("dimensions")
  if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
    raise InvalidRequest(422, '"dimensions" must be a positive integer, got %r' % (dimensions,), "dimensions")
  model = payload.get("model")
  if model is not None and not isinstance(model, str):
    raise InvalidRequest(422, '"model" must be a string', "model")
  return EmbeddingsRequest(texts, model, encoding_format, dimensions)


def embeddings_response(vectors, token_counts, model, request, normalize):
  """float32 [N, D] vectors of `request.texts` -> OpenAI's response dict (InvalidRequest on a bad `dimensions`).

  `dimensions` < D keeps the first `dimensions` values (as infinity's matryoshka option), L2-normalized
  again if the server normalizes, as OpenAI's shortened embeddings are.
  """
  if vectors.ndim != 2:
    raise InvalidRequest(422, "this server returns token vectors (-pooling_strategy NONE), not one vector per "
                         "input: use POST /encode")
  if request.dimensions is not None:
    if request.dimensions > vectors.shape[1]:
      raise InvalidRequest(422, '"dimensions" is %d; this model\'s vectors have %d'
                           % (request.dimensions, vectors.shape[1]), "dimensions")
    if request.dimensions < vectors.shape[1]:
      vectors = vectors[:, :request.dimensions]
      if normalize:
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
  vectors = np.ascontiguousarray(vectors, "<f4")
  if request.encoding_format == "base64":
    embeddings = [base64.b64encode(row.tobytes()).decode("ascii") for row in vectors]
  else:
    embeddings = vectors.tolist()
  tokens = int(sum(token_counts))
  return {"object": "list", "model": model,
          "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(embeddings)],
          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def models_response(model, created):
  """GET /v1/models: the one served model."""
  return {"object": "list", "data": [{"id": model, "object": "model", "created": int(created), "owned_by": "bert_tf2"}]}


class BearerAuth:
  """ASGI middleware: every HTTP request needs `Authorization: Bearer <api_key>`, else 401 (JSON error).

  The key is compared in constant time (`hmac.compare_digest`). CORS preflights (OPTIONS, which
  browsers send without credentials) pass to the CORS middleware outside this one.
  """

  def __init__(self, app, api_key, on_reject=None):
    self.app, self.key = app, api_key.encode("utf-8")
    self.on_reject = on_reject  # called once per rejected request (the server counts it)

  async def __call__(self, scope, receive, send):
    if scope["type"] != "http" or scope["method"] == "OPTIONS":
      return await self.app(scope, receive, send)
    given = dict(scope["headers"]).get(b"authorization")  # ASGI header names are lower case
    if given is not None:
      scheme, _, token = given.partition(b" ")
      if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
        return await self.app(scope, receive, send)
    if self.on_reject is not None:
      self.on_reject()
    message = ("no API key: send the header 'Authorization: Bearer <key>'" if given is None
               else "incorrect API key")
    if scope["path"].startswith(PREFIX):
      content = error_body(401, message, code="invalid_api_key")
    else:
      content = {"error": message}
    body = json.dumps(content).encode("utf-8")
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
