"""The library behind `scripts/extract_features.py`: Google's `extract_features.py` on TF2.

Input: one example a line, `text_a` or `text_a ||| text_b`. Output: one JSON object a line, in the
original's format and key order (`linex_index` is the original's spelling):

  {"linex_index": 0, "features": [{"token": "[CLS]", "layers": [{"index": -1, "values": [...]}, ...]},
                                  ...]}

Only real tokens are written (no padding); values are rounded to 6 decimals, as the original.
Batches are formed by length (`bucket_batches`), so short lines are not padded to max_seq_length;
attention masks make the values on real tokens the same either way.
"""

import collections
import json
import os
import re

import numpy as np
import tensorflow as tf

from bert_tf2 import checks, tokenization

InputExample = collections.namedtuple("InputExample", ["unique_id", "text_a", "text_b"])
InputFeatures = collections.namedtuple(
    "InputFeatures", ["unique_id", "tokens", "input_ids", "input_mask", "input_type_ids"])

_PAIR = re.compile(r"^(.*) \|\|\| (.*)$")


def split_pair(line):
  """`"a ||| b"` -> ("a", "b"); `"a"` -> ("a", None). Strips the line first, as the original."""
  line = line.strip()
  match = _PAIR.match(line)
  return (line, None) if match is None else (match.group(1), match.group(2))


def read_lines(input_file, errors="strict"):
  """Lines of a UTF-8 file as the original's `tf.gfile` `readline()` sees them (`checks.read_lines`).

  Splits on `\\n` only and drops every `\\r` (so `"a\\rb"` is one line `"ab"`); a final line without
  `\\n` still counts. Non-UTF-8 bytes are a ValueError naming file and line, unless `errors` is
  "replace" or "ignore".
  """
  return checks.read_lines(input_file, errors)


def read_examples(input_file, errors="strict"):
  """[InputExample] of a file, one per line (blank lines included, as the original), ids from 0."""
  return [InputExample(i, *split_pair(line)) for i, line in enumerate(read_lines(input_file, errors))]


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Pops tokens from the end of the longer list (ties: `tokens_b`) until both fit `max_length`."""
  while len(tokens_a) + len(tokens_b) > max_length:
    (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()


def convert_example(example, seq_length, tokenizer):
  """One InputExample -> InputFeatures, unpadded: `[CLS] a [SEP] (b [SEP])`, truncated to fit.

  Returns InputFeatures whose `input_ids`, `input_mask`, `input_type_ids` are lists of length
  len(tokens) <= seq_length (padding is added per batch by `pad_batch`).
  """
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  if tokens_b:
    truncate_seq_pair(tokens_a, tokens_b, seq_length - 3)  # [CLS], [SEP], [SEP]
  else:
    tokens_a = tokens_a[:seq_length - 2]  # [CLS], [SEP]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  type_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    type_ids += [1] * (len(tokens_b) + 1)
  ids = tokenizer.convert_tokens_to_ids(tokens)
  return InputFeatures(example.unique_id, tokens, ids, [1] * len(ids), type_ids)


def convert_examples_to_features(examples, seq_length, tokenizer):
  """[InputExample] -> [InputFeatures] (unpadded; see `convert_example`)."""
  if seq_length < 3:
    raise ValueError("max_seq_length must be at least 3, got %d" % seq_length)
  return [convert_example(e, seq_length, tokenizer) for e in examples]


def bucket_batches(lengths, batch_size):
  """Groups indexes of similar length: sorted by length (longest first), cut every `batch_size`.

  Example: bucket_batches([3, 9, 4, 8], 2) -> [array([1, 3]), array([2, 0])].
  """
  order = np.argsort(-np.asarray(lengths), kind="stable")
  return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(features, pad_to_multiple=1):
  """[InputFeatures] -> dict of int32 [B, T] arrays (`input_ids`, `input_mask`, `segment_ids`).

  T is the longest feature, rounded up to `pad_to_multiple` (fewer distinct shapes to trace).
  """
  length = max(len(f.input_ids) for f in features)
  length = -(-length // pad_to_multiple) * pad_to_multiple
  batch = {k: np.zeros([len(features), length], np.int32) for k in ("input_ids", "input_mask", "segment_ids")}
  for row, f in enumerate(features):
    n = len(f.input_ids)
    batch["input_ids"][row, :n] = f.input_ids
    batch["input_mask"][row, :n] = f.input_mask
    batch["segment_ids"][row, :n] = f.input_type_ids
  return batch


def layer_outputs_fn(model, layer_indexes):
  """A traced function: batch dict -> float32 [len(layer_indexes), B, T, D] of `model`'s layers."""
  num_layers = model.config.num_hidden_layers
  for index in layer_indexes:
    if not -num_layers <= index < num_layers:
      raise ValueError("layer index %d out of range for a %d-layer model" % (index, num_layers))
  spec = tf.TensorSpec([None, None], tf.int32)

  @tf.function(input_signature=[{"input_ids": spec, "input_mask": spec, "segment_ids": spec}])
  def run(batch):
    layers = model(batch, training=False)["encoder_outputs"]
    return tf.stack([layers[i] for i in layer_indexes])
  return run


def feature_json(feature, layer_indexes, values):
  """The original's JSON line for one example; `values` float [len(layer_indexes), T, D]."""
  tokens = []
  for position, token in enumerate(feature.tokens):
    layers = [collections.OrderedDict([("index", index), ("values", [round(float(x), 6) for x in values[j, position]])])
              for j, index in enumerate(layer_indexes)]
    tokens.append(collections.OrderedDict([("token", token), ("layers", layers)]))
  return json.dumps(collections.OrderedDict([("linex_index", feature.unique_id), ("features", tokens)]))


def extract_features(model, features, layer_indexes, batch_size=32):
  """Yields (InputFeatures, float32 [len(layer_indexes), len(tokens), D]) in input order.

  Args:
    model: a `BertModel`.
    features: list of InputFeatures (from `convert_examples_to_features`).
    layer_indexes: list of int, indexes into the model's encoder layers (-1 = last).
    batch_size: int, examples per model call.
  """
  run = layer_outputs_fn(model, layer_indexes)
  pending, next_to_yield = {}, 0
  # Batches go longest first; results are held until every earlier example is out.
  for batch_indexes in bucket_batches([len(f.input_ids) for f in features], batch_size):
    batch = [features[i] for i in batch_indexes]
    outputs = run(pad_batch(batch, pad_to_multiple=8)).numpy()
    for row, i in enumerate(batch_indexes):
      pending[i] = outputs[:, row, :len(features[i].tokens)]
    while next_to_yield in pending:
      yield features[next_to_yield], pending.pop(next_to_yield)
      next_to_yield += 1


def write_features_jsonl(model, features, layer_indexes, output_file, batch_size=32):
  """Writes the JSONL file under a temporary name, then renames it. Returns the line count."""
  tmp = "%s.tmp-%d" % (output_file, os.getpid())
  count = 0
  try:
    with open(tmp, "w", encoding="utf-8") as writer:
      for feature, values in extract_features(model, features, layer_indexes, batch_size):
        writer.write(feature_json(feature, layer_indexes, values) + "\n")
        count += 1
    os.replace(tmp, output_file)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return count


def run_extract_features(input_file, output_file, layers, bert_config_file, init_checkpoint, vocab_file,
                         do_lower_case=True, max_seq_length=128, batch_size=32, errors="strict"):
  """The whole job of the original `extract_features.py`. Returns the number of lines written.

  Args:
    layers: list of int layer indexes (the original's `--layers=-1,-2,-3,-4`).
    errors: non-UTF-8 input is an error naming file and line ("strict"), or "replace"/"ignore".
    Other args: as the original's flags. `init_checkpoint` may also be a Hugging Face directory
      or one of our TF2 checkpoints (anything `bert_tf2.checkpoints.load_checkpoint` reads).
  """
  from bert_tf2 import checkpoints, modeling  # pylint: disable=g-import-not-at-top
  config = modeling.BertConfig.from_json_file(bert_config_file)
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  if max_seq_length > config.max_position_embeddings:
    raise ValueError("max_seq_length %d exceeds max_position_embeddings %d of %s"
                     % (max_seq_length, config.max_position_embeddings, bert_config_file))
  features = convert_examples_to_features(read_examples(input_file, errors), max_seq_length, tokenizer)
  model = modeling.BertModel(config)
  status = checkpoints.load_checkpoint(model, init_checkpoint)
  if not status.loaded:
    raise ValueError("%s: no BERT variables found in this checkpoint" % init_checkpoint)
  return write_features_jsonl(model, features, layers, output_file, batch_size)
