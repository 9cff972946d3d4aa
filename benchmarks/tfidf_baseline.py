r"""TF-IDF character n-gram + logistic regression baseline for a `label\ttext` sentiment split.

  PYTHONPATH=. .venv/bin/python benchmarks/tfidf_baseline.py --data_dir=/work/shared/data/sentiment_zh

Benchmark-only dependency: scikit-learn. Settings are fixed in advance (char 1-3 grams, sublinear
tf, C=1), not tuned on dev. Prints one line: `tfidf_char_ngram_lr dev_accuracy = 0.xxxx`.
"""

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "/work/shared/data/sentiment_zh", "train.tsv and dev.tsv (label\\ttext, header).")
flags.DEFINE_string("eval_split", "dev", "Split to score.")


def read_split(path):
  """[(label, text)] of a `label\\ttext` file with a header row."""
  with open(path, encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t", 1) for line in f][1:]
  return [r[0] for r in rows], [r[1] for r in rows]


def tfidf_accuracy(train, test, ngram_range=(1, 3), c=1.0):
  from sklearn.feature_extraction.text import TfidfVectorizer  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression
  vectorizer = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, sublinear_tf=True, min_df=2)
  x_train = vectorizer.fit_transform(train[1])
  classifier = LogisticRegression(C=c, max_iter=2000).fit(x_train, train[0])
  predicted = classifier.predict(vectorizer.transform(test[1]))
  return sum(p == y for p, y in zip(predicted, test[0])) / len(test[0])


def main(argv):
  del argv
  train = read_split(os.path.join(FLAGS.data_dir, "train.tsv"))
  test = read_split(os.path.join(FLAGS.data_dir, FLAGS.eval_split + ".tsv"))
  print("tfidf_char_ngram_lr %s_accuracy = %.4f (train %d, %s %d)"
        % (FLAGS.eval_split, tfidf_accuracy(train, test), len(train[0]), FLAGS.eval_split, len(test[0])))


if __name__ == "__main__":
  app.run(main)
