"""The one runner: fine-tune, evaluate, predict and export any `Task`, as the original scripts do.

    strategy = tf.distribute.get_strategy()          # scripts build it from --distribution_strategy
    results = run(ClassificationTask(processors.get_processor("mrpc"), "glue/MRPC"), "out/", "vocab.txt",
                  "bert_config.json", init_checkpoint="bert_model.ckpt", do_train=True, do_eval=True)

In order, for every family alike:
  1. Checks before any work: the model files (UTF-8 vocab that fits the config's vocab_size, special
     tokens, a readable checkpoint), the max_seq_length rule, writable outputs, the family's own.
  2. Settings: the family's, from the data when training, else from what training wrote
     (`task.settings_file` in output_dir, or beside a fine-tuned `init_checkpoint`).
  3. do_train: `core.training.train` (resumes from output_dir's newest checkpoint, else starts from
     init_checkpoint, whose missing heads stay initialized and are logged); then the vocab, the
     config and the settings are written to output_dir atomically.
     Otherwise: restore output_dir's newest checkpoint, else init_checkpoint; a model variable the
     checkpoint does not hold is a ValueError naming every one (never a silently random head).
  4. do_eval: `task.evaluate` -> eval_results.txt and TensorBoard `eval/`; do_predict: `task.predict`
     (its files); export_dir: `task.export`.
"""

import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import checkpoints, optimization, tokenization
from bert_tf2.core import checks, distribute, training
from bert_tf2.modeling import BertConfig


def run(task, output_dir, vocab_file, bert_config_file, init_checkpoint=None, do_lower_case=True,
        max_seq_length=128, do_train=False, do_eval=False, do_predict=False, train_batch_size=32,
        eval_batch_size=8, predict_batch_size=8, learning_rate=5e-5, num_train_epochs=3.0,
        warmup_proportion=0.1, save_checkpoints_steps=1000, log_steps=100, strategy=None,
        mixed_precision="none", steps_per_execution=1, export_dir=None, seed=12345, layerwise_lr_decay=1.0):
  """Runs `task` as the original run_classifier.py runs MRPC; returns {name: value} of what ran.

  Args:
    task: a `bert_tf2.tasks.base.Task`, holding its data sources and options.
    strategy: a `tf.distribute.Strategy`; None = the default strategy. Batch sizes are global.
    mixed_precision: "none", "mixed_float16" or "mixed_bfloat16".
    export_dir: also write the family's raw-text SavedModel there.
    layerwise_lr_decay: float in (0, 1]: encoder layer l of L trains at learning_rate * decay^(L - l),
      the embeddings at decay^(L + 1), heads at the full rate (`optimization.layerwise_lr_multipliers`);
      1.0 = every variable at learning_rate. A task's own rates (`task.lr_multipliers`) come first.
    Other args: as the original's flags of the same names.

  A run restarted with the same `output_dir` resumes from its newest checkpoint.
  """
  if not (do_train or do_eval or do_predict):
    raise ValueError("at least one of do_train, do_eval or do_predict must be true")
  config = checks.check_model_files(vocab_file, bert_config_file, init_checkpoint)
  checks.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  for name, path in (("output_dir", output_dir), ("export_dir", export_dir)):
    if path:
      checks.check_output_dir(path, name)
  optimization.layerwise_lr_multipliers(config.num_hidden_layers, layerwise_lr_decay)  # checks the value
  task.check(config, max_seq_length, {name for name, on in (("train", do_train), ("eval", do_eval),
                                                             ("predict", do_predict)) if on})
  tokenization.validate_case_matches_checkpoint(do_lower_case, init_checkpoint)  # as the original scripts
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  strategy = set_up_run(seed, mixed_precision, strategy)
  saved = None if do_train else saved_settings(task, output_dir, init_checkpoint)
  settings = dict(task.settings(saved), max_seq_length=max_seq_length, do_lower_case=do_lower_case)
  train_inputs = task.train_inputs(settings, tokenizer) if do_train else None
  with strategy.scope():
    model = task.build_model(config, settings)
  results = {}
  if do_train:
    hyper = dict(batch_size=train_batch_size, epochs=num_train_epochs, learning_rate=learning_rate,
                 warmup_proportion=warmup_proportion, save_checkpoints_steps=save_checkpoints_steps,
                 log_steps=log_steps, steps_per_execution=steps_per_execution, seed=seed,
                 lr_multipliers=(task.lr_multipliers(settings, learning_rate)
                                 + optimization.layerwise_lr_multipliers(config.num_hidden_layers, layerwise_lr_decay)))
    global_step = _train(task, model, train_inputs, strategy, output_dir, init_checkpoint, hyper)
    results.update(train_inputs.counts)
    _write_model_files(output_dir, vocab_file, config, task.settings_file, settings)
  else:
    global_step = restore(model, output_dir, init_checkpoint, task)
    os.makedirs(output_dir, exist_ok=True)  # after the restore: a run without weights leaves nothing
  results["global_step"] = global_step
  chief = training.is_chief(strategy)
  if do_eval:
    scores = task.evaluate(model, settings, tokenizer, eval_batch_size)
    results.update(_write_eval(scores, output_dir, global_step, chief))
  if do_predict and chief:
    results.update(task.predict(model, settings, tokenizer, predict_batch_size, output_dir))
  if export_dir:
    results["export_dir"] = task.export(model, export_dir, vocab_file, settings)
  return results


def set_up_run(seed, mixed_precision, strategy):
  """Seeds Python, NumPy and TF (not when `seed` is None), sets Keras' dtype policy ("none",
  "mixed_float16", "mixed_bfloat16") and returns `strategy` or TF's default one."""
  if seed is not None:
    keras.utils.set_random_seed(seed)
  distribute.set_mixed_precision(mixed_precision)
  return strategy or tf.distribute.get_strategy()


def read_settings(model_dir, name):
  """The JSON settings a training run wrote to `model_dir/name`, or None."""
  path = os.path.join(model_dir, name)
  if not os.path.isfile(path):
    return None
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def saved_settings(task, output_dir, init_checkpoint):
  """What training wrote: output_dir's settings file, else the one beside a fine-tuned init_checkpoint
  (`--do_predict --init_checkpoint=$TRAINED` into a new output_dir keeps its labels)."""
  saved = read_settings(output_dir, task.settings_file)
  if saved is None and init_checkpoint:
    path = os.fspath(init_checkpoint)
    saved = read_settings(path if os.path.isdir(path) else os.path.dirname(path) or ".", task.settings_file)
  return saved


def _train(task, model, inputs, strategy, output_dir, init_checkpoint, hyper):
  """Fine-tunes `model` on `inputs` through the one loop; returns the global step."""
  batch_size = hyper["batch_size"]
  num_train_steps = max(int(inputs.num_examples / batch_size * hyper["epochs"]), 1)
  with strategy.scope():
    optimizer = optimization.create_optimizer(hyper["learning_rate"], num_train_steps,
                                              int(num_train_steps * hyper["warmup_proportion"]),
                                              lr_multipliers=hyper["lr_multipliers"])
  if hyper["lr_multipliers"]:
    logging.info("Learning-rate multipliers (variable path regex, factor): %s", hyper["lr_multipliers"])
  logging.info("Training on %d examples (%d rows), batch %d, %d steps", inputs.num_examples,
               len(inputs.arrays["input_ids"]), batch_size, num_train_steps)
  init_fn = (lambda: checkpoints.load_checkpoint(model, init_checkpoint)) if init_checkpoint else None
  trained = training.train(model, optimizer, task.loss_fn, task.make_dataset(inputs.arrays, batch_size, hyper["seed"]),
                           strategy, output_dir, num_train_steps, hyper["save_checkpoints_steps"], batch_size,
                           metrics_fn=task.metrics_fn, init_fn=init_fn, log_steps=hyper["log_steps"],
                           steps_per_execution=hyper["steps_per_execution"])
  return trained["global_step"]


def restore(model, output_dir, init_checkpoint, task):
  """Weights for eval / predict / export without training: output_dir's newest checkpoint, else
  `init_checkpoint`. Every variable of `model` must be in it. Returns their step (0 for init_checkpoint)."""
  source = output_dir if output_dir and tf.train.latest_checkpoint(output_dir) else init_checkpoint
  if not source:
    raise ValueError("%s: no checkpoint to %s (train first with do_train, or pass init_checkpoint of a "
                     "fine-tuned %s)" % (output_dir, task.inference, task.name))
  status = checkpoints.load_checkpoint(model, source)
  if status.missing:
    raise ValueError("%s: has no weights for %s of the %s; fine-tune it with do_train first"
                     % (source, ", ".join(status.missing), task.name))
  return latest_step(output_dir) if source == output_dir else 0


def latest_step(output_dir):
  """The step of the newest checkpoint in `output_dir`, 0 when there is none."""
  latest = tf.train.latest_checkpoint(output_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else 0


def _write_model_files(output_dir, vocab_file, config, settings_file, settings):
  """vocab.txt, bert_config.json and the settings file in output_dir: what eval, predict and export read."""
  copy_atomic(vocab_file, os.path.join(output_dir, "vocab.txt"))
  write_atomic(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
  write_atomic(os.path.join(output_dir, settings_file), json.dumps(settings, indent=2) + "\n")


def _write_eval(scores, output_dir, global_step, chief):
  """eval_results.txt and TensorBoard scalars (`eval/`) of `scores`; returns its values with global_step."""
  values = dict(scores.values, global_step=global_step)
  if chief:
    text = scores.text + "global_step = %d\n" % global_step if scores.text is not None else None
    write_key_values(os.path.join(output_dir, "eval_results.txt"), values, text)
    writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
    training.write_scalars(writer, {k: v for k, v in values.items() if k.startswith("eval_")}, global_step)
    writer.close()
  logging.info("Eval results: %s", values)
  return values


def predict_batches(forward, arrays, batch_size):
  """`forward(batch)` over numpy `arrays` {name: [N, ...]} in batches, outputs concatenated in order.

  `forward` returns a tensor or a dict of tensors; the result is the same structure of numpy arrays
  [N, ...]. The one batched forward pass of every family (classifier logits, span logits, ...).
  """
  dataset = tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)
  outputs = [tf.nest.map_structure(lambda t: t.numpy(), forward(batch)) for batch in dataset]
  if not outputs:
    return {}
  return tf.nest.map_structure(lambda *parts: np.concatenate(parts), *outputs)


def write_atomic(path, text):
  """Writes `text` (UTF-8) to `path` through a temporary file, so readers never see half a file."""
  tmp = "%s.tmp-%d" % (path, os.getpid())
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


def copy_atomic(source, path):
  """Copies `source` to `path` through a temporary file (a no-op when they are the same file)."""
  if os.path.exists(path) and os.path.samefile(source, path):
    return
  tmp = "%s.tmp-%d" % (path, os.getpid())
  shutil.copyfile(source, tmp)
  os.replace(tmp, path)


def write_key_values(path, results, text=None):
  """`key = value` lines in sorted order (the original's eval_results.txt), or `text`, written atomically."""
  write_atomic(path, text if text is not None else "".join("%s = %s\n" % (k, results[k]) for k in sorted(results)))
