r"""Held-out accuracy of a fine-tuned classifier at each precision: float32, bfloat16 (SavedModels) and
LiteRT float32 / int8 (.tflite on ids, tokenized here with the export's vocab).

  PYTHONPATH=. .venv/bin/python benchmarks/precision_zh.py --model_dir=runs/sentiment_zh/pretrained \
      --dev_file=/work/shared/data/sentiment_zh/dev.tsv --work_dir=/tmp/precision_zh

`--model_dir`: a run_classifier output_dir (benchmarks/sentiment_zh.sh leaves runs/sentiment_zh/pretrained);
`--dev_file`: label<TAB>text with a header line. Prints one JSON line: accuracy per precision, the
points each is from float32, and how many predictions changed.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A fine-tuned classifier's output_dir.")
flags.DEFINE_string("dev_file", None, "label<TAB>text lines after a header.")
flags.DEFINE_string("work_dir", "/tmp/precision_zh", "Where the exports go.")
flags.DEFINE_integer("max_seq_length", 128, "LiteRT side: tokens per text (the export's).")


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from bert_tf2 import tokenization  # pylint: disable=g-import-not-at-top
  from bert_tf2.core import litert  # pylint: disable=g-import-not-at-top
  from bert_tf2.core.features import convert_examples_to_features, lines_to_examples, pad_batch
  from bert_tf2.interop import litert_export
  from bert_tf2.tasks import registry
  with open(FLAGS.dev_file, encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t", 1) for line in list(f)[1:]]
  texts, gold = [r[1] for r in rows], [r[0] for r in rows]
  predictions = {}
  for precision in ("float32", "bfloat16"):
    path = registry.export_from_dir(FLAGS.model_dir, os.path.join(FLAGS.work_dir, precision), precision=precision)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    predictions[precision] = [label.decode() for i in range(0, len(texts), 256)
                              for label in serve(text_a=tf.constant(texts[i:i + 256]))["labels"].numpy()]
  for precision in ("float32", "int8"):
    out = litert_export.export_litert(os.path.join(FLAGS.work_dir, "float32"),
                                      os.path.join(FLAGS.work_dir, "litert_" + precision), precision)
    with open(os.path.join(out, "litert_config.json"), encoding="utf-8") as f:
      labels = json.load(f)["labels"]
    tokenizer = tokenization.FullTokenizer(os.path.join(out, "vocab.txt"), do_lower_case=True)
    runner = litert.Runner(model_path=os.path.join(out, "model.tflite"))
    features = convert_examples_to_features(lines_to_examples(texts), None, FLAGS.max_seq_length, tokenizer,
                                            pad=False)
    predictions["litert_" + precision] = [
        labels[int(i)] for start in range(0, len(features), 64)
        for i in np.argmax(runner(pad_batch(features[start:start + 64]))["probabilities"], axis=-1)]
  accuracy = {k: float(np.mean([p == g for p, g in zip(v, gold)])) for k, v in predictions.items()}
  report = {"examples": len(gold), "accuracy": {k: round(v, 4) for k, v in accuracy.items()},
            "points_vs_float32": {k: round(100 * (v - accuracy["float32"]), 2) for k, v in accuracy.items()},
            "changed_vs_float32": {k: sum(a != b for a, b in zip(v, predictions["float32"]))
                                   for k, v in predictions.items()}}
  print(json.dumps(report))


if __name__ == "__main__":
  flags.mark_flags_as_required(["model_dir", "dev_file"])
  app.run(main)
