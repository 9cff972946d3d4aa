"""What the jobs share: the run's set-up (seed, dtype policy, strategy), seeding a fresh run from a
checkpoint, restoring for inference, settings files, atomic outputs."""

import json
import os
import shutil

import keras
import tensorflow as tf

from bert_tf2.core import distribute
from bert_tf2.checkpoints import load_checkpoint


def default_strategy(strategy):
  """`strategy`, or TensorFlow's default (no-op) strategy when None."""
  return strategy or tf.distribute.get_strategy()


def set_up_run(seed, mixed_precision, strategy):
  """A job's first steps: seeds Python, NumPy and TF (not when `seed` is None), sets Keras' dtype
  policy ("none", "mixed_float16" or "mixed_bfloat16"), and returns `default_strategy(strategy)`."""
  if seed is not None:
    keras.utils.set_random_seed(seed)
  distribute.set_mixed_precision(mixed_precision)
  return default_strategy(strategy)


def init_from_checkpoint(model, init_checkpoint):
  """An `init_fn` for `training.train`: loads `init_checkpoint` into `model` (None when not given)."""
  if not init_checkpoint:
    return None
  return lambda: load_checkpoint(model, init_checkpoint)


def read_settings(model_dir, name):
  """The JSON settings a training job wrote to `model_dir/name` (`classifier_config.json`, ...), or None."""
  path = os.path.join(model_dir, name)
  if not os.path.isfile(path):
    return None
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def restore_for_inference(model, output_dir, init_checkpoint, what, head_variables,
                          action="evaluate or predict with"):
  """Weights for eval/predict without training: output_dir's newest checkpoint, else init_checkpoint.

  Args:
    what: str, the model in messages ("classifier", "tagger", "SQuAD model").
    head_variables: checkpoint names of the task head (Google's names, e.g. "output_weights"): a
      checkpoint without them was never fine-tuned for the task, which is a ValueError.
    action: str, what the job does with the weights, for the message when there are none.

  Returns the global step of the weights (0 for init_checkpoint).
  """
  source = output_dir if tf.train.latest_checkpoint(output_dir) else init_checkpoint
  if not source:
    raise ValueError("%s: no checkpoint to %s (train first with do_train, or pass init_checkpoint of a "
                     "fine-tuned %s)" % (output_dir, action, what))
  status = load_checkpoint(model, source)
  if any(name in head_variables for name in status.missing):
    raise ValueError("%s: has no %s weights (%s); fine-tune it with do_train first" % (source, what, head_variables[0]))
  return latest_step(output_dir) if source == output_dir else 0


def latest_step(output_dir):
  """The step of the newest checkpoint in `output_dir`, 0 when there is none."""
  latest = tf.train.latest_checkpoint(output_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else 0


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


def write_key_values(path, results):
  """`key = value` lines in sorted order (the original's eval_results.txt), written atomically."""
  write_atomic(path, "".join("%s = %s\n" % (key, results[key]) for key in sorted(results)))
