"""The run_classifier.py job: fine-tune, evaluate, predict and export a `BertClassifier`.

    strategy = tf.distribute.get_strategy()          # scripts build it from --distribution_strategy
    results = run_classifier(processors.get_processor("mrpc"), "glue/MRPC", "out/", "vocab.txt",
                             "bert_config.json", init_checkpoint="bert_model.ckpt",
                             do_train=True, do_eval=True, strategy=strategy)

Outputs in `output_dir`: checkpoints, TensorBoard `train/` and `eval/`, `eval_results.txt`
("key = value" lines), `test_results.tsv` (class probabilities per test example, as the original),
`classifier_config.json` (labels, pairing, casing, max_seq_length: what export needs), and copies
of the vocab and bert_config.
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import optimization, tokenization
from bert_tf2.core import checks
from bert_tf2.core import export
from bert_tf2.core import features
from bert_tf2.core import training
from bert_tf2.tasks.classification.model import BertClassifier, f1_scores, loss_fn, metrics_fn
from bert_tf2.core import jobs as common

CLASSIFIER_CONFIG = "classifier_config.json"


def make_dataset(inputs, labels, batch_size, training, seed=None):
  """tf.data of {input_ids, input_mask, segment_ids, label_ids}; training: shuffled, repeated, full batches."""
  dataset = tf.data.Dataset.from_tensor_slices(dict(inputs, label_ids=labels))
  if training:
    dataset = dataset.shuffle(min(len(labels), 100000), seed=seed).repeat()
  return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def predict_logits(model, inputs, batch_size):
  """float32 logits [N, num_labels] of numpy `inputs`, in order."""
  forward = tf.function(lambda x: model(x, training=False))
  dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
  return np.concatenate([forward(x).numpy() for x in dataset]).astype(np.float32)


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
  return common.read_settings(model_dir, CLASSIFIER_CONFIG)


def restore_for_inference(model, output_dir, init_checkpoint):
  """Weights for eval/predict without training (`common.restore_for_inference`); returns their step."""
  return common.restore_for_inference(model, output_dir, init_checkpoint, "classifier",
                                      ("output_weights", "classifier.weight"))


def _saved_settings(output_dir, init_checkpoint):
  """classifier_config.json of output_dir, else of the fine-tuned `init_checkpoint`'s directory
  (`--do_predict --init_checkpoint=$TRAINED_CLASSIFIER` into a new output_dir keeps its labels)."""
  saved = read_classifier_config(output_dir)
  if saved is None and init_checkpoint:
    path = os.fspath(init_checkpoint)
    saved = read_classifier_config(path if os.path.isdir(path) else os.path.dirname(path) or ".")
  return saved


def _label_list(processor, data_dir, saved):
  if saved is not None:
    return saved["labels"]
  try:
    return processor.get_labels()
  except ValueError:  # a generic processor learns its labels from the train file
    processor.get_train_examples(data_dir)
    return processor.get_labels()


def _features(examples, label_list, max_seq_length, tokenizer, multi_label):
  """(numpy inputs, labels, number of truncated examples) of `examples`."""
  converted = features.convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label)
  inputs, labels = features.features_to_arrays(converted, multi_label)
  return inputs, labels, sum(1 for f in converted if f.num_truncated)


def _train(model, examples, settings, tokenizer, strategy, output_dir, init_checkpoint, hyper):
  """Fine-tunes `model` on `examples`; returns (global_step, number of truncated examples)."""
  inputs, labels, truncated = _features(examples, settings["labels"], settings["max_seq_length"], tokenizer,
                                        settings["multi_label"])
  batch_size = hyper["train_batch_size"]
  num_train_steps = max(int(len(labels) / batch_size * hyper["num_train_epochs"]), 1)
  with strategy.scope():
    optimizer = optimization.create_optimizer(hyper["learning_rate"], num_train_steps,
                                              int(num_train_steps * hyper["warmup_proportion"]))
  logging.info("Training on %d examples, batch %d, %d steps", len(labels), batch_size, num_train_steps)
  dataset = make_dataset(inputs, labels, batch_size, True, hyper["seed"])
  trained = training.train(model, optimizer, loss_fn, dataset, strategy, output_dir, num_train_steps,
                           hyper["save_checkpoints_steps"], batch_size, metrics_fn=metrics_fn,
                           init_fn=common.init_from_checkpoint(model, init_checkpoint),
                           log_steps=hyper["log_steps"], steps_per_execution=hyper["steps_per_execution"])
  return trained["global_step"], truncated


def run_classifier(processor, data_dir, output_dir, vocab_file, bert_config_file, init_checkpoint=None,
                   do_lower_case=True, max_seq_length=128, do_train=False, do_eval=False,
                   do_predict=False, train_batch_size=32, eval_batch_size=8, predict_batch_size=8,
                   learning_rate=5e-5, num_train_epochs=3.0, warmup_proportion=0.1,
                   save_checkpoints_steps=1000, log_steps=100, strategy=None, mixed_precision="none",
                   steps_per_execution=1, export_dir=None, threshold=0.5, seed=12345):
  """Fine-tunes, evaluates, predicts and exports, as the original run_classifier.py.

  Args:
    processor: a `processors.DataProcessor`.
    strategy: a `tf.distribute.Strategy`; None = the default strategy. Batch sizes are global.
    mixed_precision: "none", "mixed_float16" or "mixed_bfloat16".
    export_dir: also write a raw-text SavedModel there (`export.export_classifier`).
    Other args: as the original's flags.

  Returns {name: value}: train_truncated, the eval results, num_predictions, export_dir (those run).
  A run restarted with the same `output_dir` resumes from its newest checkpoint.
  """
  if not (do_train or do_eval or do_predict):
    raise ValueError("at least one of do_train, do_eval or do_predict must be true")
  # Every input and output is checked before any work; output_dir is made once they all passed.
  config = checks.check_model_files(vocab_file, bert_config_file, init_checkpoint)
  checks.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  for name, path in (("output_dir", output_dir), ("export_dir", export_dir)):
    if path:
      checks.check_output_dir(path, name)
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  strategy = common.set_up_run(seed, mixed_precision, strategy)
  train_examples = processor.get_train_examples(data_dir) if do_train else None
  saved = None if do_train else _saved_settings(output_dir, init_checkpoint)
  settings = {"labels": _label_list(processor, data_dir, saved), "multi_label": processor.is_multi_label,
              "is_pair": saved["is_pair"] if saved else None, "max_seq_length": max_seq_length,
              "do_lower_case": do_lower_case}
  os.makedirs(output_dir, exist_ok=True)
  with strategy.scope():
    model = BertClassifier(config, len(settings["labels"]), multi_label=settings["multi_label"])
  results = {}
  if do_train:
    hyper = dict(train_batch_size=train_batch_size, num_train_epochs=num_train_epochs, learning_rate=learning_rate,
                 warmup_proportion=warmup_proportion, seed=seed, save_checkpoints_steps=save_checkpoints_steps,
                 log_steps=log_steps, steps_per_execution=steps_per_execution)
    global_step, results["train_truncated"] = _train(model, train_examples, settings, tokenizer, strategy,
                                                     output_dir, init_checkpoint, hyper)
    settings["is_pair"] = any(e.text_b for e in train_examples)
    common.copy_atomic(vocab_file, os.path.join(output_dir, "vocab.txt"))
    common.write_atomic(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
    common.write_atomic(os.path.join(output_dir, CLASSIFIER_CONFIG), json.dumps(settings, indent=2) + "\n")
  else:
    global_step = restore_for_inference(model, output_dir, init_checkpoint)
  if do_eval:
    results.update(_run_eval(model, processor.get_dev_examples(data_dir), settings, tokenizer, output_dir,
                             global_step, eval_batch_size, threshold, strategy))
  if do_predict:
    results["num_predictions"] = _run_predict(model, processor.get_test_examples(data_dir), settings, tokenizer,
                                              output_dir, predict_batch_size)
  if export_dir:
    export.export_classifier(model, export_dir, vocab_file, do_lower_case, max_seq_length, settings["labels"],
                             bool(settings["is_pair"]), threshold)
    results["export_dir"] = export_dir
  return results


def _run_eval(model, examples, settings, tokenizer, output_dir, global_step, batch_size, threshold, strategy):
  """Evaluates on `examples`: eval_results.txt and TensorBoard scalars in `output_dir/eval`."""
  inputs, labels, truncated = _features(examples, settings["labels"], settings["max_seq_length"], tokenizer,
                                        settings["multi_label"])
  results = dict(evaluate(model, inputs, labels, batch_size, threshold), global_step=global_step,
                 eval_truncated=truncated)
  if settings["is_pair"] is None:
    settings["is_pair"] = any(e.text_b for e in examples)
  if training.is_chief(strategy):
    common.write_key_values(os.path.join(output_dir, "eval_results.txt"), results)
    writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
    training.write_scalars(writer, {k: v for k, v in results.items() if k.startswith("eval_")}, global_step)
    writer.close()
  logging.info("Eval results: %s", results)
  return results


def _run_predict(model, examples, settings, tokenizer, output_dir, batch_size):
  """Writes test_results.tsv (one row of probabilities per example); returns the row count."""
  inputs, _, _ = _features(examples, settings["labels"], settings["max_seq_length"], tokenizer,
                           settings["multi_label"])
  probabilities = model.probabilities(predict_logits(model, inputs, batch_size)).numpy()
  common.write_atomic(os.path.join(output_dir, "test_results.tsv"),
                      "".join("\t".join(str(p) for p in row) + "\n" for row in probabilities))
  if settings["is_pair"] is None:
    settings["is_pair"] = any(e.text_b for e in examples)
  return len(probabilities)
