"""Prints the test table of benchmarks/ner_zh.sh (to stderr) and the name of the best run on dev (stdout).

  PYTHONPATH=. .venv/bin/python benchmarks/ner_zh_summary.py --out=runs/ner_zh

Reads each run's test_results.txt (and eval_results.txt: dev, which alone picks the best model).
"""

import os
import sys

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "runs/ner_zh", "The benchmark's output directory.")

RUNS = [("crf_baseline", "CRF, character n-grams (python-crfsuite)"),
        ("bert_random", "BERT-tiny, random init, softmax"),
        ("bert_random_crf", "BERT-tiny, random init, CRF"),
        ("bert_pretrained", "BERT-tiny, People's Daily pretrained, softmax"),
        ("bert_pretrained_crf", "BERT-tiny, People's Daily pretrained, CRF"),
        ("bert_random_crf_e10", "BERT-tiny, random init, CRF, 10 epochs"),
        ("bert_pretrained_crf_e10", "BERT-tiny, People's Daily pretrained, CRF, 10 epochs")]


def read_results(path):
  values = {}
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      for line in f:
        key, _, value = line.partition(" = ")
        values[key.strip()] = float(value)
  return values


def main(argv):
  del argv
  rows, best, best_dev = [], None, -1.0
  for name, title in RUNS:
    test = read_results(os.path.join(FLAGS.out, name, "test_results.txt"))
    if not test:
      continue
    dev = read_results(os.path.join(FLAGS.out, name, "eval_results.txt"))
    rows.append("%-48s %6.2f %6.2f %6.2f %6.2f %6.2f %6.2f %s" % (
        title, 100 * test["test_f1"], 100 * test["test_precision"], 100 * test["test_recall"],
        100 * test.get("test_PER_f1", 0), 100 * test.get("test_LOC_f1", 0), 100 * test.get("test_ORG_f1", 0),
        "%6.2f" % (100 * dev["eval_f1"]) if dev else "     -"))
    if dev and name != "crf_baseline" and dev["eval_f1"] > best_dev:
      best, best_dev = name, dev["eval_f1"]
  header = "%-48s %6s %6s %6s %6s %6s %6s %6s" % ("test (2,185 sentences)", "F1", "P", "R", "PER", "LOC", "ORG",
                                                  "dev F1")
  print("\n".join([header] + rows), file=sys.stderr)
  if best is None:
    sys.exit("no BERT run has eval_results.txt in %s" % FLAGS.out)
  print(best)


if __name__ == "__main__":
  app.run(main)
