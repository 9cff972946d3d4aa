"""POST /search: the server answers from a `build_index` directory (faiss or Milvus) given by -index_dir.

    bert-serving-start -model_dir $MODEL -index_dir runs/idx
    curl localhost:5555/search -d '{"queries": ["医疗保险怎么缴纳"], "top_k": 5, "filter": "source == \\"faq\\""}'
    -> {"results": [[{"rank": 1, "score": 0.93, "text": "...", "fields": ["answer", "faq"]}, ...]]}

`queries` (or `query`) is a string or a list of them; `top_k` 1..1000 (default 10); `filter` a Milvus
boolean expression over the collection's metadata fields (Milvus indexes only). The index's own
encoder (recorded in its meta.json, as `scripts/search.py` loads it) embeds the queries, so they meet
the vectors that were indexed whatever -model_dir serves on /encode. Searches run one at a time in a
worker thread: Milvus Lite serves one client, and the event loop keeps answering /encode meanwhile.
"""

import asyncio
import json

MAX_TOP_K = 1000


class InvalidSearch(ValueError):
  """A client error: HTTP status and message."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status


def parse_search_request(body, max_queries, max_text_chars):
  """Request body bytes -> (queries, top_k, filter), or InvalidSearch(status, message)."""
  try:
    request = json.loads(body)
  except (ValueError, UnicodeDecodeError) as e:
    raise InvalidSearch(400, "malformed JSON: %s" % e) from None
  if not isinstance(request, dict):
    raise InvalidSearch(400, "the body must be a JSON object")
  queries = request.get("queries", request.get("query"))
  if isinstance(queries, str):
    queries = [queries]
  if not (isinstance(queries, list) and queries and all(isinstance(q, str) and q.strip() for q in queries)):
    raise InvalidSearch(422, '"queries" must be a non-empty string or a list of non-empty strings')
  if len(queries) > max_queries:
    raise InvalidSearch(413, "%d queries in one request; the limit is %d" % (len(queries), max_queries))
  if any(len(q) > max_text_chars for q in queries):
    raise InvalidSearch(413, "a query is longer than %d characters" % max_text_chars)
  top_k = request.get("top_k", 10)
  if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
    raise InvalidSearch(422, '"top_k" must be an integer in 1..%d' % MAX_TOP_K)
  expression = request.get("filter")
  if expression is not None and not isinstance(expression, str):
    raise InvalidSearch(422, '"filter" must be a string (a Milvus boolean expression)')
  return queries, top_k, expression or None


class SearchHandler:
  """Runs `searcher.search` for parsed requests, one at a time, off the event loop."""

  def __init__(self, searcher):
    self.searcher = searcher
    self.lock = asyncio.Lock()

  async def search(self, queries, top_k, expression):
    """-> {"results": per query [{"rank", "score", **payload}]}; a refused filter -> InvalidSearch(400)."""
    async with self.lock:
      try:
        found = await asyncio.to_thread(self.searcher.search, queries, top_k, expression)
      except ValueError as e:  # faiss refuses filters; a Milvus expression it cannot parse (below)
        raise InvalidSearch(400, str(e)) from None
      except Exception as e:  # pylint: disable=broad-except
        if type(e).__module__.startswith("pymilvus"):  # MilvusException: a bad filter expression
          raise InvalidSearch(400, "filter %r: %s" % (expression, getattr(e, "message", e))) from None
        raise
    return {"results": [[dict(rank=rank, score=score, **payload) for rank, (score, payload) in enumerate(hits, 1)]
                        for hits in found]}
