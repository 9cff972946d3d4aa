"""Examples -> model inputs: the one home of `InputExample`, `InputFeatures` and packing.

    example = InputExample("train-1", "the movie was great", label="1")
    features = convert_examples_to_features([example], ["0", "1"], 128, tokenizer)
    inputs, labels = features_to_arrays(features)   # {input_ids, input_mask, segment_ids}: int32 [N, 128]

Every task packs text the original's way: `[CLS] a [SEP]` (segment 0) `b [SEP]` (segment 1), a
pair truncated longest-first (ties trim b), a single text cut to max_seq_length - 2, zero padding.
`pad=False` keeps features at their own length for batching by length (`bucket_batches`,
`pad_batch`), as feature extraction and sentence embeddings do. `bert_tf2.fast_tokenizer.pack_inputs`
is the same packing inside a TensorFlow graph (tested equal).

`max_seq_length` follows one rule everywhere (`checks.check_max_seq_length`): an int, at least 3
(`[CLS] x [SEP]`; pretraining records, which always hold two non-empty segments, need 5), at most
the model's max_position_embeddings, and never silently clamped.
"""

import dataclasses
import re
import typing

import numpy as np
from absl import logging

from bert_tf2.core import checks
from bert_tf2.core.checks import check_max_seq_length

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


@dataclasses.dataclass
class InputExample:
  """One example: `text_a` (and `text_b` for pair tasks), a label (a list for multi-label tasks).

  `guid` is any id (extract_features' `unique_id` is an int); `source` ("file:line") names where
  it was read, for error messages.
  """
  guid: typing.Any
  text_a: str
  text_b: typing.Optional[str] = None
  label: typing.Any = None
  source: typing.Optional[str] = None


@dataclasses.dataclass
class InputFeatures:
  """One example as model inputs: int lists of length max_seq_length (or its own length with
  `pad=False`), plus its label id(s).

  label_id: int for single-label tasks, a multi-hot list of float for multi-label ones, None
    without a label list.
  num_truncated: how many word pieces were dropped to fit max_seq_length.
  tokens: the word pieces, `[CLS]` and `[SEP]` included (no padding); guid: the example's.
  """
  input_ids: list
  input_mask: list
  segment_ids: list
  label_id: typing.Any = None
  is_real_example: bool = True
  num_truncated: int = 0
  tokens: typing.Optional[list] = None
  guid: typing.Any = None


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Pops from the end of the longer list (ties: `tokens_b`) until len(a) + len(b) <= max_length."""
  while len(tokens_a) + len(tokens_b) > max_length:
    (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()


def _label_id(example, label_list, multi_label):
  """The label id of `example` (multi-hot list for multi-label); None without a label list."""
  if label_list is None:
    return None
  if example.label is None:  # test sets: the first label, as the original
    return [0.0] * len(label_list) if multi_label else 0
  label_map = {label: i for i, label in enumerate(label_list)}
  where = example.source or example.guid
  labels = example.label if multi_label else [example.label]
  if multi_label and not isinstance(labels, (list, tuple)):
    raise ValueError("%s: multi-label example needs a list of labels, got %r" % (where, example.label))
  for label in labels:
    if label not in label_map:
      raise ValueError("%s: label %r is not one of get_labels(): %s"
                       % (where, label, ", ".join(map(str, label_map))))
  if not multi_label:
    return label_map[example.label]
  hot = [0.0] * len(label_list)
  for label in labels:
    hot[label_map[label]] = 1.0
  return hot


def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer, multi_label=False,
                           pad=True):
  """InputExample -> InputFeatures, as the original function of this name.

  Args:
    ex_index: int, the example's position (the original logs the first 5).
    example: InputExample; `label` None (test sets) maps to the first label.
    label_list: list of label strings (a label id is its position), or None for unlabeled use.
    max_seq_length: int, T >= 3.
    tokenizer: a `FullTokenizer`.
    multi_label: bool, `example.label` is a list and `label_id` becomes multi-hot.
    pad: bool, pad the int lists with zeros to T; False keeps them at len(tokens).
  """
  label_id = _label_id(example, label_list, multi_label)
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  num_tokens = len(tokens_a) + len(tokens_b or [])
  if tokens_b:
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)  # [CLS] a [SEP] b [SEP]
  else:
    tokens_a = tokens_a[:max_seq_length - 2]  # [CLS] a [SEP]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  padding = [0] * (max_seq_length - len(input_ids)) if pad else []
  if ex_index < 5 and label_list is not None:
    logging.info("*** Example %s ***\ntokens: %s\nlabel: %s (id = %s)", example.guid,
                 " ".join(tokens), example.label, label_id)
  return InputFeatures(
      input_ids=input_ids + padding, input_mask=[1] * len(input_ids) + padding,
      segment_ids=segment_ids + padding, label_id=label_id,
      num_truncated=num_tokens - len(tokens_a) - len(tokens_b or []), tokens=tokens, guid=example.guid)


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label=False, pad=True):
  """[InputExample] -> [InputFeatures]; logs how many examples were truncated."""
  check_max_seq_length(max_seq_length)
  features = [convert_single_example(i, e, label_list, max_seq_length, tokenizer, multi_label, pad)
              for i, e in enumerate(examples)]
  truncated = sum(1 for f in features if f.num_truncated)
  if truncated:
    logging.info("%d of %d examples were longer than max_seq_length=%d and were truncated",
                 truncated, len(features), max_seq_length)
  return features


def features_to_arrays(features, multi_label=False):
  """Padded [InputFeatures] -> ({input_ids, input_mask, segment_ids: int32 [N, T]}, labels [N] or [N, L])."""
  inputs = {name: np.array([getattr(f, name) for f in features], np.int32).reshape(len(features), -1)
            for name in INPUT_NAMES}
  if all(f.label_id is None for f in features):  # unlabelled text (dual encoder, embeddings)
    return inputs, None
  labels = np.array([f.label_id for f in features], np.float32 if multi_label else np.int32)
  return inputs, labels


def bucket_batches(lengths, batch_size):
  """Groups indexes of similar length: sorted by length (longest first), cut every `batch_size`.

  Example: bucket_batches([3, 9, 4, 8], 2) -> [array([1, 3]), array([2, 0])].
  """
  order = np.argsort(-np.asarray(lengths), kind="stable")
  return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(features, pad_to_multiple=1):
  """Unpadded [InputFeatures] -> dict of int32 [B, T] arrays (`input_ids`, `input_mask`, `segment_ids`).

  T is the longest feature, rounded up to `pad_to_multiple` (fewer distinct shapes to trace).
  """
  length = max(len(f.input_ids) for f in features)
  length = -(-length // pad_to_multiple) * pad_to_multiple
  batch = {k: np.zeros([len(features), length], np.int32) for k in INPUT_NAMES}
  for row, f in enumerate(features):
    n = len(f.input_ids)
    for name in INPUT_NAMES:
      batch[name][row, :n] = getattr(f, name)
  return batch


def texts_to_batch(tokenizer, texts, max_seq_length):
  """[str] -> one padded batch dict (int32 [B, T], T = the longest text): single texts, no labels."""
  examples = [InputExample(i, text) for i, text in enumerate(texts)]
  return pad_batch(convert_examples_to_features(examples, None, max_seq_length, tokenizer, pad=False))


# --- Text lines: the input format of extract_features.py and the embedding tools. ---

_PAIR = re.compile(r"^(.*) \|\|\| (.*)$")


def split_pair(line):
  """`"a ||| b"` -> ("a", "b"); `"a"` -> ("a", None). Strips the line first, as the original."""
  line = line.strip()
  match = _PAIR.match(line)
  return (line, None) if match is None else (match.group(1), match.group(2))


def lines_to_examples(lines):
  """[str] -> [InputExample], one per line (`a ||| b` is a pair), guids 0, 1, ..."""
  return [InputExample(i, *split_pair(line)) for i, line in enumerate(lines)]


def read_examples(input_file, errors="strict"):
  """[InputExample] of a UTF-8 file, one per line (blank lines included, as the original), guids from 0.

  Lines are split as the original's `tf.gfile` readline (`checks.read_lines`); non-UTF-8 bytes are a
  ValueError naming file and line unless `errors` is "replace" or "ignore".
  """
  return lines_to_examples(checks.read_lines(input_file, errors))
