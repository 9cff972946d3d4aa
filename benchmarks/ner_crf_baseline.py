r"""A CRF on character n-gram features (python-crfsuite): the classic baseline of Chinese NER.

  PYTHONPATH=. .venv/bin/python benchmarks/ner_crf_baseline.py --data_dir=runs/ner_zh/data/ner \
    --output_dir=runs/ner_zh/crf_baseline --max_train_examples=8000

Features of character i: the characters at offsets -2..2, the bigrams (-2,-1), (-1,0), (0,1), (1,2),
the character class (CJK, digit, Latin, punctuation, other; full-width counted as their class) of
i-1, i, i+1, and sentence start / end. L-BFGS with L1 0.1 and L2 0.01 (crfsuite's usual values),
at most --max_iterations passes. Trains on train.txt (the same seeded subset run_ner.py takes for
the same --max_train_examples and --seed), reports entity P/R/F1 on dev and test with
`bert_tf2.tasks.tagging.metrics` (conlleval counting) and writes test_results.txt and test_predictions.txt.
"""

import os
import random
import sys
import time
import unicodedata

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # noqa: E402
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import metrics as tagging_metrics

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "train.txt, dev.txt, test.txt (CoNLL: character tag).")
flags.DEFINE_string("output_dir", None, "Model file, test_results.txt, test_predictions.txt.")
flags.DEFINE_integer("max_train_examples", None, "Train on a seeded random subset of this many sentences.")
flags.DEFINE_integer("max_iterations", 150, "L-BFGS iterations.")
flags.DEFINE_integer("seed", 12345, "Seeds the subset (as run_ner.py's --seed).")


def char_class(c):
  c = unicodedata.normalize("NFKC", c)[:1] or c
  if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf":
    return "cjk"
  if c.isdigit():
    return "digit"
  if c.isascii() and c.isalpha():
    return "latin"
  if unicodedata.category(c).startswith("P"):
    return "punct"
  return "other"


def sentence_features(chars):
  """[[feature strings] per character] (crfsuite's item format)."""
  padded = ["<s2>", "<s1>"] + list(chars) + ["</s1>", "</s2>"]
  classes = ["<s>"] + [char_class(c) for c in chars] + ["</s>"]
  out = []
  for i in range(len(chars)):
    j = i + 2
    features = ["c%d=%s" % (k, padded[j + k]) for k in (-2, -1, 0, 1, 2)]
    features += ["b%d=%s%s" % (k, padded[j + k], padded[j + k + 1]) for k in (-2, -1, 0, 1)]
    features += ["t%d=%s" % (k, classes[i + 1 + k]) for k in (-1, 0, 1)]
    if i == 0:
      features.append("BOS")
    if i == len(chars) - 1:
      features.append("EOS")
    out.append(features)
  return out


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("data_dir", "output_dir"))
  import pycrfsuite  # pylint: disable=g-import-not-at-top  (the benchmarks extra)
  try:
    processor = tagging_data.get_tagging_processor("conll")
    train = processor.get_train_examples(FLAGS.data_dir)
    dev, test = processor.get_dev_examples(FLAGS.data_dir), processor.get_test_examples(FLAGS.data_dir)
  except ValueError as e:
    cli.fail(str(e))
  if FLAGS.max_train_examples and len(train) > FLAGS.max_train_examples:
    train = random.Random(FLAGS.seed).sample(train, FLAGS.max_train_examples)
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  start = time.time()
  trainer = pycrfsuite.Trainer(verbose=False)
  for example in train:
    trainer.append(sentence_features(example.words), example.tags)
  trainer.set_params({"c1": 0.1, "c2": 0.01, "max_iterations": FLAGS.max_iterations,
                      "feature.possible_transitions": True})
  model_file = os.path.join(FLAGS.output_dir, "crf.model")
  trainer.train(model_file)
  print("crf_baseline: trained on %d sentences in %.0f s" % (len(train), time.time() - start))
  tagger = pycrfsuite.Tagger()
  tagger.open(model_file)
  for name, examples in (("dev", dev), ("test", test)):
    predicted = [tagger.tag(sentence_features(e.words)) for e in examples]
    scores = tagging_metrics.entity_scores([e.tags for e in examples], predicted)
    print("crf_baseline: %s entity F1 %.4f (P %.4f R %.4f), token accuracy %.4f; per type: %s" % (
        name, scores["f1"], scores["precision"], scores["recall"], scores["token_accuracy"],
        ", ".join("%s %.4f" % (k, v["f1"]) for k, v in scores["per_type"].items())))
    if name == "test":
      with open(os.path.join(FLAGS.output_dir, "test_results.txt.tmp"), "w", encoding="utf-8") as f:
        f.write(tagging_metrics.format_scores(scores, "test_"))
      os.replace(os.path.join(FLAGS.output_dir, "test_results.txt.tmp"),
                 os.path.join(FLAGS.output_dir, "test_results.txt"))
      tagging_data.write_conll_predictions(os.path.join(FLAGS.output_dir, "test_predictions.txt"), examples, predicted)


if __name__ == "__main__":
  app.run(main)
