r"""Index scale: build time, query latency p50/p99, memory and recall for faiss and Milvus (Lite) at N vectors.

  PYTHONPATH=. .venv/bin/python benchmarks/index_scale.py --sizes=10000,100000,1000000 --dim=384
  PYTHONPATH=. .venv/bin/python benchmarks/index_scale.py --sizes=2000 --queries=50   # smoke

Synthetic L2-normalized vectors (a clustered Gaussian, seed 0; queries = stored vectors plus noise),
the sizes of a recall library (PaddleNLP's is 300k). Each (backend, size) runs in a fresh process
so that its memory is its own: `build s` (add / upsert with the index built, until searchable),
`p50 / p99 ms` of single-query searches (what a search server sees, k = --k), `q/s` of one
batched call of all queries, `RSS MB` grown by the build (the vectors' own copy excluded), disk
(Milvus Lite's directory) and Recall@k against exact search. Milvus Lite runs in this process
(pure Python over faiss); a Milvus server's figures differ and are measured with --milvus_uri.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["10000", "100000", "1000000"], "Numbers of vectors.")
flags.DEFINE_integer("dim", 384, "Vector width (MiniLM 384, BERT-base 768).")
flags.DEFINE_list("backends", ["faiss_flat", "faiss_hnsw", "milvus_FLAT", "milvus_HNSW", "milvus_IVF_FLAT"],
                  "faiss_flat, faiss_hnsw, milvus_<FLAT|HNSW|IVF_FLAT>.")
flags.DEFINE_integer("queries", 1000, "Queries timed one by one (and once as one batch).")
flags.DEFINE_integer("k", 10, "Results per query.")
flags.DEFINE_string("milvus_uri", None, "A Milvus server instead of Milvus Lite in a temporary directory.")
flags.DEFINE_string("one", None, "Internal: run one backend:size and print its JSON line.")
flags.DEFINE_string("output", None, "Also write the rows (JSON) here.")


def rss_mb():
  with open("/proc/self/status") as f:
    return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def synthetic(n, dim, queries, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=[max(n // 100, 1), dim]).astype(np.float32)
  vectors = centres[rng.integers(len(centres), size=n)]
  vectors += rng.normal(size=[n, dim]).astype(np.float32)
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  picked = rng.choice(n, size=queries, replace=False)
  found = vectors[picked] + 0.5 * rng.normal(size=[queries, dim]).astype(np.float32) / np.sqrt(dim) * 4
  return vectors, (found / np.linalg.norm(found, axis=1, keepdims=True)).astype(np.float32)


def measure(backend, n):
  from bert_tf2.retrieval import index as indexes  # pylint: disable=g-import-not-at-top
  vectors, queries = synthetic(n, FLAGS.dim, FLAGS.queries)
  exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :FLAGS.k]  # (Q, k)
  payloads = [{"text": str(i), "fields": []} for i in range(n)]
  before, directory = rss_mb(), None
  start = time.perf_counter()
  if backend.startswith("faiss_"):
    index = indexes.FaissIndex(vectors, payloads, kind=backend.split("_", 1)[1])
  else:
    from bert_tf2.retrieval import milvus  # pylint: disable=g-import-not-at-top
    directory = tempfile.mkdtemp(prefix="index_scale_")
    index = milvus.MilvusIndex.create(FLAGS.milvus_uri or os.path.join(directory, "milvus.db"), FLAGS.dim,
                                      "scale_%d" % n, backend.split("_", 1)[1], expected_rows=n, overwrite=True)
    index.upsert(np.arange(n), vectors, payloads)
    index.flush()  # as build_index does
    index.search(queries[:1], FLAGS.k)  # searchable: the first search waits for what the build left to do
  build = time.perf_counter() - start
  grown = rss_mb() - before
  latencies = []
  for q in queries:
    start = time.perf_counter()
    index.search(q[None], FLAGS.k)
    latencies.append(1000 * (time.perf_counter() - start))
  start = time.perf_counter()
  _, ids = index.search(queries, FLAGS.k)
  batched = len(queries) / (time.perf_counter() - start)
  recall = float(np.mean([len(set(a) & set(b)) / FLAGS.k for a, b in zip(ids.tolist(), exact.tolist())]))
  disk = None
  if directory:
    disk = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs) / 2 ** 20
    if FLAGS.milvus_uri:
      index.drop()
    index.close()
    shutil.rmtree(directory, ignore_errors=True)
  return {"backend": backend, "n": n, "dim": FLAGS.dim, "build_s": round(build, 2),
          "p50_ms": round(float(np.percentile(latencies, 50)), 2), "p99_ms": round(float(np.percentile(latencies, 99)), 2),
          "batch_qps": round(batched, 1), "rss_grown_mb": round(grown), "peak_rss_mb": round(
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "disk_mb": disk and round(disk),
          "recall_at_k": round(recall, 4), "load": os.getloadavg()[0]}


def main(argv):
  del argv
  if FLAGS.one:
    backend, n = FLAGS.one.split(":")
    print(json.dumps(measure(backend, int(n))), flush=True)
    return
  rows = []
  header = ("| backend | N | dim | build s | p50 ms | p99 ms | batch q/s | RSS grown MB | peak RSS MB | disk MB "
            "| Recall@%d vs exact | load |" % FLAGS.k)
  print(header + "\n" + "|---" * 12 + "|", flush=True)
  for n in [int(s) for s in FLAGS.sizes]:
    for backend in FLAGS.backends:
      args = [sys.executable, os.path.abspath(__file__), "--one=%s:%d" % (backend, n), "--dim=%d" % FLAGS.dim,
              "--queries=%d" % FLAGS.queries, "--k=%d" % FLAGS.k] + (
                  ["--milvus_uri=" + FLAGS.milvus_uri] if FLAGS.milvus_uri else [])
      done = subprocess.run(args, capture_output=True, text=True)
      if done.returncode:
        print("| %s | %d | failed: %s |" % (backend, n, (done.stderr.strip().splitlines() or ["?"])[-1]), flush=True)
        continue
      r = json.loads(done.stdout.strip().splitlines()[-1])
      rows.append(r)
      print("| %s | %d | %d | %.1f | %.2f | %.2f | %.0f | %d | %d | %s | %.3f | %.1f |" % (
          r["backend"], r["n"], r["dim"], r["build_s"], r["p50_ms"], r["p99_ms"], r["batch_qps"], r["rss_grown_mb"],
          r["peak_rss_mb"], "-" if r["disk_mb"] is None else r["disk_mb"], r["recall_at_k"], r["load"]), flush=True)
  if FLAGS.output:
    with open(FLAGS.output, "w") as f:
      json.dump(rows, f, indent=2)


if __name__ == "__main__":
  app.run(main)
