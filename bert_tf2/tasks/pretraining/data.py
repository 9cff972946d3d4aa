"""Reads pretraining TFRecords (from `data_prep.create_pretraining_data`) into batched `tf.data`.

The original's `run_pretraining.input_fn_builder` in TF2 form. Each element is a dict, keyed
like the TFRecord features and the model inputs (B = batch_size, L = max_seq_length,
P = max_predictions_per_seq):

  input_ids, input_mask, segment_ids            int32 [B, L]
  masked_lm_positions, masked_lm_ids            int32 [B, P]
  masked_lm_weights                             float32 [B, P]
  next_sentence_labels                          int32 [B, 1]

Training reads the files in a shuffled, repeated order with a parallel interleave, shuffles
records, and drops the last partial batch so that every batch has a static shape (TPU).
"""

import tensorflow as tf

INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")


def feature_spec(max_seq_length, max_predictions_per_seq):
  """The `tf.io.parse_single_example` spec of a pretraining record."""
  L, P = max_seq_length, max_predictions_per_seq  # pylint: disable=invalid-name
  return {
      "input_ids": tf.io.FixedLenFeature([L], tf.int64),
      "input_mask": tf.io.FixedLenFeature([L], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([L], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([P], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([P], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([P], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }


def expand_patterns(input_patterns):
  """Files of comma-separated glob(s) (str or list of str); ValueError if a pattern matches nothing."""
  if isinstance(input_patterns, str):
    input_patterns = input_patterns.split(",")
  files = []
  for pattern in input_patterns:
    matches = sorted(tf.io.gfile.glob(pattern))
    if not matches:
      raise ValueError("pretraining data pattern %r matches no file" % pattern)
    files.extend(matches)
  return files


def check_record_lengths(path, max_seq_length, max_predictions_per_seq):
  """Raises a one-line ValueError if the first record of `path` was written with other lengths.

  Without this check a mismatch surfaces mid-training as TF's
  `InvalidArgumentError: Key: input_ids.  Can't parse serialized Example.` (or "Number of int64
  values != expected"), which does not say which flags to fix.
  """
  for raw in tf.data.TFRecordDataset(path).take(1):
    features = tf.train.Example.FromString(raw.numpy()).features.feature
    lengths = {}
    for key in feature_spec(1, 1):
      if key not in features:
        raise ValueError("%s: record has no feature %r; not a BERT pretraining file" % (path, key))
      value = features[key]
      lengths[key] = len(value.int64_list.value) or len(value.float_list.value)
    if (lengths["input_ids"], lengths["masked_lm_ids"]) != (max_seq_length, max_predictions_per_seq):
      raise ValueError(
          "%s: records have max_seq_length=%d, max_predictions_per_seq=%d but max_seq_length=%d, "
          "max_predictions_per_seq=%d were requested; use the values the data was created with"
          % (path, lengths["input_ids"], lengths["masked_lm_ids"], max_seq_length, max_predictions_per_seq))


def check_record_ids(path, vocab_size, config_name="bert_config.json", max_records=100):
  """Raises a one-line ValueError if a token id in the first `max_records` records of `path` does
  not index the embedding table of `vocab_size` rows (records made with a larger vocab than the
  config's); without it the first embedding lookup fails deep in TensorFlow."""
  for raw in tf.data.TFRecordDataset(path).take(max_records):
    features = tf.train.Example.FromString(raw.numpy()).features.feature
    for key in ("input_ids", "masked_lm_ids"):
      ids = features[key].int64_list.value if key in features else ()
      if ids and max(ids) >= vocab_size:
        raise ValueError("%s: records hold token id %d but %s says vocab_size=%d: were they made with "
                         "another vocab?" % (path, max(ids), config_name, vocab_size))


def decode_record(record, spec):
  """Parses one serialized example; int64 features become int32 (as the original, for TPUs)."""
  example = tf.io.parse_single_example(record, spec)
  return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}


def make_pretraining_dataset(input_patterns, max_seq_length, max_predictions_per_seq, batch_size,
                             is_training, num_cpu_threads=4, shuffle_buffer_size=100, repeat=None,
                             seed=None):
  """Builds the pretraining input pipeline.

  Args:
    input_patterns: str (comma-separated globs) or list of globs of TFRecord files.
    max_seq_length: int, L; must equal the value the records were created with.
    max_predictions_per_seq: int, P; likewise.
    batch_size: int, B; the last partial batch is dropped.
    is_training: bool; shuffle files and records (and repeat, by default).
    num_cpu_threads: int, files read in parallel (interleave cycle length) and parsing threads.
    shuffle_buffer_size: int, record shuffle buffer (the original used 100).
    repeat: bool or None; None = repeat when training. (The original's eval also repeated, to run
      a fixed number of steps; pass repeat=True for that.)
    seed: int or None, makes training order reproducible.

  Returns:
    `tf.data.Dataset` of dicts as in the module docstring.

  Raises:
    ValueError: a pattern matches nothing, or the records have other lengths than requested.
  """
  files = expand_patterns(input_patterns)
  for path in files[:16]:
    check_record_lengths(path, max_seq_length, max_predictions_per_seq)
  repeat = is_training if repeat is None else repeat
  spec = feature_spec(max_seq_length, max_predictions_per_seq)
  if is_training:
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    if repeat:
      dataset = dataset.repeat()
    dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset, cycle_length=min(num_cpu_threads, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
  else:
    dataset = tf.data.TFRecordDataset(files)
    if repeat:
      dataset = dataset.repeat()
  dataset = dataset.map(lambda record: decode_record(record, spec), num_parallel_calls=num_cpu_threads)
  dataset = dataset.batch(batch_size, drop_remainder=True)
  return dataset.prefetch(tf.data.AUTOTUNE)
