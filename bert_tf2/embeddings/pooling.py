"""Pooling token vectors into one vector a text, with padding masked out (bert-as-service's options).

    pooled = pool_layers(encoder_outputs, input_mask, pooling_layer=[-2], pooling_strategy="REDUCE_MEAN",
                         normalize=False)                       # float [B, D]

Shared by `bert_tf2.embeddings.encoder` (SentenceEncoder), `bert_tf2.retrieval.model` (the dual encoder) and the
encoder SavedModel of `bert_tf2.core.export`.
"""

import tensorflow as tf

POOLING_STRATEGIES = ("REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN", "SEP_TOKEN", "NONE")


def pool(hidden, input_mask, strategy):
  """Pools token vectors with padding masked out.

  Args:
    hidden: float Tensor [B, T, D].
    input_mask: int Tensor [B, T], 1 for real tokens.
    strategy: one of POOLING_STRATEGIES.

  Returns:
    float Tensor [B, D] ([B, 2D] for REDUCE_MEAN_MAX, [B, T, D] for NONE).
  """
  mask = tf.expand_dims(tf.cast(input_mask, hidden.dtype), -1)  # (B, T, 1)
  if strategy in ("REDUCE_MEAN", "REDUCE_MEAN_MAX"):
    mean = tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
  if strategy in ("REDUCE_MAX", "REDUCE_MEAN_MAX"):
    maximum = tf.reduce_max(hidden - (1.0 - mask) * 1e30, axis=1)
  if strategy == "REDUCE_MEAN":
    return mean
  if strategy == "REDUCE_MAX":
    return maximum
  if strategy == "REDUCE_MEAN_MAX":
    return tf.concat([mean, maximum], axis=-1)
  if strategy == "CLS_TOKEN":
    return hidden[:, 0]
  if strategy == "SEP_TOKEN":
    last = tf.reduce_sum(tf.cast(input_mask, tf.int32), axis=1) - 1  # (B,)
    return tf.gather(hidden, last, batch_dims=1)
  if strategy == "NONE":
    return hidden * mask
  raise ValueError("pooling_strategy must be one of %s, got %r" % (", ".join(POOLING_STRATEGIES), strategy))


def pool_layers(encoder_outputs, input_mask, pooling_layer, pooling_strategy, normalize):
  """Selects `pooling_layer` of `encoder_outputs` (list of [B, T, D]), concatenates, pools, L2-normalizes.

  Pools in float32 whatever the layers' dtype: under mixed precision a bfloat16 sum over T tokens
  loses digits, and REDUCE_MAX's -1e30 padding mask overflows float16 (inf * 0 = NaN).
  """
  hidden = tf.cast(tf.concat([encoder_outputs[i] for i in pooling_layer], axis=-1), tf.float32)
  pooled = pool(hidden, input_mask, pooling_strategy)
  return tf.math.l2_normalize(pooled, axis=-1) if normalize else pooled


def check_options(pooling_strategy, pooling_layer, num_layers):
  """The pooling options checked against an L-layer model; returns pooling_layer as a list of int."""
  if pooling_strategy not in POOLING_STRATEGIES:
    raise ValueError("pooling_strategy must be one of %s, got %r" % (", ".join(POOLING_STRATEGIES), pooling_strategy))
  layers = [pooling_layer] if isinstance(pooling_layer, int) else list(pooling_layer)
  if not layers:
    raise ValueError("pooling_layer must name at least one layer")
  for index in layers:
    if not -num_layers <= index < num_layers:
      raise ValueError("pooling_layer %d out of range for a %d-layer model" % (index, num_layers))
  return layers
