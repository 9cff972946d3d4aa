"""A Milvus collection as a `VectorIndex`: Milvus Lite in a local directory, or a Milvus server by URI.

    index = MilvusIndex.create("runs/idx/milvus.db", dimension=256, index_type="HNSW",
                               metadata_fields=["source"])            # or "http://host:19530"
    index.upsert([0, 1], vectors, payloads, [{"source": "a"}, {"source": "b"}])
    scores, ids = index.search(queries, k=10, filter='source == "a"')
    index.delete(filter='source == "b"')                               # or ids=[0]

Collection schema (Milvus' words):
  id        INT64, primary key (a corpus's row number unless given)
  vector    FLOAT_VECTOR(dimension), metric IP (cosine: the vectors are L2-normalized)
  payload   JSON: what search.py prints ({"text": ..., "fields": [...]})
  <name>    VARCHAR, one per `metadata_fields` name; other keys of a row's metadata go to Milvus'
            dynamic field. Filters name either (`source == "x"`, `year > 2020`).
Index types and their parameters (`INDEX_PARAMS`, `SEARCH_PARAMS`; the README's recommended
settings, recall within 1 point of FLAT in tests/test_milvus_index.py): FLAT exact; HNSW M 32,
efConstruction 200, ef max(128, k); IVF_FLAT nlist ~4 sqrt(N), nprobe 128 (nprobe 64 was 1.2 points
below exact on the test's 20,000 vectors). `flush` after a bulk load seals the rows into segments that
the index covers (until then Milvus searches them by brute force, which is exact but slow).
Milvus Lite (`*.db` path) runs inside this process and locks its directory: one process at a time.
"""

import json
import logging
import math
import os

import numpy as np

from bert_tf2.retrieval.index import META_FILE, VectorIndex, pad_hits, write_file

INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT")
SEARCH_PARAMS = {"FLAT": {}, "HNSW": {"ef": 128}, "IVF_FLAT": {"nprobe": 128}}
DEFAULT_COLLECTION = "bert_tf2"
LITE_FILE = "milvus.db"
_ROWS_PER_CALL = 2000  # rows per insert / get, queries per search: well under gRPC's 64 MB message


def index_params(index_type, expected_rows=0):
  """Build parameters of `index_type` for about `expected_rows` vectors."""
  if index_type == "HNSW":
    return {"M": 32, "efConstruction": 200}
  if index_type == "IVF_FLAT":
    return {"nlist": int(min(4096, max(16, 4 * math.sqrt(max(expected_rows, 1)))))}
  return {}


def _error(e):
  """A pymilvus exception -> its message, without the exception's class and code wrapping."""
  return getattr(e, "message", None) or str(e)


def connect(uri, timeout=10.0):
  """A `MilvusClient` for `uri` (a `*.db` path: Milvus Lite; else a server); ValueError naming the URI."""
  from pymilvus import MilvusClient  # pylint: disable=g-import-not-at-top
  from pymilvus.exceptions import MilvusException  # pylint: disable=g-import-not-at-top
  # Their errors come back here as one-line ValueErrors; their tracebacks and INFO lines would repeat them.
  logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
  logging.getLogger("milvus_lite").setLevel(logging.WARNING)
  if uri.endswith(".db"):  # Milvus Lite's in-process gRPC server logs the RPCs it lacks (AllocTimestamp) as errors
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
  if uri.endswith(".db") and not os.path.isdir(os.path.dirname(os.path.abspath(uri))):
    raise ValueError("milvus_uri: no such directory for Milvus Lite: %s" % os.path.dirname(os.path.abspath(uri)))
  try:
    return MilvusClient(uri=uri, timeout=timeout)
  except MilvusException as e:
    hint = " (Milvus Lite serves one process at a time: is another one using it?)" if uri.endswith(".db") else ""
    raise ValueError("milvus_uri: cannot connect to %s: %s%s" % (uri, _error(e), hint)) from None


class MilvusIndex(VectorIndex):
  """One Milvus collection (see the module doc); `create` or `from_meta` make one."""

  kind = "milvus"

  def __init__(self, client, uri, collection, index_type, params, dimension, metadata_fields=()):
    self.client, self.uri, self.collection = client, uri, collection
    self.index_type, self.params, self.dimension = index_type, dict(params), dimension
    self.metadata_fields = list(metadata_fields)
    self.created = False  # True when `create` made the collection (a failed build drops it again)

  @classmethod
  def create(cls, uri, dimension, collection=DEFAULT_COLLECTION, index_type="FLAT", metadata_fields=(),
             expected_rows=0, overwrite=False, timeout=10.0):
    """Connects and makes the collection; an existing one of the same dimension is kept (rows are
    upserted into it) unless `overwrite`, one of another dimension is a ValueError (left as it is)."""
    if index_type not in INDEX_TYPES:
      raise ValueError("milvus_index must be one of %s, got %r" % ("/".join(INDEX_TYPES), index_type))
    client = connect(uri, timeout)
    if client.has_collection(collection):
      existing = _vector_dimension(client.describe_collection(collection))
      if existing != dimension:
        client.close()
        raise ValueError("milvus_uri: collection %r at %s holds %d-dim vectors, these are %d-dim (another model?)"
                         % (collection, uri, existing, dimension))
      if not overwrite:
        described = client.describe_index(collection, "vector") or {}
        kept = described.get("index_type", index_type)
        params = {k: v for k, v in described.items() if k in index_params(kept, 1)}  # Milvus Lite describes none
        client.load_collection(collection)
        return cls(client, uri, collection, kept, params, dimension, metadata_fields)
      client.drop_collection(collection)
    from pymilvus import DataType, MilvusClient  # pylint: disable=g-import-not-at-top
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("payload", DataType.JSON)
    for name in metadata_fields:
      schema.add_field(name, DataType.VARCHAR, max_length=65535)
    params = index_params(index_type, expected_rows)
    indexes = client.prepare_index_params()
    indexes.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=params)
    client.create_collection(collection, schema=schema, index_params=indexes, consistency_level="Strong")
    index = cls(client, uri, collection, index_type, params, dimension, metadata_fields)
    index.created = True
    return index

  @classmethod
  def from_meta(cls, directory, meta):
    """Opens the collection meta.json names (a Milvus Lite path is relative to `directory`)."""
    uri = meta["milvus_uri"]
    if uri.endswith(".db") and not os.path.isabs(uri):
      uri = os.path.join(directory, uri)
    client = connect(uri)
    if not client.has_collection(meta["collection"]):
      raise ValueError("index_dir: %s names collection %r, which %s does not hold"
                       % (os.path.join(directory, META_FILE), meta["collection"], uri))
    client.load_collection(meta["collection"])
    return cls(client, uri, meta["collection"], meta["milvus_index"], meta.get("index_params", {}),
               meta["dimension"], meta.get("metadata_fields", ()))

  def __len__(self):
    return int(self.client.query(self.collection, output_fields=["count(*)"])[0]["count(*)"])

  def upsert(self, ids, vectors, payloads, metadata=None):
    """Inserts or replaces rows by id: int [N], float [N, D], N payloads, N metadata dicts (or None)."""
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
      raise ValueError("vectors of shape %s for a %d-dim collection" % (vectors.shape, self.dimension))
    if not len(ids) == len(vectors) == len(payloads) or (metadata is not None and len(metadata) != len(ids)):
      raise ValueError("upsert: %d ids, %d vectors, %d payloads" % (len(ids), len(vectors), len(payloads)))
    for start in range(0, len(ids), _ROWS_PER_CALL):
      rows = []
      for row in range(start, min(start + _ROWS_PER_CALL, len(ids))):
        fields = {name: "" for name in self.metadata_fields}
        fields.update(metadata[row] if metadata is not None else {})
        fields.update(id=int(ids[row]), vector=vectors[row].tolist(), payload=payloads[row])
        rows.append(fields)
      self._call(self.client.upsert, self.collection, rows)

  def flush(self):
    """Seals what was inserted into indexed segments (build_index calls it after a bulk load)."""
    self._call(self.client.flush, self.collection)

  def delete(self, ids=None, filter=None):  # pylint: disable=redefined-builtin
    """Deletes rows by id or by a filter expression."""
    if (ids is None) == (filter is None):
      raise ValueError("delete takes ids or a filter")
    if ids is not None:
      self._call(self.client.delete, self.collection, ids=[int(i) for i in ids])
    else:
      self._call(self.client.delete, self.collection, filter=filter)

  def search(self, queries, k=10, filter=None):  # pylint: disable=redefined-builtin
    queries = np.atleast_2d(np.asarray(queries, np.float32))
    params = dict(SEARCH_PARAMS[self.index_type])
    if "ef" in params:
      params["ef"] = max(params["ef"], k)
    rows = []
    for start in range(0, len(queries), _ROWS_PER_CALL):
      found = self._call(self.client.search, self.collection, data=queries[start:start + _ROWS_PER_CALL].tolist(),
                         limit=k, output_fields=[], anns_field="vector", **({"filter": filter} if filter else {}),
                         search_params={"metric_type": "IP", "params": params})
      rows += [[(hit["distance"], hit["id"]) for hit in hits] for hits in found]
    return pad_hits(rows, k)

  def get_payloads(self, ids):
    ids = [int(i) for i in ids]
    found = {}
    for start in range(0, len(ids), _ROWS_PER_CALL):
      for row in self._call(self.client.get, self.collection, ids=ids[start:start + _ROWS_PER_CALL],
                            output_fields=["payload"]):
        found[row["id"]] = row["payload"]
    return [found[i] for i in ids]

  def save(self, directory, meta=None):
    """Writes meta.json: the URI (relative when Milvus Lite lives in `directory`), collection, index."""
    os.makedirs(directory, exist_ok=True)
    uri = self.uri
    if uri.endswith(".db") and os.path.dirname(os.path.abspath(uri)) == os.path.abspath(directory):
      uri = os.path.basename(uri)
    meta = dict(meta or {}, kind=self.kind, milvus_uri=uri, collection=self.collection, milvus_index=self.index_type,
                index_params=self.params, dimension=self.dimension, metadata_fields=self.metadata_fields,
                size=len(self))
    write_file(os.path.join(directory, META_FILE), json.dumps(meta, indent=2, ensure_ascii=False).encode("utf-8"))

  def drop(self):
    """Drops the collection (what a failed build does with one it created)."""
    self.client.drop_collection(self.collection)

  def close(self):
    if self.client is None:
      return
    self.client.close()
    self.client = None
    if self.uri.endswith(".db"):  # Milvus Lite: stop its in-process server, which holds the directory's lock
      from milvus_lite.server_manager import server_manager_instance  # pylint: disable=g-import-not-at-top
      server_manager_instance.release_server(self.uri)

  def _call(self, method, *args, **kwargs):
    """A client call; Milvus' errors (a bad filter, a closed server) become one-line ValueErrors."""
    from pymilvus.exceptions import MilvusException  # pylint: disable=g-import-not-at-top
    try:
      return method(*args, **kwargs)
    except MilvusException as e:
      where = "filter %r" % kwargs["filter"] if kwargs.get("filter") else "collection %r" % self.collection
      raise ValueError("milvus (%s at %s): %s" % (where, self.uri, _error(e))) from None


def _vector_dimension(description):
  for field in description["fields"]:
    if field["name"] == "vector":
      return int(field["params"]["dim"])
  raise ValueError("collection %r has no 'vector' field" % description.get("collection_name"))
