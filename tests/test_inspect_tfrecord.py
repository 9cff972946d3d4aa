"""data_prep.inspect_tfrecord: decodes records (without TF) and prints masks and labels."""

import os
import subprocess
import sys

import tensorflow as tf

from data_prep import create_pretraining_data_lib as lib
from data_prep import inspect_tfrecord

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGLISH = os.path.join(REPO, "tests", "data", "dp_english.txt")


def make_records(tmp_path, vocab):
  path = str(tmp_path / "out.tfrecord")
  config = lib.InstanceConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1)
  lib.create_pretraining_data([ENGLISH], [path], vocab, True, config)
  return path


def test_parser_matches_tf_example(tmp_path, minilm_dir):
  path = make_records(tmp_path, os.path.join(minilm_dir, "vocab.txt"))
  ours = [inspect_tfrecord.parse_example(r) for r in inspect_tfrecord.read_tfrecord(path)]
  for raw, parsed in zip(tf.data.TFRecordDataset(path), ours):
    feature = tf.train.Example.FromString(raw.numpy()).features.feature
    assert parsed == {k: list(v.int64_list.value) or list(v.float_list.value) for k, v in feature.items()}


def test_script_prints_masks_and_labels(tmp_path, minilm_dir):
  vocab = os.path.join(minilm_dir, "vocab.txt")
  path = make_records(tmp_path, vocab)
  result = subprocess.run([sys.executable, "-m", "data_prep.inspect_tfrecord", path, "--vocab_file=" + vocab,
                           "--max_records=2"], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 0, result.stderr
  assert result.stdout.count("record ") == 2
  assert "[CLS]" in result.stdout and "[[MASK]→" in result.stdout and "next_sentence_label=" in result.stdout
  assert "masked: " in result.stdout
