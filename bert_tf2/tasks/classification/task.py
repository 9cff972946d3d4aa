"""Classification through the task protocol: run_classifier.py's family (single, pair, multi-label).

    results = run_classifier(processors.get_processor("mrpc"), "glue/MRPC", "out/", "vocab.txt",
                             "bert_config.json", init_checkpoint="bert_model.ckpt", do_train=True, do_eval=True)

Outputs in `output_dir` besides the runner's (checkpoints, TensorBoard, vocab and config copies):
`eval_results.txt` ("key = value": eval_accuracy, eval_loss, + micro / macro F1 for multi-label),
`test_results.tsv` (class probabilities per test example, as the original), the processor's
submission file if it has one (`processor.submission`: CLUE's `tnews11_predict.json`, ...) and
`classifier_config.json` (labels, multi-label, pairing, threshold: what export needs).
"""

import os

import numpy as np
import tensorflow as tf

from bert_tf2.core import features
from bert_tf2.tasks import base, runner
from bert_tf2.tasks.classification import chinese_tsv, clue  # noqa: F401  (register tnews, ..., thucnews)
from bert_tf2.tasks.classification.export import export_classifier
from bert_tf2.tasks.classification.model import BertClassifier, f1_scores, loss_fn, metrics_fn

CLASSIFIER_CONFIG = "classifier_config.json"


class ClassificationTask(base.Task):
  """A `DataProcessor`'s files -> `BertClassifier` (softmax, or sigmoid for multi-label processors).

  Args:
    processor: a `processors.DataProcessor` (None: export only).
    data_dir: the directory of its train / dev / test files.
    threshold: float, multi-label: a label is predicted at probability >= threshold.
  """

  name = "classifier"
  settings_file = CLASSIFIER_CONFIG

  def __init__(self, processor=None, data_dir=None, threshold=0.5):
    self.processor, self.data_dir, self.threshold = processor, data_dir, threshold
    self._train_examples = None

  def settings(self, saved):
    if saved is not None:
      return dict(saved, threshold=saved.get("threshold", self.threshold))
    return {"labels": self._labels(), "multi_label": self.processor.is_multi_label, "is_pair": None,
            "threshold": self.threshold}

  def _labels(self):
    try:
      return self.processor.get_labels()
    except ValueError:  # a generic processor learns its labels from the train file
      self._train_examples = self.processor.get_train_examples(self.data_dir)
      return self.processor.get_labels()

  def build_model(self, config, settings):
    return BertClassifier(config, len(settings["labels"]), multi_label=settings["multi_label"])

  def loss_fn(self, model, batch, training):
    return loss_fn(model, batch, training)

  def metrics_fn(self, totals):
    return metrics_fn(totals)

  def _arrays(self, examples, settings, tokenizer):
    """(numpy inputs, labels, number of truncated examples); records whether the task is a pair task."""
    converted = features.convert_examples_to_features(examples, settings["labels"], settings["max_seq_length"],
                                                      tokenizer, settings["multi_label"])
    inputs, labels = features.features_to_arrays(converted, settings["multi_label"])
    if settings.get("is_pair") is None:
      settings["is_pair"] = any(e.text_b for e in examples)
    return inputs, labels, sum(1 for f in converted if f.num_truncated)

  def train_inputs(self, settings, tokenizer):
    examples = self._train_examples or self.processor.get_train_examples(self.data_dir)
    settings["is_pair"] = any(e.text_b for e in examples)
    inputs, labels, truncated = self._arrays(examples, settings, tokenizer)
    return base.TrainInputs(dict(inputs, label_ids=labels), len(labels), {"train_truncated": truncated})

  def evaluate(self, model, settings, tokenizer, batch_size):
    inputs, labels, truncated = self._arrays(self.processor.get_dev_examples(self.data_dir), settings, tokenizer)
    return base.Scores(dict(evaluate(model, inputs, labels, batch_size, settings["threshold"]),
                            eval_truncated=truncated))

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    examples = self.processor.get_test_examples(self.data_dir)
    inputs, _, _ = self._arrays(examples, settings, tokenizer)
    probabilities = model.probabilities(predict_logits(model, inputs, batch_size)).numpy()
    # The benchmark's submission file (CLUE's `tnews11_predict.json`, ...), when the processor has one.
    submission = None if settings["multi_label"] else self.processor.submission(
        examples, [settings["labels"][i] for i in np.argmax(probabilities, -1)])
    runner.write_atomic(os.path.join(output_dir, "test_results.tsv"),
                        "".join("\t".join(str(p) for p in row) + "\n" for row in probabilities))
    results = {"num_predictions": len(probabilities)}
    if submission is not None:
      name, text = submission
      runner.write_atomic(os.path.join(output_dir, name), text)
      results["submission_file"] = os.path.join(output_dir, name)
      # CLUE's baselines write `<task>_predict.json` and rename it for the versioned leaderboard name
      # (tnews -> tnews11_predict.json): both are written, so either convention finds its file.
      plain = f"{self.processor.name}_predict.json"
      if name.endswith(".json") and name != plain:
        runner.write_atomic(os.path.join(output_dir, plain), text)
    return results

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    return export_classifier(model, export_dir, vocab_file, settings["do_lower_case"], settings["max_seq_length"],
                             settings["labels"], bool(settings["is_pair"]), settings["threshold"], precision)


def predict_logits(model, inputs, batch_size):
  """float32 logits [N, num_labels] of numpy `inputs`, in order."""
  forward = tf.function(lambda x: model(x, training=False))
  return runner.predict_batches(forward, inputs, batch_size).astype(np.float32)


def evaluate(model, inputs, labels, batch_size, threshold=0.5):
  """{eval_accuracy, eval_loss} (+ eval_micro_f1, eval_macro_f1 for multi-label; accuracy = exact match)."""
  logits = predict_logits(model, inputs, batch_size)
  results = {"eval_loss": float(model.classification_loss(labels, logits))}
  if model.multi_label:
    predicted = tf.sigmoid(logits).numpy() >= threshold
    results["eval_accuracy"] = float(np.mean(np.all(predicted == (labels > 0.5), axis=-1)))
    results["eval_micro_f1"], results["eval_macro_f1"] = f1_scores(labels, predicted)
  else:
    results["eval_accuracy"] = float(np.mean(np.argmax(logits, -1) == labels))
  return results


def read_classifier_config(model_dir):
  """The settings a training run wrote to `model_dir/classifier_config.json`, or None."""
  return runner.read_settings(model_dir, CLASSIFIER_CONFIG)


def run_classifier(processor, data_dir, output_dir, vocab_file, bert_config_file, threshold=0.5, **kwargs):
  """Fine-tunes, evaluates, predicts and exports, as the original run_classifier.py.

  `processor` and `data_dir` make the `ClassificationTask`; `kwargs` are `runner.run`'s (the
  original's flags). Returns {name: value}: train_truncated, the eval results, num_predictions,
  export_dir (those run).
  """
  return runner.run(ClassificationTask(processor, data_dir, threshold), output_dir, vocab_file, bert_config_file,
                    **kwargs)
