"""Sentence-pair regression through the task protocol (STS-B, LCQMC / ATEC-style score files).

    results = runner.run(RegressionTask(processors.StsbProcessor(), "glue/STS-B"), "out/", "vocab.txt",
                         "bert_config.json", init_checkpoint="bert_model.ckpt", do_train=True, do_eval=True)
    # or: scripts/run_classifier.py --task_name=sts-b ...   (the processor's family is "regression")

The model is `BertClassifier(config, 1)`: pooled output -> dropout -> dense(1), float32, with the
classifier's checkpoint names (Google `output_weights` / `output_bias`, Hugging Face
`classifier.weight` / `classifier.bias`), so transformers' `BertForSequenceClassification` with
`num_labels=1, problem_type="regression"` loads, and `checkpoints.save_hf_checkpoint` writes (a
one-output classifier is a regression, as transformers reads num_labels=1). The loss is
transformers': the mean squared error of logits[:, 0] against the score.

Outputs in `output_dir` besides the runner's: `eval_results.txt` (eval_pearson, eval_spearman,
eval_mse, eval_loss = the MSE, eval_truncated), `test_results.tsv` (one predicted score a line)
and `regression_config.json` (pairing: what export needs).
"""

import os

import numpy as np
import tensorflow as tf

from bert_tf2.core import features
from bert_tf2.tasks import base, runner
from bert_tf2.tasks.classification.model import INPUT_NAMES, BertClassifier
from bert_tf2.tasks.regression import metrics
from bert_tf2.tasks.regression import processors  # noqa: F401  (registers sts-b, stsb, score_pairs)
from bert_tf2.tasks.regression.export import export_regressor

REGRESSION_CONFIG = "regression_config.json"


class RegressionTask(base.Task):
  """A regression `DataProcessor`'s files (InputExample.label: float score) -> `BertClassifier(config, 1)`.

  Args:
    processor: a `DataProcessor` whose labels are float scores (None: export only).
    data_dir: the directory of its train / dev / test files.
    unused: the classifier's options (scripts/run_classifier.py passes `threshold`), ignored.
  """

  name = "regressor"
  settings_file = REGRESSION_CONFIG

  def __init__(self, processor=None, data_dir=None, **unused):
    del unused
    self.processor, self.data_dir = processor, data_dir

  def settings(self, saved):
    return dict(saved) if saved is not None else {"is_pair": None}

  def build_model(self, config, settings):
    return BertClassifier(config, 1)

  def loss_fn(self, model, batch, training):
    logits = model({name: batch[name] for name in INPUT_NAMES}, training=training)
    squared = tf.square(tf.cast(logits, tf.float32)[:, 0] - batch["scores"])
    return tf.reduce_mean(squared), {"squared_error": tf.reduce_sum(squared),
                                     "examples": tf.cast(tf.shape(logits)[0], tf.float32)}

  def metrics_fn(self, totals):
    return {"mse": float(totals["squared_error"] / max(totals["examples"], 1.0))}

  def _arrays(self, examples, settings, tokenizer):
    """(numpy inputs, float32 scores [N] (0 where unlabeled), number of truncated examples)."""
    converted = features.convert_examples_to_features(examples, None, settings["max_seq_length"], tokenizer)
    inputs, _ = features.features_to_arrays(converted)
    scores = np.array([0.0 if e.label is None else float(e.label) for e in examples], np.float32)
    if settings.get("is_pair") is None:
      settings["is_pair"] = any(e.text_b for e in examples)
    return inputs, scores, sum(1 for f in converted if f.num_truncated)

  def train_inputs(self, settings, tokenizer):
    examples = self.processor.get_train_examples(self.data_dir)
    settings["is_pair"] = any(e.text_b for e in examples)
    inputs, scores, truncated = self._arrays(examples, settings, tokenizer)
    return base.TrainInputs(dict(inputs, scores=scores), len(scores), {"train_truncated": truncated})

  def evaluate(self, model, settings, tokenizer, batch_size):
    examples = self.processor.get_dev_examples(self.data_dir)
    unlabeled = [e.source for e in examples if e.label is None]
    if unlabeled:
      raise ValueError("%s: a dev example has no score" % unlabeled[0])
    inputs, scores, truncated = self._arrays(examples, settings, tokenizer)
    predictions = predict_scores(model, inputs, batch_size)
    values = metrics.regression_scores(scores, predictions)
    values.update(eval_loss=values["eval_mse"], eval_truncated=truncated)
    return base.Scores(values)

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    inputs, _, _ = self._arrays(self.processor.get_test_examples(self.data_dir), settings, tokenizer)
    predictions = predict_scores(model, inputs, batch_size)
    runner.write_atomic(os.path.join(output_dir, "test_results.tsv"), "".join("%r\n" % float(p) for p in predictions))
    return {"num_predictions": len(predictions)}

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    return export_regressor(model, export_dir, vocab_file, settings["do_lower_case"], settings["max_seq_length"],
                            settings.get("is_pair") is not False, precision)


def predict_scores(model, inputs, batch_size):
  """float32 scores [N] (logits[:, 0]) of numpy `inputs`, in order."""
  forward = tf.function(lambda x: model(x, training=False)[:, 0])
  return runner.predict_batches(forward, inputs, batch_size).astype(np.float32)

