"""Markdown tables of benchmarks/lr_options_zh.sh's runs: each variant's mean and per-seed scores.

  PYTHONPATH=. .venv/bin/python benchmarks/lr_options_summary.py runs/lr_options

NER: test entity F1 (and dev F1) of `ner/bert_<init>_crf_<variant>_s<seed>/`, one table per init;
sentiment: dev accuracy of `sentiment/<variant>_s<seed>/`.
"""

import glob
import os
import re
import statistics
import sys


def value(path, key):
  """The number after `key = ` in a key = value file, or None."""
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      for line in f:
        name, _, number = line.partition(" = ")
        if name.strip() == key:
          return float(number)
  return None


def table(title, pattern, prefix, columns):
  """Markdown rows: variant | mean of each column (x100) | per-seed values."""
  runs = {}
  for directory in sorted(glob.glob(pattern)):
    match = re.match(re.escape(prefix) + r"(.+)_s(\d+)$", os.path.basename(directory))
    scores = [value(os.path.join(directory, f), k) for _, f, k in columns]
    if match and None not in scores:
      runs.setdefault(match.group(1), []).append((int(match.group(2)), scores))
  lines = ["**%s**" % title, "",
           "| variant | " + " | ".join("mean %s" % c for c, _, _ in columns) + " | per seed (%s) |" % columns[0][0],
           "|---" * (len(columns) + 2) + "|"]
  for name, rows in runs.items():
    means = ["%.1f" % (100 * statistics.mean(v[i] for _, v in rows)) for i in range(len(columns))]
    seeds = ", ".join("%d: %.1f" % (s, 100 * v[0]) for s, v in sorted(rows))
    lines.append("| %s | %s | %s |" % (name, " | ".join(means), seeds))
  return "\n".join(lines) + "\n"


def main(out):
  ner = [("test F1", "test_results.txt", "test_f1"), ("dev F1", "eval_results.txt", "eval_f1")]
  print(table("NER, pretrained BERT-tiny + CRF (entity F1 %)", os.path.join(out, "ner", "bert_pretrained_crf_*"),
              "bert_pretrained_crf_", ner))
  print(table("NER, random-init BERT-tiny + CRF (entity F1 %)", os.path.join(out, "ner", "bert_random_crf_*"),
              "bert_random_crf_", ner))
  print(table("Sentiment, pretrained BERT-tiny (dev accuracy %)", os.path.join(out, "sentiment", "*"), "",
              [("dev acc", "eval_results.txt", "eval_accuracy")]))


if __name__ == "__main__":
  main(sys.argv[1] if len(sys.argv) > 1 else "runs/lr_options")
