"""One search interface over two backends: faiss in this process's memory, Milvus as a database.

    index = FaissIndex(vectors, payloads, kind="hnsw")                   # or MilvusIndex.create(uri, dim)
    scores, ids = index.search(query_vectors, k=10)                       # float32 [Q, k], int64 [Q, k]
    index.get_payloads(ids[0])                                            # [{"text": ..., "fields": [...]}]
    index.save("runs/idx", meta)                                          # meta.json says which backend
    index, meta = searcher.load_index("runs/idx")                         # FaissIndex or MilvusIndex

Ids are int64: a corpus's row numbers (0, 1, ... over its non-blank lines) unless given. Scores are
inner products, cosines for the L2-normalized vectors the retrieval tools write. A row with fewer
than k hits (a filter, a small index) is padded with id -1 and score -inf. `filter` is a Milvus
boolean expression over the metadata fields (`source == "x" and year > 2020`); faiss has no
metadata, so it refuses one. Milvus also updates in place (`upsert`, `delete`); a faiss index is
rebuilt (`scripts/build_index.py`).
"""

import abc
import json
import os

import numpy as np
from absl import logging

META_FILE = "meta.json"


def read_meta(directory):
  """The meta.json of an index directory (ValueError when there is none)."""
  path = os.path.join(directory, META_FILE)
  if not os.path.isfile(path):
    raise ValueError("index_dir: no index (%s) in %s" % (META_FILE, directory))
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def write_file(path, data):
  """Writes bytes under a temporary name, then renames: a reader never sees half a file."""
  tmp = "%s.tmp-%d" % (path, os.getpid())
  with open(tmp, "wb") as f:
    f.write(data)
  os.replace(tmp, path)


def pad_hits(rows, k):
  """[[(score, id)]] (best first, up to k each) -> (float32 [Q, k], int64 [Q, k]), padded -inf / -1."""
  scores = np.full([len(rows), k], -np.inf, np.float32)
  ids = np.full([len(rows), k], -1, np.int64)
  for r, hits in enumerate(rows):
    for c, (score, i) in enumerate(hits[:k]):
      scores[r, c], ids[r, c] = score, i
  return scores, ids


class VectorIndex(abc.ABC):
  """The interface both backends keep; `searcher.load_index(directory)` opens either (meta.json's "kind")."""

  kind = None  # "flat" / "hnsw" (faiss) or "milvus"

  @abc.abstractmethod
  def __len__(self):
    """Number of vectors."""

  @abc.abstractmethod
  def search(self, queries, k=10, filter=None):  # pylint: disable=redefined-builtin
    """float [Q, D] -> (scores float32 [Q, k], ids int64 [Q, k]), best first; see the module doc."""

  @abc.abstractmethod
  def get_payloads(self, ids):
    """[id] -> [payload], in the same order (KeyError naming an id that is not there)."""

  @abc.abstractmethod
  def save(self, directory, meta=None):
    """Writes meta.json (with `meta`: the encoder that made the vectors) and what the backend keeps locally."""

  def upsert(self, ids, vectors, payloads, metadata=None):
    raise ValueError("a %s index is rebuilt, not updated: build it again or use --index_type=milvus" % self.kind)

  def delete(self, ids=None, filter=None):  # pylint: disable=redefined-builtin
    raise ValueError("a %s index is rebuilt, not updated: build it again or use --index_type=milvus" % self.kind)

  def close(self):
    """Releases what the index holds (Milvus: the connection, and Milvus Lite's lock on its files)."""


class FaissIndex(VectorIndex):
  """Inner-product search in memory (cosine when the vectors are normalized).

  kind "flat": exact (faiss IndexFlatIP, or numpy when faiss is not installed); "hnsw": approximate
  (faiss IndexHNSWFlat, M = `hnsw_m`, efSearch 128; exact numpy without faiss). `payloads` are
  kept beside (texts); `ids` default to the row numbers.
  """

  def __init__(self, vectors, payloads=None, kind="flat", hnsw_m=32, ids=None):
    self.vectors = np.ascontiguousarray(vectors, np.float32)
    self.payloads = list(payloads) if payloads is not None else list(range(len(self.vectors)))
    if len(self.payloads) != len(self.vectors):
      raise ValueError("%d payloads for %d vectors" % (len(self.payloads), len(self.vectors)))
    if kind not in ("flat", "hnsw"):
      raise ValueError("kind must be 'flat' or 'hnsw', got %r" % (kind,))
    self.ids = None if ids is None else np.asarray(ids, np.int64)
    if self.ids is not None and len(self.ids) != len(self.vectors):
      raise ValueError("%d ids for %d vectors" % (len(self.ids), len(self.vectors)))
    self._rows = None if self.ids is None else {int(i): r for r, i in enumerate(self.ids)}
    self.kind, self.hnsw_m = kind, hnsw_m
    self.faiss_index = None
    try:
      import faiss  # pylint: disable=g-import-not-at-top
    except ImportError:
      logging.warning("faiss is not installed: exact numpy search")
      return
    dim = self.vectors.shape[1]
    if kind == "hnsw":
      self.faiss_index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
      self.faiss_index.hnsw.efSearch = 128
    else:
      self.faiss_index = faiss.IndexFlatIP(dim)
    self.faiss_index.add(self.vectors)

  def __len__(self):
    return len(self.vectors)

  def search(self, queries, k=10, filter=None):  # pylint: disable=redefined-builtin
    """float [Q, D] -> (scores float32 [Q, k'], ids int64 [Q, k']), best first, k' = min(k, len)."""
    if filter:
      raise ValueError("filter: a faiss index has no metadata fields; build the index with --index_type=milvus")
    queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
    k = min(k, len(self.vectors))
    if self.faiss_index is not None:
      scores, rows = self.faiss_index.search(queries, k)
    else:
      scores = queries @ self.vectors.T  # (Q, N)
      top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
      top_scores = np.take_along_axis(scores, top, axis=1)
      order = np.argsort(-top_scores, axis=1, kind="stable")
      scores, rows = np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)
    rows = rows.astype(np.int64)
    if self.ids is None:
      return scores, rows
    return scores, np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1)

  def get_payloads(self, ids):
    return [self.payloads[int(i) if self._rows is None else self._rows[int(i)]] for i in ids]

  def save(self, directory, meta=None):
    """Writes vectors.npy, payloads.jsonl, ids.npy (ids given) and meta.json (plus `meta`) into `directory`."""
    os.makedirs(directory, exist_ok=True)
    files = [("vectors.npy", self.vectors),
             ("payloads.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in self.payloads).encode("utf-8"))]
    if self.ids is not None:
      files.append(("ids.npy", self.ids))
    for name, data in files:
      if isinstance(data, np.ndarray):
        tmp = os.path.join(directory, name + ".tmp-%d" % os.getpid())
        with open(tmp, "wb") as f:
          np.save(f, data)
        os.replace(tmp, os.path.join(directory, name))
      else:
        write_file(os.path.join(directory, name), data)
    meta = dict(meta or {}, kind=self.kind, hnsw_m=self.hnsw_m, size=len(self))
    write_file(os.path.join(directory, META_FILE), json.dumps(meta, indent=2, ensure_ascii=False).encode("utf-8"))

  @classmethod
  def from_meta(cls, directory, meta):
    with open(os.path.join(directory, "payloads.jsonl"), encoding="utf-8") as f:
      payloads = [json.loads(line) for line in f]
    ids_file = os.path.join(directory, "ids.npy")
    return cls(np.load(os.path.join(directory, "vectors.npy")), payloads, meta["kind"], meta["hnsw_m"],
               ids=np.load(ids_file) if os.path.exists(ids_file) else None)

  @classmethod
  def load(cls, directory):
    """Returns (FaissIndex, meta dict) from `save`'s directory (the faiss index is rebuilt)."""
    meta = read_meta(directory)
    return cls.from_meta(directory, meta), meta
