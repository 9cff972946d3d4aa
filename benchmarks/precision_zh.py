r"""Held-out quality of a fine-tuned Chinese classifier or tagger at each precision, through the exports
users run: `export_saved_model.py --precision=P`, then `core.text_model.TextModel` (int8: LiteRT).

  # a run_classifier output_dir: accuracy on label<TAB>text lines (after a header)
  PYTHONPATH=. .venv/bin/python benchmarks/precision_zh.py --model_dir=runs/int8_quality/sentiment \
      --dev_file=/work/shared/data/sentiment_zh/dev.tsv --work_dir=/tmp/precision_zh
  # a run_ner output_dir (People's Daily): entity F1 on the test sentences of data_prep.corpora
  PYTHONPATH=. .venv/bin/python benchmarks/precision_zh.py --model_dir=runs/int8_quality/ner_crf \
      --work_dir=/tmp/precision_zh_ner

Prints one JSON line: the score per precision, its points from float32, how many predictions
changed (labels; for the tagger, sentences whose tags changed), and the seconds each took to predict
(on the cores as they were: a figure only on quiet ones).
"""

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A fine-tuned classifier's or tagger's output_dir.")
flags.DEFINE_string("dev_file", None, "Classifier: label<TAB>text lines after a header.")
flags.DEFINE_string("work_dir", "/tmp/precision_zh", "Where the exports go.")
flags.DEFINE_list("precisions", ["float32", "bfloat16", "int8"], "Exports to compare.")
flags.DEFINE_integer("eval_batch_size", 64, "Texts per call.")


def _classifier_data():
  with open(FLAGS.dev_file, encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t", 1) for line in list(f)[1:]]
  texts, gold = [r[1] for r in rows], [r[0] for r in rows]

  def evaluate(predict):
    labels = [label.decode() for i in range(0, len(texts), FLAGS.eval_batch_size)
              for label in predict(text_a=texts[i:i + FLAGS.eval_batch_size])["labels"]]
    return float(np.mean([p == g for p, g in zip(labels, gold)])), labels
  return "accuracy", len(texts), evaluate


def _tagger_data():
  import ner_export_check  # pylint: disable=g-import-not-at-top  (beside this script)
  from data_prep import corpora  # pylint: disable=g-import-not-at-top
  sentences = corpora.peoples_daily_entities("test")
  texts, golds = [x["text"] for x in sentences], [x["entities"] for x in sentences]

  def evaluate(predict):
    rows = []

    def tag(batch):
      rows.extend(tuple(row) for row in predict(text=batch)["tags"])
      return rows[-len(batch):]
    f1, _, _ = ner_export_check.score(texts, golds, tag, FLAGS.eval_batch_size)
    return f1, rows
  return "entity_f1", len(texts), evaluate


def main(argv):
  del argv
  from bert_tf2.core.text_model import TextModel  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks import registry  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks.tagging.task import TaggingTask  # pylint: disable=g-import-not-at-top
  is_tagger = os.path.isfile(os.path.join(FLAGS.model_dir, TaggingTask.settings_file))
  if not is_tagger and not FLAGS.dev_file:
    sys.exit("--dev_file: a classifier is scored on label<TAB>text lines")
  metric, examples, evaluate = _tagger_data() if is_tagger else _classifier_data()
  scores, predictions, seconds = {}, {}, {}
  for precision in FLAGS.precisions:
    path = registry.export_from_dir(FLAGS.model_dir, os.path.join(FLAGS.work_dir, precision), precision=precision)
    predict = TextModel(path)
    start = time.perf_counter()
    scores[precision], predictions[precision] = evaluate(predict)
    seconds[precision] = round(time.perf_counter() - start, 1)
  base = FLAGS.precisions[0]
  report = {"model_dir": FLAGS.model_dir, "examples": examples, metric: {k: round(v, 4) for k, v in scores.items()},
            "points_vs_" + base: {k: round(100 * (v - scores[base]), 2) for k, v in scores.items()},
            "changed_vs_" + base: {k: sum(a != b for a, b in zip(v, predictions[base]))
                                   for k, v in predictions.items()},
            "predict_seconds": seconds}
  print(json.dumps(report))


if __name__ == "__main__":
  flags.mark_flags_as_required(["model_dir"])
  app.run(main)
