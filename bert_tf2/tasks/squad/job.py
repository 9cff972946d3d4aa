"""The run_squad.py job: fine-tune a `BertQuestionAnswerer`, write predictions, score them, export.

    strategy = tf.distribute.get_strategy()          # scripts build it from --distribution_strategy
    results = run_squad("out/", "vocab.txt", "bert_config.json", train_file="train-v1.1.json",
                        predict_file="dev-v1.1.json", init_checkpoint="bert_model.ckpt",
                        do_train=True, do_predict=True, strategy=strategy)

Outputs in `output_dir`: checkpoints `model.ckpt-N`, TensorBoard `train/`; with do_predict the
original's `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0) `null_odds.json`; when the
predict file has answers, `eval_results.txt` with the official numbers (`bert_tf2.tasks.squad.metrics`:
SQuAD 1.1 / 2.0 in English, CMRC 2018's character-level scores in Chinese); `squad_config.json`
(casing, windows, 2.0, CJK splitting: what export needs) and copies of the vocab and bert_config.
"""

import json
import os
import random

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import optimization
from bert_tf2.core import checks
from bert_tf2.tasks.squad import data as squad
from bert_tf2.tasks.squad import export as squad_export
from bert_tf2.tasks.squad import metrics as squad_metrics
from bert_tf2.tasks.squad import predictions as squad_predictions
from bert_tf2 import tokenization
from bert_tf2.core import training
from bert_tf2.core import jobs as common
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.squad.model import INPUT_NAMES, BertQuestionAnswerer, loss_fn, metrics_fn

SQUAD_CONFIG = "squad_config.json"


def read_squad_config(model_dir):
  """The settings a training run wrote to `model_dir/squad_config.json`, or None."""
  return common.read_settings(model_dir, SQUAD_CONFIG)


def restore_for_inference(model, output_dir, init_checkpoint):
  """Weights for predict without training (`common.restore_for_inference`); returns their step."""
  return common.restore_for_inference(model, output_dir, init_checkpoint, "SQuAD model",
                                      ("cls/squad/output_weights",), action="predict with")


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
  dataset = tf.data.Dataset.from_tensor_slices(features_to_arrays(features, False)).batch(batch_size)
  starts, ends = [], []
  for batch in dataset:
    outputs = forward(batch)
    starts.append(outputs["start_logits"].numpy())
    ends.append(outputs["end_logits"].numpy())
  starts, ends = (np.concatenate(x) if x else np.zeros([0, 0], np.float32) for x in (starts, ends))
  return [squad_predictions.RawResult(f.unique_id, s, e) for f, s, e in zip(features, starts, ends)]


def _train(model, settings, tokenizer, strategy, output_dir, train_file, init_checkpoint, hyper):
  """Fine-tunes `model` on `train_file`; returns {train_examples, train_features, train_skipped, global_step}."""
  skipped = []
  examples = squad.read_squad_examples(train_file, True, settings["version_2_with_negative"],
                                       settings["split_cjk_chars"], skipped)
  if not examples:
    raise ValueError("%s: no training example left (%d skipped)" % (train_file, len(skipped)))
  random.Random(12345).shuffle(examples)  # as the original, before the features
  features = squad.convert_examples_to_features(examples, tokenizer, settings["max_seq_length"],
                                                settings["doc_stride"], settings["max_query_length"], True)
  batch_size = hyper["train_batch_size"]
  # As the original: steps from the number of examples, not of features (doc spans).
  num_train_steps = max(int(len(examples) / batch_size * hyper["num_train_epochs"]), 1)
  with strategy.scope():
    optimizer = optimization.create_optimizer(hyper["learning_rate"], num_train_steps,
                                              int(num_train_steps * hyper["warmup_proportion"]))
  logging.info("Training on %d examples (%d features, %d skipped), batch %d, %d steps", len(examples),
               len(features), len(skipped), batch_size, num_train_steps)
  dataset = tf.data.Dataset.from_tensor_slices(features_to_arrays(features, True))
  dataset = dataset.shuffle(len(features), seed=hyper["seed"]).repeat()
  dataset = dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  trained = training.train(model, optimizer, loss_fn, dataset, strategy, output_dir, num_train_steps,
                           hyper["save_checkpoints_steps"], batch_size, metrics_fn=metrics_fn,
                           init_fn=common.init_from_checkpoint(model, init_checkpoint),
                           log_steps=hyper["log_steps"], steps_per_execution=hyper["steps_per_execution"])
  return {"train_examples": len(examples), "train_features": len(features), "train_skipped": len(skipped),
          "global_step": trained["global_step"]}


def predict_and_evaluate(model, predict_file, settings, tokenizer, output_dir, batch_size,
                         verbose_logging=False, eval_language="auto"):
  """Writes the prediction files for `predict_file`; scores them when it has answers.

  Returns {num_predictions, num_features} plus the metrics (as `squad_metrics.evaluate`'s keys)
  when the file holds gold answers.
  """
  v2 = settings["version_2_with_negative"]
  examples = squad.read_squad_examples(predict_file, False, v2, settings["split_cjk_chars"])
  features = squad.convert_examples_to_features(examples, tokenizer, settings["max_seq_length"],
                                                settings["doc_stride"], settings["max_query_length"], False)
  results = predict_results(model, features, batch_size)
  predictions, _, null_odds = squad_predictions.write_predictions(
      examples, features, results, settings["n_best_size"], settings["max_answer_length"],
      settings["do_lower_case"], os.path.join(output_dir, "predictions.json"),
      os.path.join(output_dir, "nbest_predictions.json"), os.path.join(output_dir, "null_odds.json"),
      version_2_with_negative=v2, null_score_diff_threshold=settings["null_score_diff_threshold"],
      verbose_logging=verbose_logging)
  out = {"num_predictions": len(predictions), "num_features": len(features)}
  dataset = squad.load_squad_json(predict_file)
  if any(qa.get("answers") for article in dataset for p in article["paragraphs"] for qa in p["qas"]):
    metrics = squad_metrics.evaluate(dataset, predictions, null_odds if v2 else None, v2, eval_language)
    common.write_key_values(os.path.join(output_dir, "eval_results.txt"), metrics)
    logging.info("Eval results: %s", dict(metrics))
    out.update(metrics)
  return out


def run_squad(output_dir, vocab_file, bert_config_file, train_file=None, predict_file=None, init_checkpoint=None,
              do_train=False, do_predict=False, do_lower_case=True, max_seq_length=384, doc_stride=128,
              max_query_length=64, train_batch_size=32, predict_batch_size=8, learning_rate=5e-5,
              num_train_epochs=3.0, warmup_proportion=0.1, save_checkpoints_steps=1000, n_best_size=20,
              max_answer_length=30, version_2_with_negative=False, null_score_diff_threshold=0.0,
              verbose_logging=False, split_cjk_chars=False, eval_language="auto", log_steps=100,
              strategy=None, mixed_precision="none", steps_per_execution=1, export_dir=None, seed=12345):
  """Fine-tunes on `train_file` and/or predicts `predict_file`, as the original run_squad.py.

  Args:
    strategy: a `tf.distribute.Strategy`; None = the default strategy. Batch sizes are global.
    split_cjk_chars: every CJK character its own doc token (`bert_tf2.tasks.squad.data`; off = the original).
    eval_language: "auto", "en" (SQuAD scripts) or "zh" (CMRC 2018 scores).
    export_dir: also write a SavedModel answering raw (question, context) pairs (`squad_export`).
    Other args: as the original's flags.

  Returns {name: value}: training counts, num_predictions and the metrics, export_dir (those run).
  A run restarted with the same `output_dir` resumes from its newest checkpoint.
  """
  if not (do_train or do_predict):
    raise ValueError("at least one of do_train or do_predict must be true")
  for flag, path, needed in (("train_file", train_file, do_train), ("predict_file", predict_file, do_predict),
                             ("vocab_file", vocab_file, True), ("bert_config_file", bert_config_file, True)):
    if needed and not path:
      raise ValueError("%s is required" % flag)
    if needed and not os.path.isfile(path):
      raise ValueError("%s: file not found" % path)
  tokenization.validate_case_matches_checkpoint(do_lower_case, init_checkpoint)  # as the original
  config = BertConfig.from_json_file(bert_config_file)
  checks.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  if max_seq_length <= max_query_length + 3:
    raise ValueError("max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                     % (max_seq_length, max_query_length))
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  strategy = common.set_up_run(seed, mixed_precision, strategy)
  os.makedirs(output_dir, exist_ok=True)
  settings = dict(do_lower_case=do_lower_case, max_seq_length=max_seq_length, doc_stride=doc_stride,
                  max_query_length=max_query_length, version_2_with_negative=version_2_with_negative,
                  split_cjk_chars=split_cjk_chars, n_best_size=n_best_size, max_answer_length=max_answer_length,
                  null_score_diff_threshold=null_score_diff_threshold)
  with strategy.scope():
    model = BertQuestionAnswerer(config)
  results = {}
  if do_train:
    hyper = dict(train_batch_size=train_batch_size, num_train_epochs=num_train_epochs, learning_rate=learning_rate,
                 warmup_proportion=warmup_proportion, seed=seed, save_checkpoints_steps=save_checkpoints_steps,
                 log_steps=log_steps, steps_per_execution=steps_per_execution)
    results.update(_train(model, settings, tokenizer, strategy, output_dir, train_file, init_checkpoint, hyper))
    common.copy_atomic(vocab_file, os.path.join(output_dir, "vocab.txt"))
    common.write_atomic(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
    common.write_atomic(os.path.join(output_dir, SQUAD_CONFIG), json.dumps(settings, indent=2) + "\n")
  else:
    results["global_step"] = restore_for_inference(model, output_dir, init_checkpoint)
  if do_predict and training.is_chief(strategy):
    results.update(predict_and_evaluate(model, predict_file, settings, tokenizer, output_dir, predict_batch_size,
                                        verbose_logging, eval_language))
  if export_dir:
    squad_export.export_squad(model, export_dir, vocab_file, **{k: settings[k] for k in squad_export.SETTINGS})
    results["export_dir"] = export_dir
  return results


def export_from_dir(model_dir, export_dir):
  """Exports the newest checkpoint of a run_squad `output_dir` (its squad_config.json, vocab and
  bert_config) as a SavedModel answering raw (question, context) pairs; returns export_dir."""
  settings = read_squad_config(model_dir)
  if settings is None:
    raise ValueError("%s: file not found (is %s a run_squad output_dir?)" % (os.path.join(model_dir, SQUAD_CONFIG),
                                                                            model_dir))
  model = BertQuestionAnswerer(BertConfig.from_json_file(os.path.join(model_dir, "bert_config.json")))
  restore_for_inference(model, model_dir, None)
  return squad_export.export_squad(model, export_dir, os.path.join(model_dir, "vocab.txt"),
                                   **{k: settings[k] for k in squad_export.SETTINGS})
