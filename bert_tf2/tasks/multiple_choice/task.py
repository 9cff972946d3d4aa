"""Multiple choice through the task protocol: SWAG (English, 4 endings) and C3 (Chinese, 2-4 options).

    results = runner.run(MultipleChoiceTask("c3", "data/c3"), "out/", "vocab.txt", "bert_config.json",
                         init_checkpoint="bert_model.ckpt", do_train=True, do_eval=True, do_predict=True)

Outputs in `output_dir` besides the runner's (checkpoints, TensorBoard, vocab and config copies):
`eval_results.txt` (eval_accuracy, eval_loss), `test_results.tsv` (the options' probabilities, one
test question a row, num_choices columns, 0 for padding options), for C3 CLUE's submission file
(`c311_predict.json`, or `c310_predict.json` from CLUE 1.0's test1.0.json: {"id": ..., "label": the
chosen option's index} a line, in the test file's order) and
`multiple_choice_config.json` (task_name, num_choices: what eval, predict and export read back).
"""

import json
import os

import numpy as np
import tensorflow as tf

from bert_tf2.tasks import base, runner
from bert_tf2.tasks.multiple_choice import data
from bert_tf2.tasks.multiple_choice.export import export_multiple_choice
from bert_tf2.tasks.multiple_choice.model import (INPUT_NAMES, BertMultipleChoice, choice_loss, loss_fn, metrics_fn,
                                                  probabilities)

SETTINGS_FILE = "multiple_choice_config.json"
C3_PREDICTIONS = "c311_predict.json"  # CLUE 1.1's submission name (test.json, test1.1.json)
C3_10_PREDICTIONS = "c310_predict.json"  # CLUE 1.0's, for test1.0.json
C3_BASELINE_PREDICTIONS = "c3_predict.json"  # what CLUE's baselines write before renaming it for submission


class MultipleChoiceTask(base.Task):
  """SWAG / C3 files -> `BertMultipleChoice`.

  Args:
    task_name: "swag" or "c3" (None: export only).
    data_dir: the directory of its train / dev / test files (see `data.SPLIT_FILES`).
    num_choices: int, options per question (fewer are padded and masked); 4 for SWAG and C3.
    errors: how non-UTF-8 input is read: "strict" (an error naming the file), "replace", "ignore".
  """

  name = "multiple-choice model"
  settings_file = SETTINGS_FILE

  def __init__(self, task_name=None, data_dir=None, num_choices=4, errors="strict"):
    self.task_name, self.data_dir, self.num_choices, self.errors = task_name, data_dir, num_choices, errors

  def check(self, config, max_seq_length, phases):
    if self.task_name is not None and self.task_name not in data.TASKS:
      raise ValueError("task_name: %r is not a multiple-choice task (%s)" % (self.task_name, ", ".join(data.TASKS)))
    if not isinstance(self.num_choices, int) or self.num_choices < 2:
      raise ValueError("num_choices: must be an int >= 2, got %r" % (self.num_choices,))
    if self.task_name == "swag" and self.num_choices < 4:
      raise ValueError("num_choices: SWAG has 4 endings, got %d" % self.num_choices)
    split = {"train": "train", "eval": "dev", "predict": "test"}
    for phase in sorted(phases):  # a missing file is an error before any work
      data.split_files(self.task_name, self.data_dir, split[phase])

  def settings(self, saved):
    if saved is not None:
      return dict(saved)
    return {"task_name": self.task_name, "num_choices": self.num_choices}

  def build_model(self, config, settings):
    return BertMultipleChoice(config)

  def loss_fn(self, model, batch, training):
    return loss_fn(model, batch, training)

  def metrics_fn(self, totals):
    return metrics_fn(totals)

  def _read(self, split, settings, tokenizer):
    """(examples, arrays, number truncated) of a split."""
    examples = data.read_split(self.task_name, self.data_dir, split, settings["num_choices"], self.errors)
    arrays, truncated = data.to_arrays(examples, tokenizer, settings["max_seq_length"], settings["num_choices"])
    return examples, arrays, truncated

  def train_inputs(self, settings, tokenizer):
    examples, arrays, truncated = self._read("train", settings, tokenizer)
    if any(e.label is None for e in examples):
      raise ValueError("%s: no answer: the train split needs one for every question"
                       % next(e.source for e in examples if e.label is None))
    return base.TrainInputs(arrays, len(examples), {"train_examples": len(examples), "train_truncated": truncated})

  def evaluate(self, model, settings, tokenizer, batch_size):
    examples, arrays, truncated = self._read("dev", settings, tokenizer)
    if any(e.label is None for e in examples):
      raise ValueError("%s: no answer: the dev split needs one for every question"
                       % next(e.source for e in examples if e.label is None))
    logits = predict_logits(model, arrays, batch_size)
    labels = arrays["label_ids"]
    return base.Scores({"eval_accuracy": float(np.mean(np.argmax(logits, -1) == labels)) if len(labels) else 0.0,
                        "eval_loss": float(choice_loss(labels, logits)) if len(labels) else 0.0,
                        "eval_examples": len(labels), "eval_truncated": truncated})

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    examples, arrays, _ = self._read("test", settings, tokenizer)
    chosen = probabilities(predict_logits(model, arrays, batch_size)).numpy()
    runner.write_atomic(os.path.join(output_dir, "test_results.tsv"),
                        "".join("\t".join(str(p) for p in row) + "\n" for row in chosen))
    if self.task_name == "c3":
      test_file = os.path.basename(data.split_files("c3", self.data_dir, "test")[0])
      name = C3_10_PREDICTIONS if test_file == "test1.0.json" else C3_PREDICTIONS
      text = "".join(json.dumps({"id": e.guid, "label": int(np.argmax(p))}, ensure_ascii=False) + "\n"
                     for e, p in zip(examples, chosen))
      for file_name in (name, C3_BASELINE_PREDICTIONS):  # the leaderboard's name and the baselines' own
        runner.write_atomic(os.path.join(output_dir, file_name), text)
    return {"num_predictions": len(chosen)}

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    return export_multiple_choice(model, export_dir, vocab_file, settings["do_lower_case"],
                                  settings["max_seq_length"], precision)


def predict_logits(model, arrays, batch_size):
  """float32 logits [N, C] of numpy `arrays` (INPUT_NAMES), in order."""
  if not len(arrays["input_ids"]):
    return np.zeros([0, arrays["choice_mask"].shape[1]], np.float32)
  forward = tf.function(lambda x: model(x, training=False))
  inputs = {name: arrays[name] for name in INPUT_NAMES}
  return runner.predict_batches(forward, inputs, batch_size).astype(np.float32)
