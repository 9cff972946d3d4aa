"""What the jobs share: the default strategy, seeding a fresh run, atomic outputs."""

import os
import shutil

import tensorflow as tf

from bert_tf2.checkpoints import load_checkpoint


def default_strategy(strategy):
  """`strategy`, or TensorFlow's default (no-op) strategy when None."""
  return strategy or tf.distribute.get_strategy()


def init_from_checkpoint(model, init_checkpoint):
  """An `init_fn` for `training.train`: loads `init_checkpoint` into `model` (None when not given)."""
  if not init_checkpoint:
    return None
  return lambda: load_checkpoint(model, init_checkpoint)


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
