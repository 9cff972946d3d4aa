"""Milvus (Lite) as a VectorIndex: FLAT = faiss flat, HNSW/IVF near exact, upsert/delete/filter, reopening, bad input.

One Milvus Lite database serves the module (its start-up costs seconds); each test uses its own collection.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the 'retrieval' extra: pip install -e '.[retrieval]'")
faiss = pytest.importorskip("faiss")

from bert_tf2.retrieval import index as indexes  # noqa: E402
from bert_tf2.retrieval import milvus  # noqa: E402
from bert_tf2.retrieval.model import recall_at_k  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KS = (1, 5, 10, 20, 50)


def clustered(n, dim, seed, queries=100, noise=0.6):
  """Normalized vectors around shared centres, and queries near some of them (gold = that row)."""
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=[max(n // 50, 1), dim])
  vectors = centres[rng.integers(len(centres), size=n)] + rng.normal(size=[n, dim])
  gold = rng.choice(n, size=queries, replace=False)
  found = vectors[gold] + noise * rng.normal(size=[queries, dim])
  norm = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
  return norm(vectors), norm(found), gold


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
  """The module's Milvus Lite database path (its server stops when the module is done)."""
  path = str(tmp_path_factory.mktemp("milvus") / "milvus.db")
  yield path
  from milvus_lite.server_manager import server_manager_instance  # pylint: disable=g-import-not-at-top
  server_manager_instance.release_server(path)


def _filled(uri, name, vectors, index_type="FLAT", metadata=None, fields=()):
  index = milvus.MilvusIndex.create(uri, vectors.shape[1], name, index_type, fields, expected_rows=len(vectors))
  index.upsert(np.arange(len(vectors)), vectors, [{"text": "doc%d" % i, "fields": []} for i in range(len(vectors))],
               metadata)
  index.flush()  # as build_index does: the rows in segments the index covers
  return index


def test_flat_recall_equals_faiss_flat_exactly(lite):
  vectors, queries, gold = clustered(2000, 32, seed=0, noise=1.5)
  index = _filled(lite, "flat", vectors)
  _, ids = index.search(queries, max(KS))
  _, faiss_ids = indexes.FaissIndex(vectors).search(queries, max(KS))
  assert recall_at_k(ids, gold, KS) == recall_at_k(faiss_ids, gold, KS)
  assert 0.2 < recall_at_k(ids, gold, KS)[1] < 1.0  # a test that can tell them apart
  assert (ids == faiss_ids).mean() > 0.99  # the same rankings, up to ties


def test_upsert_delete_and_filter_without_rebuild(lite):
  vectors, _, _ = clustered(200, 16, seed=1)
  index = _filled(lite, "crud", vectors, metadata=[{"source": "ab"[i % 2]} for i in range(200)], fields=["source"])
  assert len(index) == 200
  _, ids = index.search(vectors[:5], 10, filter='source == "a"')
  assert (ids % 2 == 0).all()  # even rows are "a"
  index.upsert([0, 200], vectors[[1, 2]], [{"text": "new0", "fields": []}, {"text": "new200", "fields": []}],
               [{"source": "c", "year": 2024}, {"source": "c", "year": 2020}])
  assert len(index) == 201 and index.get_payloads([0, 200])[0]["text"] == "new0"
  _, ids = index.search(vectors[1:2], 5, filter='source == "c" and year > 2021')  # a dynamic field too
  assert ids[0].tolist() == [0, -1, -1, -1, -1]
  index.delete(ids=[1, 3])
  index.delete(filter='source == "c"')
  assert len(index) == 197
  _, ids = index.search(vectors[:4], 3)
  assert not {0, 1, 3, 200} & set(ids.ravel().tolist())
  with pytest.raises(ValueError, match="filter 'nonsense ==' at .*milvus.db"):
    index.search(vectors[:1], 3, filter="nonsense ==")


def test_dimension_mismatch_is_refused_and_the_collection_kept(lite):
  vectors, _, _ = clustered(100, 16, seed=2)
  _filled(lite, "dims", vectors)
  with pytest.raises(ValueError, match=r"collection 'dims' at .*milvus.db holds 16-dim vectors, these are 24-dim"):
    milvus.MilvusIndex.create(lite, 24, "dims")
  assert len(milvus.MilvusIndex.create(lite, 16, "dims")) == 100  # same dimension: kept, rows upserted into it


def test_unreachable_uri_is_one_line_naming_it():
  with pytest.raises(ValueError, match=r"^milvus_uri: cannot connect to http://127.0.0.1:9: .*unavailable"):
    milvus.connect("http://127.0.0.1:9", timeout=2)


def test_faiss_index_refuses_filters_and_updates():
  index = indexes.FaissIndex(np.eye(3, dtype=np.float32))
  with pytest.raises(ValueError, match="no metadata fields.*--index_type=milvus"):
    index.search(np.eye(3), 1, filter='source == "x"')
  with pytest.raises(ValueError, match="rebuilt, not updated"):
    index.delete(ids=[0])


@pytest.mark.slow
def test_reopened_in_a_fresh_process_gives_the_same_results(tmp_path):
  vectors, queries, _ = clustered(500, 16, seed=3)
  index = _filled(str(tmp_path / "milvus.db"), "bert_tf2", vectors, "HNSW")
  scores, ids = index.search(queries, 10)
  index.save(str(tmp_path), {"model": "m"})
  index.close()  # Milvus Lite: one process at a time
  np.save(tmp_path / "queries.npy", queries)
  code = ("import json, sys, numpy as np; from bert_tf2.retrieval.searcher import load_index\n"
          "index, meta = load_index(sys.argv[1]); s, i = index.search(np.load(sys.argv[2]), 10)\n"
          "print(json.dumps([len(index), meta['milvus_index'], s.tolist(), i.tolist()]))")
  done = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "queries.npy")], cwd=ROOT,
                        capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
  assert done.returncode == 0, done.stderr[-2000:]
  size, kind, fresh_scores, fresh_ids = json.loads(done.stdout.splitlines()[-1])
  assert size == 500 and kind == "HNSW" and fresh_ids == ids.tolist()
  np.testing.assert_allclose(fresh_scores, scores, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("index_type", ["HNSW", "IVF_FLAT"])
def test_approximate_recall_within_one_point_of_exact(lite, index_type):
  """At the module's (the README's) settings: HNSW M 32 / efConstruction 200 / ef 128, IVF nlist 4 sqrt(N) / nprobe 128."""
  vectors, queries, gold = clustered(20000, 64, seed=4, queries=1000, noise=2.5)  # exact R@1 ~0.53
  exact = recall_at_k(indexes.FaissIndex(vectors).search(queries, max(KS))[1], gold, KS)
  index = _filled(lite, index_type.lower(), vectors, index_type)
  assert index.client.describe_index(index.collection, "vector")["indexed_rows"] == 20000  # the index is used
  approximate = recall_at_k(index.search(queries, max(KS))[1], gold, KS)
  print(index_type, "exact", exact, "approximate", approximate)
  assert all(exact[k] - approximate[k] <= 0.01 for k in KS), (exact, approximate)
