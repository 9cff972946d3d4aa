"""training.train on a tiny Keras model: the progress line, TensorBoard events, per-step sums."""

import logging
import os
import re

import keras
import numpy as np
import tensorflow as tf

from bert_tf2.core import training


def _linear_problem(tmp_path, num_train_steps, log_steps=2, on_steps=None):
  """y = 2x fitted by one Dense unit; returns (train()'s result, model)."""
  keras.utils.set_random_seed(0)
  model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
  x = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
  dataset = tf.data.Dataset.from_tensor_slices({"x": x, "y": 2 * x}).repeat().batch(4)

  def loss_fn(model, features, training):
    loss = tf.reduce_mean(tf.square(model(features["x"], training=training) - features["y"]))
    return loss, {}

  result = training.train(model, keras.optimizers.SGD(0.1), loss_fn, dataset, tf.distribute.get_strategy(),
                          str(tmp_path), num_train_steps, save_checkpoints_steps=0, global_batch_size=4,
                          log_steps=log_steps, on_steps=on_steps)
  return result, model


def test_progress_line_hand_worked():
  assert training.progress_line(50, 200, 123.45, 3725) == "step 50/200, 123.5 examples/s, ETA 1:02:05"
  assert training.progress_line(7, 7, 9.0, -0.2) == "step 7/7, 9.0 examples/s, ETA 0:00:00"


def test_log_lines_show_step_of_total_rate_and_eta(tmp_path, caplog):
  # Earlier tests (absl app runs) can stop the absl logger propagating: attach the capture to it directly.
  absl_logger = logging.getLogger("absl")
  absl_logger.addHandler(caplog.handler)
  try:
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="absl"):
      result, _ = _linear_problem(tmp_path, 4)
  finally:
    absl_logger.removeHandler(caplog.handler)
  records = list({id(r): r for r in caplog.records}.values())
  lines = [r.getMessage() for r in records if re.match(r"step \d+/4, ", r.getMessage())]
  assert len(lines) == 2, [r.getMessage() for r in records]
  assert re.match(r"step 2/4, \d+\.\d examples/s, ETA \d+:\d\d:\d\d: loss = ", lines[0]), lines[0]
  assert lines[1].startswith("step 4/4, ") and "ETA 0:00:00" in lines[1]
  # The returned loss is the one of the last log line.
  assert "loss = %.4g," % result["loss"] in lines[1]


def test_training_writes_tensorboard_events_and_reports_each_step(tmp_path):
  steps = []
  result, _ = _linear_problem(tmp_path, 6, log_steps=3, on_steps=lambda step, sums: steps.append((step, sums)))
  assert [s for s, _ in steps] == [1, 2, 3, 4, 5, 6]
  assert all(sums["num_batches"] == 1.0 for _, sums in steps)
  # The last logged loss is the mean of the last window's per-step losses.
  assert np.isclose(result["loss"], np.mean([sums["loss_sum"] for _, sums in steps[3:]]))
  events = os.listdir(tmp_path / "train")
  assert events and all(name.startswith("events.out.tfevents") for name in events)
  tags = {value.tag for event in tf.compat.v1.train.summary_iterator(str(tmp_path / "train" / events[0]))
          for value in event.summary.value}
  assert {"loss", "learning_rate", "examples_per_second"} <= tags
