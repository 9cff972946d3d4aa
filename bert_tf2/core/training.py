"""A custom training loop for bert_tf2 task models under any `tf.distribute` strategy.

    result = train(model, optimizer, loss_fn, dataset, strategy, output_dir="runs/x",
                   num_train_steps=1000, save_checkpoints_steps=200, global_batch_size=32)

What it does:
  * `steps_per_execution` steps per `tf.function` call (the original's `iterations_per_loop`), each
    step optionally XLA-compiled (`jit_compile`); losses are divided by the number of replicas so
    the all-reduced gradients are those of the global batch.
  * Checkpoints: `tf.train.Checkpoint(model=, optimizer=, step=, iterator=)` as `output_dir/model.ckpt-N`
    (TF1 Estimator's names, with its `checkpoint` state file) every
    `save_checkpoints_steps` (a `tf.train.CheckpointManager` keeping the last few). A run started
    again with the same `output_dir` resumes from the newest one at its exact step, with the
    optimizer's moments and step, and the input iterator's position (file offsets and shuffle
    buffers as far as tf.data checkpoints them; dropout randomness is not restored). Without a
    checkpoint, `init_fn()` seeds the weights of the fresh run (e.g. from `init_checkpoint`).
  * Observability: a log line every `log_steps`, "step N/M, x examples/s, ETA h:mm:ss: loss = ...,
    <metrics>, learning_rate = ...", and the same values as TensorBoard scalars in `output_dir/train`.
  * Multi-worker: only the chief writes `output_dir`; other workers write their (identical)
    checkpoints to a temporary `output_dir/.worker_<id>` that is removed at the end.

`loss_fn(model, features, training)` returns `(loss, sums)`: the float32 scalar loss of this
replica's batch and a dict of float32 scalar sums (summed over steps and replicas); `metrics_fn(sums)`
turns totals into the numbers that are logged.
"""

import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.framework import summary_pb2

# What tensorboard's `tf.summary.scalar` writes, without needing the tensorboard package installed.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR)


CHECKPOINT_NAME = "model.ckpt"


def write_scalars(writer, values, step):
  """Writes {name: float} as TensorBoard scalars at `step` and flushes."""
  with writer.as_default():
    for name, value in values.items():
      tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR_METADATA)
  writer.flush()


def is_chief(strategy):
  """True unless this is a non-chief worker of a multi-worker strategy."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  return resolver.task_type in ("chief", None) or (
      resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())


def _worker_dir(strategy, output_dir):
  if is_chief(strategy):
    return output_dir
  return os.path.join(output_dir, ".worker_%d" % strategy.cluster_resolver.task_id)


def _reduce_sums(strategy, per_replica):
  return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}


def make_train_function(model, optimizer, loss_fn, strategy, jit_compile=False):
  """tf.function(iterator, num_steps) running `num_steps` >= 1 training steps; returns summed metrics."""
  num_replicas = strategy.num_replicas_in_sync

  def replica_step(features):
    with tf.GradientTape() as tape:
      loss, sums = loss_fn(model, features, True)
      scaled_loss = loss / num_replicas
      if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        scaled_loss = optimizer.scale_loss(scaled_loss)
    variables = model.trainable_variables
    # A variable the loss does not use (the pooler of a dual encoder) has no gradient: left out.
    pairs = [(g, v) for g, v in zip(tape.gradient(scaled_loss, variables), variables) if g is not None]
    optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
    return dict(sums, loss_sum=loss, num_batches=tf.constant(1.0))

  if jit_compile:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def train_steps(iterator, num_steps):
    totals = _reduce_sums(strategy, strategy.run(replica_step, args=(next(iterator),)))
    for _ in tf.range(num_steps - 1):
      sums = _reduce_sums(strategy, strategy.run(replica_step, args=(next(iterator),)))
      totals = {k: totals[k] + sums[k] for k in totals}
    return totals

  return train_steps


def with_loss_scaling(optimizer):
  """`optimizer` wrapped in a `LossScaleOptimizer` under the mixed_float16 policy (float16 gradients
  underflow without loss scaling); unchanged otherwise or when it is wrapped already. The one place
  jobs get loss scaling."""
  if (keras.mixed_precision.global_policy().name == "mixed_float16"
      and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
    return keras.optimizers.LossScaleOptimizer(optimizer)
  return optimizer


def progress_line(step, num_train_steps, examples_per_second, eta_seconds):
  """"step 50/200, 123.5 examples/s, ETA 1:02:05": where a long job is and when it will end."""
  eta = int(round(max(eta_seconds, 0.0)))
  return "step %d/%d, %.1f examples/s, ETA %d:%02d:%02d" % (
      step, num_train_steps, examples_per_second, eta // 3600, eta // 60 % 60, eta % 60)


def _next_stop(step, num_train_steps, *every):
  stop = num_train_steps
  for n in every:
    if n and n > 0:
      stop = min(stop, (step // n + 1) * n)
  return stop


def _checkpoint_manager(model, optimizer, step, iterator, strategy, write_dir, max_to_keep):
  """(tf.train.Checkpoint of model, optimizer, step and, when given and trackable, the input
  iterator; its CheckpointManager writing `model.ckpt-<step>` into `write_dir`)."""
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
  if iterator is not None:
    try:
      checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step, iterator=iterator)
    except ValueError:  # a DistributedIterator over several replicas is not trackable
      logging.warning("The input position is not checkpointed under %s: a resumed run restarts "
                      "its input pipeline.", type(strategy).__name__)
  # TF1 Estimator's names (`model.ckpt-<step>` + a `checkpoint` state file), which users chain
  # into other jobs as `--init_checkpoint=$OUTPUT_DIR/model.ckpt-20`.
  manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=max_to_keep, step_counter=step,
                                       checkpoint_name=CHECKPOINT_NAME)
  return checkpoint, manager


def _logged_values(totals, metrics_fn, optimizer, examples_per_second):
  """What a log line (and TensorBoard) shows for a window of steps: loss, metrics, lr, examples/s."""
  values = {"loss": float(totals["loss_sum"] / totals["num_batches"])}
  values.update(metrics_fn(totals) if metrics_fn else {})
  values["learning_rate"] = float(np.asarray(optimizer.learning_rate))
  values["examples_per_second"] = examples_per_second
  return values


def train(model, optimizer, loss_fn, dataset, strategy, output_dir, num_train_steps,
          save_checkpoints_steps, global_batch_size, metrics_fn=None, init_fn=None,
          steps_per_execution=1, log_steps=100, jit_compile=False, max_checkpoints_to_keep=5,
          checkpoint_iterator=True, on_checkpoint=None, on_steps=None):
  """Trains `model` to `num_train_steps`, resuming from the newest checkpoint in `output_dir`.

  Args:
    model, optimizer: built under `strategy.scope()`.
    loss_fn: (model, features dict, training bool) -> (float32 loss, {name: float32 sum}).
    dataset: tf.data.Dataset of GLOBAL batches (`global_batch_size` examples), repeating.
    strategy: the `tf.distribute.Strategy` the model was built under.
    output_dir: str, checkpoints and TensorBoard `train/` events.
    num_train_steps, save_checkpoints_steps, steps_per_execution, log_steps: int.
    global_batch_size: int, examples per step over all replicas (for examples/s).
    metrics_fn: {name: total} -> {name: float}, what is logged besides loss; None = nothing.
    init_fn: called once when no checkpoint exists (e.g. loads `init_checkpoint` weights).
    jit_compile: bool, XLA-compile each step.
    checkpoint_iterator: bool, save the input position in checkpoints.
    on_checkpoint: called as `on_checkpoint(step)` after each checkpoint, and with step 0 before
      a fresh run starts (e.g. a held-out evaluation, for a learning curve).
    on_steps: called as `on_steps(step, sums)` after every `tf.function` call, with the float sums
      (`loss_sum`, `num_batches`, loss_fn's) of the steps it ran (one when steps_per_execution is 1).

  Returns:
    dict: `global_step`, `resumed_from` (step or None) and the last logged metrics (what the last
    log line shows).
  """
  chief = is_chief(strategy)
  write_dir = _worker_dir(strategy, output_dir)
  os.makedirs(write_dir, exist_ok=True)
  with strategy.scope():
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    optimizer = with_loss_scaling(optimizer)
    optimizer.build(model.trainable_variables)
  if strategy.num_replicas_in_sync == 1:
    iterator = iter(dataset)  # a plain tf.data iterator: checkpointable
  else:
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
  checkpoint, manager = _checkpoint_manager(model, optimizer, step, iterator if checkpoint_iterator else None,
                                            strategy, write_dir, max_checkpoints_to_keep)
  latest = tf.train.latest_checkpoint(output_dir)
  resumed_from = None
  if latest:
    checkpoint.restore(latest).assert_existing_objects_matched()
    resumed_from = int(step.numpy())
    logging.info("Resumed from %s at step %d", latest, resumed_from)
  else:
    if init_fn is not None:
      init_fn()
    if on_checkpoint is not None:
      on_checkpoint(0)

  train_steps = make_train_function(model, optimizer, loss_fn, strategy, jit_compile)
  writer = (tf.summary.create_file_writer(os.path.join(output_dir, "train")) if chief
            else tf.summary.create_noop_writer())
  current = int(step.numpy())
  totals, window_start, window_steps = None, time.time(), 0
  run_start, run_start_step = window_start, current
  last = {}
  while current < num_train_steps:
    stop = min(current + max(steps_per_execution, 1),
               _next_stop(current, num_train_steps, save_checkpoints_steps, log_steps))
    sums = train_steps(iterator, tf.constant(stop - current, tf.int32))
    step.assign_add(stop - current)
    window_steps += stop - current
    current = stop
    sums = {k: v.numpy() for k, v in sums.items()}
    totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
    if on_steps is not None:
      on_steps(current, sums)
    if (log_steps and current % log_steps == 0) or current == num_train_steps:
      last = _logged_values(totals, metrics_fn, optimizer,
                            window_steps * global_batch_size / max(time.time() - window_start, 1e-9))
      seconds_per_step = (time.time() - run_start) / (current - run_start_step)
      logging.info("%s: %s", progress_line(current, num_train_steps, last["examples_per_second"],
                                             seconds_per_step * (num_train_steps - current)),
                   ", ".join("%s = %.4g" % kv for kv in last.items()))
      write_scalars(writer, last, current)
      totals, window_start, window_steps = None, time.time(), 0
    if save_checkpoints_steps and (current % save_checkpoints_steps == 0 or current == num_train_steps):
      manager.save(checkpoint_number=current)
      if on_checkpoint is not None:
        on_checkpoint(current)
  if int(step.numpy()) and not tf.train.latest_checkpoint(write_dir):
    manager.save(checkpoint_number=int(step.numpy()))
  writer.close()
  if not chief:
    shutil.rmtree(write_dir, ignore_errors=True)
  return dict(last, global_step=int(step.numpy()), resumed_from=resumed_from)


def evaluate(model, loss_fn, dataset, strategy, max_steps=None, jit_compile=False):
  """Sums `loss_fn`'s metrics over `dataset` (at most `max_steps` batches) with training=False.

  Returns the totals dict, with `loss_sum` and `num_batches` added.
  """
  def replica_step(features):
    loss, sums = loss_fn(model, features, False)
    return dict(sums, loss_sum=loss, num_batches=tf.constant(1.0))

  if jit_compile:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def eval_step(features):
    return _reduce_sums(strategy, strategy.run(replica_step, args=(features,)))

  totals = None
  for i, features in enumerate(strategy.experimental_distribute_dataset(dataset)):
    if max_steps is not None and i >= max_steps:
      break
    sums = {k: v.numpy() for k, v in eval_step(features).items()}
    totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
  if totals is None:
    raise ValueError("the evaluation dataset is empty")
  return totals
