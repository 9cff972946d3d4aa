"""Span question answering through the task protocol: run_squad.py's family.

    results = run_squad("out/", "vocab.txt", "bert_config.json", train_file="train-v1.1.json",
                        predict_file="dev-v1.1.json", init_checkpoint="bert_model.ckpt",
                        do_train=True, do_predict=True)

Outputs in `output_dir` besides the runner's: with do_predict the original's `predictions.json`,
`nbest_predictions.json` and (SQuAD 2.0) `null_odds.json`; when the predict file has answers,
`eval_results.txt` with the official numbers (`metrics`: SQuAD 1.1 / 2.0 in English, CMRC 2018's
character-level scores in Chinese); `squad_config.json` (windows, 2.0, CJK splitting: what export needs).
"""

import os
import random

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import squad
from bert_tf2.tasks import base, runner
from bert_tf2.tasks.squad import metrics as squad_metrics
from bert_tf2.tasks.squad.export import SETTINGS as EXPORT_SETTINGS, export_squad
from bert_tf2.tasks.squad.model import INPUT_NAMES, BertQuestionAnswerer, loss_fn, metrics_fn

SQUAD_CONFIG = "squad_config.json"


class SquadTask(base.Task):
  """SQuAD-layout JSON (SQuAD 1.1 / 2.0, CMRC 2018, DRCD, DuReader-robust) -> `BertQuestionAnswerer`.

  Args: as the original run_squad.py's flags of the same names; `split_cjk_chars` makes every CJK
  character its own doc token (off = the original); `eval_language` is "auto", "en" or "zh".
  """

  name = "SQuAD model"
  settings_file = SQUAD_CONFIG
  inference = "predict with"

  def __init__(self, train_file=None, predict_file=None, doc_stride=128, max_query_length=64, n_best_size=20,
               max_answer_length=30, version_2_with_negative=False, null_score_diff_threshold=0.0,
               split_cjk_chars=False, verbose_logging=False, eval_language="auto"):
    self.train_file, self.predict_file = train_file, predict_file
    self.options = dict(doc_stride=doc_stride, max_query_length=max_query_length, n_best_size=n_best_size,
                        max_answer_length=max_answer_length, version_2_with_negative=version_2_with_negative,
                        null_score_diff_threshold=null_score_diff_threshold, split_cjk_chars=split_cjk_chars)
    self.verbose_logging, self.eval_language = verbose_logging, eval_language

  def check(self, config, max_seq_length, phases):
    for flag, path, needed in (("train_file", self.train_file, "train" in phases),
                               ("predict_file", self.predict_file, "predict" in phases)):
      if needed and not path:
        raise ValueError("%s is required" % flag)
      if needed and not os.path.isfile(path):
        raise ValueError("%s: file not found" % path)
    if max_seq_length <= self.options["max_query_length"] + 3:
      raise ValueError("max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                       % (max_seq_length, self.options["max_query_length"]))

  def settings(self, saved):
    return dict(self.options)  # as the original: predicting uses the flags given, not training's

  def build_model(self, config, settings):
    return BertQuestionAnswerer(config)

  def loss_fn(self, model, batch, training):
    return loss_fn(model, batch, training)

  def metrics_fn(self, totals):
    return metrics_fn(totals)

  def train_inputs(self, settings, tokenizer):
    skipped = []
    examples = squad.read_squad_examples(self.train_file, True, settings["version_2_with_negative"],
                                         settings["split_cjk_chars"], skipped)
    if not examples:
      raise ValueError("%s: no training example left (%d skipped)" % (self.train_file, len(skipped)))
    random.Random(12345).shuffle(examples)  # as the original, before the features
    features = squad.convert_examples_to_features(examples, tokenizer, settings["max_seq_length"],
                                                  settings["doc_stride"], settings["max_query_length"], True)
    # As the original: steps from the number of examples, not of features (doc spans).
    return base.TrainInputs(features_to_arrays(features, True), len(examples),
                            {"train_examples": len(examples), "train_features": len(features),
                             "train_skipped": len(skipped)})

  def make_dataset(self, arrays, batch_size, seed):
    dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(len(arrays["input_ids"]), seed=seed).repeat()
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    return predict_and_evaluate(model, self.predict_file, settings, tokenizer, output_dir, batch_size,
                                self.verbose_logging, self.eval_language)

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    return export_squad(model, export_dir, vocab_file, **{k: settings[k] for k in EXPORT_SETTINGS},
                        precision=precision)


def features_to_arrays(features, is_training):
  """[InputFeatures] -> {input_ids, input_mask, segment_ids: int32 [N, T] (+ start/end_positions [N])}."""
  arrays = {name: np.array([getattr(f, name) for f in features], np.int32).reshape(len(features), -1)
            for name in INPUT_NAMES}
  if is_training:
    arrays["start_positions"] = np.array([f.start_position for f in features], np.int32)
    arrays["end_positions"] = np.array([f.end_position for f in features], np.int32)
  return arrays


def predict_results(model, features, batch_size):
  """[RawResult] of `features` (float32 logits over all max_seq_length positions, as the original)."""
  forward = tf.function(lambda x: model(x, training=False))
  logits = runner.predict_batches(forward, features_to_arrays(features, False), batch_size)
  starts, ends = logits.get("start_logits", np.zeros([0, 0])), logits.get("end_logits", np.zeros([0, 0]))
  return [squad.RawResult(f.unique_id, s, e) for f, s, e in zip(features, starts, ends)]


def predict_and_evaluate(model, predict_file, settings, tokenizer, output_dir, batch_size,
                         verbose_logging=False, eval_language="auto"):
  """Writes the prediction files for `predict_file`; scores them when it has answers.

  Returns {num_predictions, num_features} plus the metrics (as `metrics.evaluate`'s keys) when the
  file holds gold answers (also written to eval_results.txt).
  """
  v2 = settings["version_2_with_negative"]
  examples = squad.read_squad_examples(predict_file, False, v2, settings["split_cjk_chars"])
  features = squad.convert_examples_to_features(examples, tokenizer, settings["max_seq_length"],
                                                settings["doc_stride"], settings["max_query_length"], False)
  results = predict_results(model, features, batch_size)
  predictions, _, null_odds = squad.write_predictions(
      examples, features, results, settings["n_best_size"], settings["max_answer_length"],
      settings["do_lower_case"], os.path.join(output_dir, "predictions.json"),
      os.path.join(output_dir, "nbest_predictions.json"), os.path.join(output_dir, "null_odds.json"),
      version_2_with_negative=v2, null_score_diff_threshold=settings["null_score_diff_threshold"],
      verbose_logging=verbose_logging)
  out = {"num_predictions": len(predictions), "num_features": len(features)}
  dataset = squad.load_squad_json(predict_file)
  if any(qa.get("answers") for article in dataset for p in article["paragraphs"] for qa in p["qas"]):
    metrics = squad_metrics.evaluate(dataset, predictions, null_odds if v2 else None, v2, eval_language)
    runner.write_key_values(os.path.join(output_dir, "eval_results.txt"), metrics)
    logging.info("Eval results: %s", dict(metrics))
    out.update(metrics)
  return out


def read_squad_config(model_dir):
  """The settings a training run wrote to `model_dir/squad_config.json`, or None."""
  return runner.read_settings(model_dir, SQUAD_CONFIG)


def run_squad(output_dir, vocab_file, bert_config_file, train_file=None, predict_file=None, do_train=False,
              do_predict=False, init_checkpoint=None, do_lower_case=True, max_seq_length=384, doc_stride=128,
              max_query_length=64, n_best_size=20, max_answer_length=30, version_2_with_negative=False,
              null_score_diff_threshold=0.0, verbose_logging=False, split_cjk_chars=False, eval_language="auto",
              **kwargs):
  """Fine-tunes on `train_file` and/or predicts `predict_file`, as the original run_squad.py.

  The SQuAD arguments make the `SquadTask`; `kwargs` are `runner.run`'s. Returns {name: value}:
  training counts, global_step, num_predictions and the metrics, export_dir (those run).
  """
  if not (do_train or do_predict):
    raise ValueError("at least one of do_train or do_predict must be true")
  task = SquadTask(train_file, predict_file, doc_stride, max_query_length, n_best_size, max_answer_length,
                   version_2_with_negative, null_score_diff_threshold, split_cjk_chars, verbose_logging, eval_language)
  return runner.run(task, output_dir, vocab_file, bert_config_file, init_checkpoint=init_checkpoint,
                    do_lower_case=do_lower_case, max_seq_length=max_seq_length, do_train=do_train,
                    do_predict=do_predict, **kwargs)
