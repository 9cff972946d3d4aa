"""bert_tf2.tasks.pretraining.data: TFRecords from create_pretraining_data -> batched tf.data dicts."""

import os

import pytest
import tensorflow as tf

from bert_tf2.tasks.pretraining import data as pretraining_data
from data_prep import create_pretraining_data_lib as lib

ENGLISH = os.path.join(os.path.dirname(__file__), "data", "dp_english.txt")
KEYS = {"input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
        "masked_lm_weights", "next_sentence_labels"}


@pytest.fixture(scope="module")
def records(tmp_path_factory, minilm_dir):
  directory = tmp_path_factory.mktemp("records")
  paths = [str(directory / ("part-%d.tfrecord" % i)) for i in range(2)]
  config = lib.InstanceConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2)
  summary = lib.create_pretraining_data([ENGLISH], paths, os.path.join(minilm_dir, "vocab.txt"), True, config)
  return str(directory / "part-*.tfrecord"), summary.instances


def test_eval_dataset_yields_every_full_batch(records):
  pattern, num_instances = records
  dataset = pretraining_data.make_pretraining_dataset(pattern, 32, 5, batch_size=4, is_training=False)
  batches = list(dataset)
  assert len(batches) == num_instances // 4
  batch = batches[0]
  assert set(batch) == KEYS
  assert batch["input_ids"].shape == (4, 32) and batch["input_ids"].dtype == tf.int32
  assert batch["masked_lm_positions"].shape == (4, 5) and batch["masked_lm_ids"].dtype == tf.int32
  assert batch["masked_lm_weights"].dtype == tf.float32
  assert batch["next_sentence_labels"].shape == (4, 1)
  mask = batch["input_mask"].numpy()
  assert ((batch["input_ids"].numpy() != 0) == (mask == 1)).all()


def test_training_dataset_repeats_and_shuffles(records):
  pattern, num_instances = records
  dataset = pretraining_data.make_pretraining_dataset(pattern, 32, 5, batch_size=8, is_training=True, seed=1)
  batches = list(dataset.take(num_instances // 8 + 3))  # past one epoch: repeated
  assert len(batches) == num_instances // 8 + 3
  assert batches[0]["input_ids"].shape == (8, 32)


def test_wrong_lengths_are_one_clear_error(records):
  pattern, _ = records
  with pytest.raises(ValueError, match="max_seq_length=32, max_predictions_per_seq=5 but max_seq_length=128"):
    pretraining_data.make_pretraining_dataset(pattern, 128, 20, batch_size=4, is_training=True)
  with pytest.raises(ValueError, match="matches no file"):
    pretraining_data.make_pretraining_dataset("/nonexistent/*.tfrecord", 32, 5, batch_size=4, is_training=True)
