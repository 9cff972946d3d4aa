"""Google's `extract_features.py` on TF2: layer activations of features, written as its JSONL.

Input: one example a line, `text_a` or `text_a ||| text_b`. Output: one JSON object a line, in the
original's format and key order (`linex_index` is the original's spelling):

  {"linex_index": 0, "features": [{"token": "[CLS]", "layers": [{"index": -1, "values": [...]}, ...]},
                                  ...]}

Only real tokens are written (no padding); values are rounded to 6 decimals, as the original.
Batches are formed by length (`bucket_batches`), so short lines are not padded to max_seq_length;
attention masks make the values on real tokens the same either way. Features come from
`bert_tf2.core.features` (`pad=False`); the job behind the script is `bert_tf2.embeddings.extract_features`.
"""

import collections
import json
import os

import tensorflow as tf

from bert_tf2.core.features import bucket_batches, pad_batch


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
  return json.dumps(collections.OrderedDict([("linex_index", feature.guid), ("features", tokens)]))


def extract_features(model, features, layer_indexes, batch_size=32):
  """Yields (InputFeatures, float32 [len(layer_indexes), len(tokens), D]) in input order.

  Args:
    model: a `BertModel`.
    features: list of unpadded `features.InputFeatures` (`convert_examples_to_features(..., pad=False)`).
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

