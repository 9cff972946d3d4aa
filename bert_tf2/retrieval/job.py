"""The train_dual_encoder.py job: fine-tune a shared-tower `DualEncoder` through `training.train`.

    losses = run_train_dual_encoder("runs/pretrain_zh", "pairs.tsv", "runs/dual", objective="in_batch",
                                    epochs=2, batch_size=32)

Objectives and losses are `bert_tf2.retrieval.model`'s. Batches are made once up front in the order the
`rng` shuffles each epoch (row i of a batch is a pair; the others are its negatives) and trimmed to
their longest text, so the job runs the same steps as a hand-written loop would, with the loop's
checkpoints (resume in `output_dir`), progress lines and TensorBoard events in `output_dir/train`.
"""

import os
import random
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from bert_tf2 import checkpoints, modeling, optimization
from bert_tf2.core import checks
from bert_tf2.core import features
from bert_tf2.core import training
from bert_tf2.tasks import runner
from bert_tf2.retrieval.model import (OBJECTIVES, DualEncoder, hardest_negative_loss, in_batch_negative_loss,
                                simcse_loss)


def read_training_file(train_file, objective, errors="strict"):
  """`query<TAB>passage` lines -> [(query, passage)]; for "simcse" any line is a sentence.

  A line without a tab is an error (naming file and line) unless the objective is "simcse".
  Non-UTF-8 input is an error naming file and line unless `errors` is "replace" or "ignore".
  """
  items = []
  for number, line in enumerate(checks.read_lines(train_file, errors), 1):
    if not line.strip():
      continue
    fields = [f.strip() for f in line.split("\t")]
    if objective == "simcse":
      items.extend(f for f in fields if f)
    elif len(fields) != 2 or not all(fields):
      raise ValueError("%s: line %d: expected query<TAB>passage" % (train_file, number))
    else:
      items.append(tuple(fields))
  return items


def make_loss_fn(objective, margin=0.2, scale=30.0, temperature=0.05):
  """`training.train`'s loss_fn for `objective`: both sides of a batch through the model, one loss."""
  if objective not in OBJECTIVES:
    raise ValueError("objective must be one of %s, got %r" % (", ".join(OBJECTIVES), objective))

  def loss_fn(model, batch, training):
    first = model(batch["first"], training=training)  # (B, D), normalized
    second = model(batch["second"], training=training)  # simcse: the same texts, other dropout
    if objective == "in_batch":
      loss = in_batch_negative_loss(first, second, margin, scale)
    elif objective == "hardest":
      loss = hardest_negative_loss(first, second, margin)
    else:
      loss = simcse_loss(first, second, temperature)
    return loss, {}
  return loss_fn


def _side(tokenizer, texts, max_seq_length):
  """int32 [N, T] arrays of unpadded-then-padded single texts."""
  converted = features.convert_examples_to_features(
      [features.InputExample(i, t) for i, t in enumerate(texts)], None, max_seq_length, tokenizer)
  return features.features_to_arrays(converted)[0]


def make_dataset(tokenizer, items, objective, batch_size, epochs, max_seq_length, rng):
  """tf.data of {"first", "second": {input_ids, input_mask, segment_ids: int32 [B, t]}}, repeating.

  Each epoch shuffles `items` with `rng` and cuts full batches (the last partial one is dropped);
  t is the batch's longest text. Returns (dataset, number of steps).
  """
  steps_per_epoch = len(items) // batch_size
  if steps_per_epoch < 1:
    raise ValueError("%d training items give no batch of %d" % (len(items), batch_size))
  order = []
  for _ in range(epochs):
    epoch = list(range(len(items)))
    rng.shuffle(epoch)
    order += epoch[:steps_per_epoch * batch_size]
  if objective == "simcse":
    first = second = _side(tokenizer, items, max_seq_length)
  else:
    first = _side(tokenizer, [q for q, _ in items], max_seq_length)
    second = _side(tokenizer, [p for _, p in items], max_seq_length)

  def gather(indexes):
    def side(arrays):
      rows = {k: tf.gather(v, indexes) for k, v in arrays.items()}
      length = tf.maximum(tf.reduce_max(tf.reduce_sum(rows["input_mask"], axis=1)), 1)  # trim padding
      return {k: v[:, :length] for k, v in rows.items()}
    return {"first": side(first), "second": side(second)}

  dataset = tf.data.Dataset.from_tensor_slices(np.array(order, np.int64)).batch(batch_size).map(gather)
  return dataset.repeat().prefetch(tf.data.AUTOTUNE), steps_per_epoch * epochs


def train_dual_encoder(model, tokenizer, pairs, objective="in_batch", epochs=1, batch_size=32, learning_rate=5e-5,
                       max_seq_length=64, margin=0.2, scale=30.0, temperature=0.05, warmup_proportion=0.1,
                       rng=None, log_every=20, output_dir=None, strategy=None, save_checkpoints_steps=1000):
  """Fine-tunes `model` (a DualEncoder built under `strategy`) in place; returns the per-step losses.

  Args:
    tokenizer: a `FullTokenizer`.
    pairs: list of (query, passage) str pairs; for "simcse" a list of sentences (str) or pairs,
      whose every text is used as a sentence.
    objective: one of `retrieval.OBJECTIVES`.
    batch_size: int, B, the global batch: in-batch negatives per query are B - 1, with several replicas
      too (`retrieval.global_candidates`); the last partial batch is dropped.
    learning_rate, warmup_proportion: the original BERT optimizer (AdamW, warmup, linear decay).
    rng: `random.Random`-like with `shuffle`, for the batch order each epoch; default seed 12345.
    log_every: int, steps between progress lines (0: only the last step).
    output_dir: str or None, checkpoints every `save_checkpoints_steps` and at the end (a rerun
      resumes) and TensorBoard `train/`; None: a temporary directory, removed at the end.
    strategy: a `tf.distribute.Strategy`, None = the default one.
  The last log line (and `train/`'s last "loss") shows `final_logged_loss(losses, log_every)`.
  """
  if objective not in OBJECTIVES:
    raise ValueError("objective must be one of %s, got %r" % (", ".join(OBJECTIVES), objective))
  checks.check_max_seq_length(max_seq_length, model.encoder.config.max_position_embeddings)
  rng = rng or random.Random(12345)
  items = [t for p in pairs for t in ((p,) if isinstance(p, str) else p)] if objective == "simcse" else list(pairs)
  dataset, num_steps = make_dataset(tokenizer, items, objective, batch_size, epochs, max_seq_length, rng)
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    optimizer = optimization.create_optimizer(learning_rate, num_steps, int(num_steps * warmup_proportion))
  losses = []
  work_dir = output_dir or tempfile.mkdtemp(prefix="dual_encoder-")
  try:
    training.train(model, optimizer, make_loss_fn(objective, margin, scale, temperature), dataset, strategy,
                   work_dir, num_steps, save_checkpoints_steps=min(save_checkpoints_steps, num_steps),
                   global_batch_size=batch_size, log_steps=log_every,
                   on_steps=lambda step, sums: losses.append(float(sums["loss_sum"] / sums["num_batches"])))
  finally:
    if output_dir is None:
      shutil.rmtree(work_dir, ignore_errors=True)
  return losses


def final_logged_loss(losses, log_every):
  """What the last progress line of `train_dual_encoder` shows: the mean loss of the steps since the
  line before (lines come every `log_every` steps and at the last one).

  Example: final_logged_loss([4.0, 3.0, 2.0, 1.0, 0.5], 2) -> 0.5; (..., 0) -> mean of all five.
  """
  start = (len(losses) - 1) // log_every * log_every if log_every else 0
  return float(np.mean(losses[start:]))


def run_train_dual_encoder(model_path, train_file, output_dir, objective="in_batch", vocab_file=None,
                           bert_config_file=None, errors="strict", strategy=None, mixed_precision="none", seed=None,
                           **train_kwargs):
  """Loads a BERT (any `modeling.from_pretrained` path), trains a DualEncoder, saves it.

  Writes `output_dir/bert_model.ckpt` (Google names), `bert_config.json` and `vocab.txt`, so the result
  loads anywhere a Google BERT does, beside the training checkpoints and TensorBoard `train/`.
  Returns the list of per-step losses. An unwritable `output_dir` fails before training; `errors` is
  for non-UTF-8 lines of `train_file` (see `read_training_file`).

  Args (besides those above and `train_dual_encoder`'s, passed on as kwargs):
    strategy: a `tf.distribute.Strategy`; None = the default strategy. `batch_size` is global.
    mixed_precision: "none", "mixed_float16" or "mixed_bfloat16" (Keras' dtype policy for the run).
    seed: int or None, seeds Python, NumPy and TF (weights' dropout); None leaves them as they are.
  """
  checks.check_output_dir(output_dir)
  items = read_training_file(train_file, objective, errors)
  strategy = runner.set_up_run(seed, mixed_precision, strategy)
  if os.path.exists(os.path.join(model_path, "saved_model.pb")):
    raise ValueError("%s: a SavedModel cannot be fine-tuned; give a checkpoint" % model_path)
  with strategy.scope():  # the encoder's variables are the dual encoder's: made under the strategy
    pretrained, tokenizer, found = modeling.from_pretrained(model_path, vocab_file, bert_config_file)
    model = DualEncoder(pretrained)
  os.makedirs(output_dir, exist_ok=True)
  losses = train_dual_encoder(model, tokenizer, items, objective=objective, output_dir=output_dir,
                              strategy=strategy, **train_kwargs)
  checkpoints.save_google_checkpoint(model.encoder, os.path.join(output_dir, "bert_model.ckpt"))
  runner.copy_atomic(found["vocab_file"], os.path.join(output_dir, "vocab.txt"))
  return losses
