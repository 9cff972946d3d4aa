"""The run_ner.py job: fine-tune, evaluate, predict and export a `BertTagger` on CoNLL files.

    strategy = tf.distribute.get_strategy()          # scripts build it from --distribution_strategy
    results = run_ner(tagging_data.get_tagging_processor("conll"), "data/ner", "out/", "vocab.txt",
                      "bert_config.json", init_checkpoint="bert_model.ckpt", use_crf=True,
                      do_train=True, do_eval=True, do_predict=True, strategy=strategy)

Outputs in `output_dir`: checkpoints `model.ckpt-N`, TensorBoard `train/` and `eval/`,
`eval_results.txt` (dev: entity precision / recall / F1 overall and per type, token accuracy),
`test_predictions.txt` ("token gold predicted" lines) and `test_results.txt` (the same scores on
test), `tagger_config.json` (labels, CRF, windows, casing: what export needs), copies of the vocab
and bert_config. Sentences longer than max_seq_length - 2 pieces are windowed (`doc_stride`).
"""

import json
import os
import random

import tensorflow as tf
from absl import logging

from bert_tf2 import optimization
from bert_tf2.core import features
from bert_tf2.tasks.tagging import model as tagging
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import export as tagging_export
from bert_tf2.tasks.tagging import metrics as tagging_metrics
from bert_tf2 import tokenization
from bert_tf2.core import training
from bert_tf2.core import jobs as common
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.tagging.model import BertTagger

TAGGER_CONFIG = "tagger_config.json"


def read_tagger_config(model_dir):
  """The settings a training run wrote to `model_dir/tagger_config.json`, or None."""
  return common.read_settings(model_dir, TAGGER_CONFIG)


def _restore(model, output_dir, init_checkpoint):
  """Weights for eval/predict without training (`common.restore_for_inference`); returns their step."""
  return common.restore_for_inference(model, output_dir, init_checkpoint, "tagger", ("output_weights",))


def _train(model, examples, settings, tokenizer, strategy, output_dir, init_checkpoint, hyper):
  windows = tagging_data.convert_examples_to_features(examples, settings["labels"], settings["max_seq_length"],
                                                      tokenizer, settings["doc_stride"])
  batch_size = hyper["train_batch_size"]
  num_train_steps = max(int(len(windows) / batch_size * hyper["num_train_epochs"]), 1)
  with strategy.scope():
    optimizer = optimization.create_optimizer(hyper["learning_rate"], num_train_steps,
                                              int(num_train_steps * hyper["warmup_proportion"]))
  logging.info("Training on %d sentences (%d windows), batch %d, %d steps", len(examples), len(windows),
               batch_size, num_train_steps)
  dataset = tagging.make_dataset(tagging_data.features_to_arrays(windows), batch_size, True, hyper["seed"])
  trained = training.train(model, optimizer, tagging.loss_fn, dataset, strategy, output_dir, num_train_steps,
                           hyper["save_checkpoints_steps"], batch_size, metrics_fn=tagging.metrics_fn,
                           init_fn=common.init_from_checkpoint(model, init_checkpoint),
                           log_steps=hyper["log_steps"], steps_per_execution=hyper["steps_per_execution"])
  return trained["global_step"], len(windows)


def evaluate(model, examples, settings, tokenizer, batch_size):
  """(entity scores as `tagging_metrics.entity_scores`, predicted tags per example)."""
  predicted = tagging.predict_examples(model, examples, settings["labels"], settings["max_seq_length"], tokenizer,
                                       settings["doc_stride"], batch_size)
  return tagging_metrics.entity_scores([e.tags for e in examples], predicted), predicted


def run_ner(processor, data_dir, output_dir, vocab_file, bert_config_file, init_checkpoint=None,
            do_lower_case=True, max_seq_length=128, doc_stride=64, use_crf=False, do_train=False,
            do_eval=False, do_predict=False, train_batch_size=32, eval_batch_size=8, predict_batch_size=8,
            learning_rate=5e-5, num_train_epochs=3.0, warmup_proportion=0.1, save_checkpoints_steps=1000,
            log_steps=100, strategy=None, mixed_precision="none", steps_per_execution=1, export_dir=None,
            max_train_examples=None, seed=12345):
  """Fine-tunes, evaluates (dev), predicts (test) and exports a tagger; returns {name: value}.

  Args:
    processor: a `tagging_data.ConllProcessor`.
    doc_stride: int, pieces between the starts of consecutive windows of a long sentence.
    use_crf: bool, a CRF over the tags (ignored when a trained output_dir says otherwise).
    max_train_examples: int or None, train on a seeded random subset of this many sentences.
    strategy: a `tf.distribute.Strategy`; None = the default strategy. Batch sizes are global.
    export_dir: also write a raw-text SavedModel there (`tagging_export.export_tagger`).
    Other args: as run_classifier's.
  """
  if not (do_train or do_eval or do_predict):
    raise ValueError("at least one of do_train, do_eval or do_predict must be true")
  for path in (vocab_file, bert_config_file):
    if not os.path.isfile(path):
      raise ValueError("%s: file not found" % path)
  config = BertConfig.from_json_file(bert_config_file)
  features.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  if doc_stride < 1:
    raise ValueError("doc_stride must be at least 1, got %d" % doc_stride)
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  strategy = common.set_up_run(seed, mixed_precision, strategy)
  os.makedirs(output_dir, exist_ok=True)
  saved = None if do_train else read_tagger_config(output_dir)
  if saved:
    processor.set_labels(saved["labels"], os.path.join(output_dir, TAGGER_CONFIG))
    use_crf = saved["use_crf"]
  train_examples = processor.get_train_examples(data_dir) if do_train else None
  if not saved and not do_train:
    processor.get_train_examples(data_dir)  # the tag set comes from train
  settings = {"labels": processor.get_labels(), "use_crf": use_crf, "max_seq_length": max_seq_length,
              "doc_stride": doc_stride, "do_lower_case": do_lower_case, "scheme": processor.scheme}
  with strategy.scope():
    model = BertTagger(config, len(settings["labels"]), use_crf=use_crf)
  results = {}
  if do_train:
    if max_train_examples and len(train_examples) > max_train_examples:
      train_examples = random.Random(seed).sample(train_examples, max_train_examples)
    hyper = dict(train_batch_size=train_batch_size, num_train_epochs=num_train_epochs, learning_rate=learning_rate,
                 warmup_proportion=warmup_proportion, seed=seed, save_checkpoints_steps=save_checkpoints_steps,
                 log_steps=log_steps, steps_per_execution=steps_per_execution)
    global_step, results["train_windows"] = _train(model, train_examples, settings, tokenizer, strategy, output_dir,
                                                   init_checkpoint, hyper)
    results["train_sentences"] = len(train_examples)
    common.copy_atomic(vocab_file, os.path.join(output_dir, "vocab.txt"))
    common.write_atomic(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
    common.write_atomic(os.path.join(output_dir, TAGGER_CONFIG), json.dumps(settings, indent=2) + "\n")
  else:
    global_step = _restore(model, output_dir, init_checkpoint)
  chief = training.is_chief(strategy)
  if do_eval:
    scores, _ = evaluate(model, processor.get_dev_examples(data_dir), settings, tokenizer, eval_batch_size)
    evaluation = dict(_flat(scores, "eval_"), global_step=global_step)
    if chief:
      common.write_atomic(os.path.join(output_dir, "eval_results.txt"),
                          tagging_metrics.format_scores(scores, "eval_") + "global_step = %d\n" % global_step)
      writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
      training.write_scalars(writer, {k: v for k, v in evaluation.items() if k.startswith("eval_")}, global_step)
      writer.close()
    logging.info("Eval results: %s", evaluation)
    results.update(evaluation)
  if do_predict:
    examples = processor.get_test_examples(data_dir)
    scores, predicted = evaluate(model, examples, settings, tokenizer, predict_batch_size)
    if chief:
      tagging_data.write_conll_predictions(os.path.join(output_dir, "test_predictions.txt"), examples, predicted)
      common.write_atomic(os.path.join(output_dir, "test_results.txt"), tagging_metrics.format_scores(scores, "test_"))
    results.update(_flat(scores, "test_"))
    results["num_predictions"] = len(examples)
  if export_dir:
    tagging_export.export_tagger(model, export_dir, vocab_file, do_lower_case, max_seq_length, doc_stride,
                                 settings["labels"])
    results["export_dir"] = export_dir
  return results


def _flat(scores, prefix):
  out = {prefix + k: scores[k] for k in ("precision", "recall", "f1", "token_accuracy")}
  for kind, values in scores["per_type"].items():
    out["%s%s_f1" % (prefix, kind)] = values["f1"]
  return out


def export_from_dir(model_dir, export_dir):
  """Exports the newest checkpoint of a run_ner `output_dir` (its tagger_config.json, vocab and
  bert_config) as a raw-text SavedModel; returns export_dir."""
  settings = read_tagger_config(model_dir)
  if settings is None:
    raise ValueError("%s: file not found (is %s a run_ner output_dir?)" % (os.path.join(model_dir, TAGGER_CONFIG),
                                                                          model_dir))
  model = BertTagger(BertConfig.from_json_file(os.path.join(model_dir, "bert_config.json")), len(settings["labels"]),
                     use_crf=settings["use_crf"])
  _restore(model, model_dir, None)
  return tagging_export.export_tagger(model, export_dir, os.path.join(model_dir, "vocab.txt"),
                                      settings["do_lower_case"], settings["max_seq_length"], settings["doc_stride"],
                                      settings["labels"])
