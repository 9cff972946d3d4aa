"""The original run_classifier.py's library names, for code written against it; and features files.

    from bert_tf2 import run_classifier, tokenization
    processor = run_classifier.MrpcProcessor()
    tokenizer = tokenization.FullTokenizer("vocab.txt", do_lower_case=True)
    examples = processor.get_train_examples("glue/MRPC")
    run_classifier.file_based_convert_examples_to_features(
        examples, processor.get_labels(), 128, tokenizer, "train.tf_record")
    dataset = run_classifier.file_based_dataset("train.tf_record", 128, batch_size=32, is_training=True)

The classes and functions live where they belong (`bert_tf2.core.features`: examples -> ids;
`bert_tf2.tasks.classification.processors`: task files -> examples) and are re-exported here under the original's names.
What is defined here is the original's features file: the same `tf.train.Example` records
(`input_ids`, `input_mask`, `segment_ids`, `label_ids`, `is_real_example`, int64) and their reader.
The original's Estimator pieces (`create_model`, `model_fn_builder`, `input_fn_builder`, `main`)
have TF2 replacements listed in README.md, "The original's API in bert_tf2".
"""

import os

import tensorflow as tf

from bert_tf2.core.features import (  # noqa: F401  (the original's names)
    InputExample, InputFeatures, convert_examples_to_features, convert_single_example)
from bert_tf2.tasks.classification.processors import (  # noqa: F401
    ColaProcessor, DataProcessor, MnliProcessor, MrpcProcessor, XnliProcessor)


def _int64_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def feature_to_example(feature):
  """InputFeatures -> the original's `tf.train.Example` (label_ids: one int64, or the multi-hot
  list as float for multi-label features)."""
  label = feature.label_id
  if isinstance(label, (list, tuple)):
    label_feature = tf.train.Feature(float_list=tf.train.FloatList(value=list(label)))
  else:
    label_feature = _int64_feature([0 if label is None else label])
  return tf.train.Example(features=tf.train.Features(feature={
      "input_ids": _int64_feature(feature.input_ids),
      "input_mask": _int64_feature(feature.input_mask),
      "segment_ids": _int64_feature(feature.segment_ids),
      "label_ids": label_feature,
      "is_real_example": _int64_feature([int(feature.is_real_example)]),
  }))


def file_based_convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, output_file,
                                            multi_label=False):
  """Writes one record per example to the TFRecord `output_file`, as the original (same records).

  Args:
    examples: [InputExample].
    label_list: list of label strings.
    max_seq_length: int, T; every record holds int64 lists of length T.
    tokenizer: a `FullTokenizer`.
    output_file: str; written as `output_file.tmp-PID`, renamed when complete.
    multi_label: bool, `label_ids` is the multi-hot float list of each example's labels.
  Returns:
    int, the number of records written.
  """
  features = convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label)
  temp_file = "%s.tmp-%d" % (output_file, os.getpid())
  try:
    with tf.io.TFRecordWriter(temp_file) as writer:
      for feature in features:
        writer.write(feature_to_example(feature).SerializeToString())
    os.replace(temp_file, output_file)
  except BaseException:
    if os.path.exists(temp_file):
      os.remove(temp_file)
    raise
  return len(features)


def file_based_dataset(input_files, seq_length, batch_size, is_training, drop_remainder=None, num_labels=None,
                       seed=None):
  """tf.data of the records above: dicts of int32 `input_ids`, `input_mask`, `segment_ids` [B, T],
  `label_ids` [B] (float32 [B, L] with `num_labels` L for multi-label records) and `is_real_example` [B].

  As the original's `file_based_input_fn_builder`'s input_fn: training repeats and shuffles
  (buffer of 100 records) and drops the last partial batch; `drop_remainder` defaults to
  `is_training`. The dicts are what `bert_tf2.tasks.classification.model.loss_fn` reads.
  """
  label_spec = (tf.io.FixedLenFeature([num_labels], tf.float32) if num_labels
                else tf.io.FixedLenFeature([], tf.int64))
  spec = {"input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
          "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
          "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
          "label_ids": label_spec,
          "is_real_example": tf.io.FixedLenFeature([], tf.int64)}

  def parse(record):
    example = tf.io.parse_single_example(record, spec)
    return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
            for name, value in example.items()}

  dataset = tf.data.TFRecordDataset(input_files)
  if is_training:
    dataset = dataset.repeat().shuffle(buffer_size=100, seed=seed)
  dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
  drop = is_training if drop_remainder is None else drop_remainder
  return dataset.batch(batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)
