"""Pooling token vectors into one vector a text, with padding masked out (bert-as-service's options).

    pooled = pool_layers(encoder_outputs, input_mask, pooling_layer=[-2], pooling_strategy="REDUCE_MEAN",
                         normalize=False)                       # float [B, D]

Shared by `bert_tf2.embeddings.encoder` (SentenceEncoder), `bert_tf2.retrieval.model` (the dual encoder) and the
encoder SavedModel of `bert_tf2.core.export`. `pool_layers_numpy` is the same in numpy, for LiteRT's
arrays (the int8 path): a few eager TensorFlow ops cost more than the pooling itself at small batches.
"""

import numpy as np
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


def pool_layers_numpy(encoder_outputs, input_mask, pooling_layer, pooling_strategy, normalize):
  """`pool_layers` in numpy, for `encoder_outputs` float32 np.ndarray [B, L, T, D] (every layer, stacked).

  Args:
    input_mask: int np.ndarray [B, T], 1 for real tokens.
    The other args as `pool_layers`.

  Returns:
    float32 np.ndarray, shaped as `pool_layers`' result (equal to it within float32 rounding).
  """
  hidden = np.concatenate([encoder_outputs[:, i] for i in pooling_layer], axis=-1).astype(np.float32)  # (B, T, D)
  mask = np.asarray(input_mask, np.float32)[:, :, None]  # (B, T, 1)
  if pooling_strategy in ("REDUCE_MEAN", "REDUCE_MEAN_MAX"):
    mean = np.sum(hidden * mask, axis=1) / np.maximum(np.sum(mask, axis=1), np.float32(1e-9))
  if pooling_strategy in ("REDUCE_MAX", "REDUCE_MEAN_MAX"):
    maximum = np.max(hidden - (np.float32(1.0) - mask) * np.float32(1e30), axis=1)
  if pooling_strategy == "REDUCE_MEAN":
    pooled = mean
  elif pooling_strategy == "REDUCE_MAX":
    pooled = maximum
  elif pooling_strategy == "REDUCE_MEAN_MAX":
    pooled = np.concatenate([mean, maximum], axis=-1)
  elif pooling_strategy == "CLS_TOKEN":
    pooled = hidden[:, 0]
  elif pooling_strategy == "SEP_TOKEN":
    last = np.sum(np.asarray(input_mask, np.int64), axis=1) - 1  # (B,)
    pooled = hidden[np.arange(len(hidden)), last]
  elif pooling_strategy == "NONE":
    pooled = hidden * mask
  else:
    raise ValueError("pooling_strategy must be one of %s, got %r" % (", ".join(POOLING_STRATEGIES), pooling_strategy))
  if normalize:  # as tf.math.l2_normalize: x * rsqrt(max(sum(x^2), 1e-12))
    pooled = pooled / np.sqrt(np.maximum(np.sum(np.square(pooled), axis=-1, keepdims=True), np.float32(1e-12)))
  return pooled


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
