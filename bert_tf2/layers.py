"""The building blocks of BERT (Devlin et al., 2018, arXiv:1810.04805): embeddings, attention, layer,
and the task heads' output layer.

Shape legend used in comments:
  B = batch size, T = sequence length, D = hidden size,
  N = number of attention heads, H = size per head (D = N * H), I = intermediate size.

Weights are laid out as in Google's checkpoints (Dense kernels [in, out]), so the converter in
`bert_tf2.checkpoints` is a plain name map.

Numerics follow the original as TensorFlow runs it, op for op, so a float32 forward pass gives the
original's numbers bit for bit (tests/test_modeling.py): projections are batched matmuls (einsum),
not the 2-D matmul a Keras Dense runs on [B, T, D] inputs (oneDNN rounds the two differently, by
~2e-5 per projection at BERT-base width); additions and the gelu cube in the order Grappler leaves
them in the original's graph.
"""

import math

import keras
import tensorflow as tf

from bert_tf2 import checkpoint_names


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu_tanh(x):
  """Google's `gelu`: the tanh approximation, which the original BERT checkpoints were trained with.

  Hugging Face's "gelu" is the exact erf form; the two differ by ~1e-3, enough to break parity.
  The cube is `(0.044715 * x^2) * x`: the original writes `0.044715 * tf.pow(x, 3)`, which TF's
  graph optimizer (Grappler, on in every Session and Estimator) rewrites to exactly this, and
  `tf.pow` computed as written differs from it by up to 2 ulp.
  """
  return _gelu_tanh(tf.convert_to_tensor(x))


@tf.custom_gradient
def _gelu_tanh(x):
  x2 = tf.square(x)
  t = tf.tanh(_SQRT_2_OVER_PI * (x + (0.044715 * x2) * x))

  def grad(dy):  # d/dx x (1 + t) / 2, with dt/dx = (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 x^2)
    return dy * (0.5 * (1.0 + t) + (0.5 * x) * (1.0 - tf.square(t)) * (_SQRT_2_OVER_PI * (1.0 + 0.134145 * x2)))

  return x * (0.5 * (1.0 + t)), grad


def gelu_exact(x):
  """Exact gelu, x * Phi(x), as Hugging Face's `hidden_act: "gelu"`."""
  return keras.activations.gelu(x, approximate=False)


ACTIVATIONS = {
    "gelu": gelu_tanh,  # Google's meaning of "gelu"
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "swish": keras.activations.silu,
    "linear": keras.activations.linear,
}


def get_activation(name):
  """Maps a BertConfig `hidden_act` name to a function."""
  if name not in ACTIVATIONS:
    raise ValueError("Unsupported hidden_act %r; known: %s" % (name, ", ".join(sorted(ACTIVATIONS))))
  return ACTIVATIONS[name]


def initializer(config):
  return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def layer_norm(config, name):
  return LayerNorm(axis=-1, epsilon=config.layer_norm_eps, name=name)


@keras.saving.register_keras_serializable(package="bert_tf2")
class LayerNorm(keras.layers.LayerNormalization):
  """`keras.layers.LayerNormalization` over the last axis with a hand-written, fused gradient.

  The forward pass runs Keras' ops in Keras' order (tf.nn.moments, rsqrt, x * inv + res), so its
  numbers are Keras' bit for bit; the backward pass is the closed form
  dx = r * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma, instead of autodiff through
  moments (about half the elementwise passes over [B, T, D]).
  """

  def call(self, inputs):
    if self.rms_scaling or not (self.center and self.scale) or self.axis not in (-1, [-1], len(inputs.shape) - 1,
                                                                                    [len(inputs.shape) - 1]):
      return super().call(inputs)
    x = tf.convert_to_tensor(inputs)
    if x.dtype != tf.float32 and x.dtype != tf.float64:
      x = tf.cast(x, tf.float32)
    outputs = _layer_norm(x, tf.cast(self.gamma, x.dtype), tf.cast(self.beta, x.dtype), self.epsilon)
    return tf.cast(outputs, self.compute_dtype)


def _layer_norm(x, gamma, beta, epsilon):
  @tf.custom_gradient
  def fn(x, gamma, beta):
    # Keras' ops.layer_normalization (TF backend), op for op.
    mean, variance = tf.nn.moments(x, [-1], keepdims=True)
    r = tf.math.rsqrt(variance + epsilon)
    inv = r * gamma
    res = -mean * inv
    res = res + beta
    outputs = x * inv + res

    def grad(dy):
      depth = tf.shape(x)[-1]
      xhat = (x - mean) * r
      dy2 = tf.reshape(dy, [-1, depth])
      dbeta = tf.reduce_sum(dy2, axis=0)
      dgamma = tf.reduce_sum(dy2 * tf.reshape(xhat, [-1, depth]), axis=0)
      g = dy * gamma
      dx = r * (g - tf.reduce_mean(g, axis=-1, keepdims=True)
                - xhat * tf.reduce_mean(g * xhat, axis=-1, keepdims=True))
      return dx, dgamma, dbeta

    return outputs, grad

  return fn(x, gamma, beta)


@keras.saving.register_keras_serializable(package="bert_tf2")
class Dropout(keras.layers.Dropout):
  """`keras.layers.Dropout` with a cheaper mask: 16 random bits per element, one select each way.

  Half the random draws of Keras' float-uniform mask (drawing them is most of dropout's cost on
  CPU). Drops with probability round(rate * 65536) / 65536 (0.1 -> 0.100006) and scales the kept
  elements by the exact inverse of the keep probability.
  """

  def call(self, inputs, training=False):
    if not (training and self.rate > 0) or self.noise_shape is not None:
      return super().call(inputs, training=training)
    threshold = int(round(self.rate * 65536))
    scale = 65536.0 / (65536 - threshold)
    seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
    size = tf.size(inputs)
    bits = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
    keep = tf.reshape(tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size] >= threshold, tf.shape(inputs))
    zero = tf.zeros([], inputs.dtype)

    @tf.custom_gradient
    def dropout(x):
      return tf.where(keep, x * scale, zero), lambda dy: tf.where(keep, dy * scale, zero)

    return dropout(inputs)


class BertConfigLayer(keras.layers.Layer):
  """A layer built from one `BertConfig` (`self.config`), which its Keras config carries.

  `get_config()` holds the BertConfig serialized (`keras.saving.serialize_keras_object`), so
  `from_config` rebuilds the layer without this module importing `bert_tf2.modeling`.
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config

  def get_config(self):
    return {**super().get_config(), "config": keras.saving.serialize_keras_object(self.config)}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["config"] = keras.saving.deserialize_keras_object(config["config"])
    return cls(**config)


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertEmbeddings(BertConfigLayer):
  """word + token type + position embeddings -> LayerNorm -> dropout.

  Call: `(input_ids, segment_ids)`, both int32 [B, T] -> float [B, T, D].
  """

  def __init__(self, config, **kwargs):
    super().__init__(config, **kwargs)
    init = initializer(config)
    # === Layers ===
    self.word_embeddings = keras.layers.Embedding(
        config.vocab_size, config.hidden_size, embeddings_initializer=init, name="word_embeddings")
    self.token_type_embeddings = keras.layers.Embedding(
        config.type_vocab_size, config.hidden_size, embeddings_initializer=init,
        name="token_type_embeddings")
    self.position_embeddings = self.add_weight(
        name="position_embeddings", shape=(config.max_position_embeddings, config.hidden_size),
        initializer=init)
    self.layer_norm = layer_norm(config, "LayerNorm")
    self.dropout = Dropout(config.hidden_dropout_prob)

  def build(self, input_shape):
    ids_shape = input_shape[0]
    self.word_embeddings.build(ids_shape)
    self.token_type_embeddings.build(ids_shape)
    self.layer_norm.build(tuple(ids_shape) + (self.config.hidden_size,))
    self.built = True

  def call(self, inputs, training=None):
    input_ids, segment_ids = inputs
    seq_length = tf.shape(input_ids)[1]
    x = self.word_embeddings(input_ids) + self.token_type_embeddings(segment_ids)  # (B, T, D)
    position = tf.cast(self.position_embeddings[:seq_length], x.dtype)  # (T, D)
    x = x + tf.expand_dims(position, 0)
    return self.dropout(self.layer_norm(x), training=training)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[0]) + (self.config.hidden_size,)


def _dense(x, denses):
  """x [B, T, D] @ the kernels of Keras Dense layers, concatenated ([D, sum of units]), + biases.

  One batched matmul for several projections of the same input (query, key and value); the same
  numbers as one matmul each.
  """
  if any(getattr(dense, "quantization_mode", None) for dense in denses):  # kernel would be unscaled int8
    raise ValueError("Keras' model.quantize() does not apply to bert_tf2 layers (they read the kernels); "
                     "use precision='int8' (LiteRT, bert_tf2.core.precision)")
  kernels = [tf.cast(dense.kernel, x.dtype) for dense in denses]
  biases = [tf.cast(dense.bias, x.dtype) for dense in denses]
  kernel = kernels[0] if len(denses) == 1 else tf.concat(kernels, axis=1)
  bias = biases[0] if len(denses) == 1 else tf.concat(biases, axis=0)
  return tf.einsum("abc,cd->abd", x, kernel), bias


@keras.saving.register_keras_serializable(package="bert_tf2")
class SelfAttention(BertConfigLayer):
  """Multi-head scaled dot-product self-attention with Google's [D, D] query/key/value kernels.

  Call: `(x, attention_bias)` or `(x, attention_bias, query_positions)`: x float [B, T, D],
  attention_bias float [B, 1, 1, T] with 0 for tokens and -10000 for padding (as the original),
  optional int32 query_positions [B, F] -> context float [B, F, D] (F = T without positions).
  With positions, only those rows attend (keys and values still come from all T positions);
  the rows are bit-identical to the same rows of the full computation.
  """

  def __init__(self, config, **kwargs):
    super().__init__(config, **kwargs)
    self.num_heads = config.num_attention_heads
    self.head_size = config.hidden_size // config.num_attention_heads
    if self.num_heads * self.head_size != config.hidden_size:
      raise ValueError("hidden_size %d is not a multiple of num_attention_heads %d"
                       % (config.hidden_size, config.num_attention_heads))
    dense = lambda name: keras.layers.Dense(config.hidden_size, kernel_initializer=initializer(config), name=name)
    self.query, self.key, self.value = dense("query"), dense("key"), dense("value")
    self.dropout = Dropout(config.attention_probs_dropout_prob)

  def build(self, input_shape):
    for dense in (self.query, self.key, self.value):
      dense.build(input_shape[0])
    self.built = True

  def _heads(self, x, denses):
    """x [B, T, D] -> one [B, N, T, H] per Dense (the original's `dense_layer_3d`)."""
    product, bias = _dense(x, denses)
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    x = tf.reshape(tf.nn.bias_add(product, bias), [batch, length, len(denses), self.num_heads, self.head_size])
    return tf.unstack(tf.transpose(x, [2, 0, 3, 1, 4]))  # (B, N, T, H) each

  def call(self, inputs, training=None):
    x, attention_bias = inputs[0], inputs[1]
    if len(inputs) > 2:
      (q,) = self._heads(tf.gather(x, inputs[2], batch_dims=1), [self.query])  # (B, N, F, H)
      k, v = self._heads(x, [self.key, self.value])  # (B, N, T, H)
    else:
      q, k, v = self._heads(x, [self.query, self.key, self.value])
    scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(self.head_size))  # (B, N, F, T)
    # Softmax in float32 even under mixed precision: -10000 and large logits overflow float16.
    scores = tf.cast(scores, tf.float32) + tf.cast(attention_bias, tf.float32)
    probs = tf.cast(tf.nn.softmax(scores, axis=-1), x.dtype)
    probs = self.dropout(probs, training=training)
    context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])  # (B, F, N, H)
    return tf.reshape(context, [tf.shape(context)[0], -1, self.num_heads * self.head_size])  # (B, F, D)

  def compute_output_shape(self, input_shape):
    if len(input_shape) > 2:
      return tuple(input_shape[2]) + (input_shape[0][-1],)
    return input_shape[0]


@keras.saving.register_keras_serializable(package="bert_tf2")
class TransformerLayer(BertConfigLayer):
  """One post-LayerNorm transformer block, as `transformer_model` in Google's modeling.py.

  attention -> dense -> dropout -> LayerNorm(+x) -> intermediate (act) -> dense -> dropout
  -> LayerNorm(+attention_output). Call: `(x, attention_bias)` -> [B, T, D], or
  `(x, attention_bias, query_positions)` with int32 positions [B, F] -> [B, F, D]: the layer's
  output at those positions only (its keys and values still see every position), which is all a
  last layer has to compute when only some outputs are used (the pretraining heads').
  """

  def __init__(self, config, **kwargs):
    super().__init__(config, **kwargs)
    init = initializer(config)
    # === Layers ===
    self.attention = SelfAttention(config, name="self")
    self.attention_output = keras.layers.Dense(config.hidden_size, kernel_initializer=init, name="attention_output")
    self.attention_layer_norm = layer_norm(config, "attention_LayerNorm")
    self.intermediate = keras.layers.Dense(
        config.intermediate_size, activation=get_activation(config.hidden_act), kernel_initializer=init,
        name="intermediate")
    self.output_dense = keras.layers.Dense(config.hidden_size, kernel_initializer=init, name="output")
    self.output_layer_norm = layer_norm(config, "output_LayerNorm")
    self.dropout = Dropout(config.hidden_dropout_prob)

  def build(self, input_shape):
    shape = tuple(input_shape[0])
    self.attention.build(input_shape)
    self.attention_output.build(shape)
    self.attention_layer_norm.build(shape)
    self.intermediate.build(shape)
    self.output_dense.build(shape[:-1] + (self.config.intermediate_size,))
    self.output_layer_norm.build(shape)
    self.built = True

  def _add_residual(self, x, dense, residual, training):
    """dropout(dense(x)) + residual, with the original's rounding.

    Without dropout in between, Grappler (on by default when the original runs) turns the
    original's `(product + bias) + residual` into `(residual + product) + bias`; inference here
    adds in that order, so it matches the original bit for bit.
    """
    product, bias = _dense(x, [dense])
    if training and self.dropout.rate > 0:
      return self.dropout(tf.nn.bias_add(product, bias), training=training) + residual
    return tf.nn.bias_add(residual + product, bias)

  def call(self, inputs, training=None):
    x, attention_bias = inputs[0], inputs[1]
    residual = tf.gather(x, inputs[2], batch_dims=1) if len(inputs) > 2 else x  # (B, F, D)
    context = self.attention(inputs, training=training)  # (B, F, D)
    attention = self.attention_layer_norm(
        self._add_residual(context, self.attention_output, residual, training))  # (B, F, D)
    product, bias = _dense(attention, [self.intermediate])
    intermediate = self.intermediate.activation(tf.nn.bias_add(product, bias))  # (B, F, I)
    return self.output_layer_norm(self._add_residual(intermediate, self.output_dense, attention, training))

  def compute_output_shape(self, input_shape):
    if len(input_shape) > 2:
      return tuple(input_shape[2]) + (input_shape[0][-1],)
    return input_shape[0]


@keras.saving.register_keras_serializable(package="bert_tf2")
class OutputLayer(keras.layers.Layer):
  """logits [..., L] = x [..., D] @ output_weights^T + output_bias: the task heads' dense layer.

  The original's layout (run_classifier.py's `output_weights` [L, D] and `output_bias` [L]). x has
  rank 2 or more (pooled [B, D], per token [B, T, D]); the matmul is the original's, bit for bit on
  [B, D]. One class serves several heads, so the checkpoint names are arguments.

  Args:
    num_labels: int, L.
    initializer_range: float, stddev of the truncated normal `output_weights` start from.
    google_scope: TF1 scope of `output_weights` / `output_bias`: "" (the top level, run_classifier.py's
      names), "cls/squad" (run_squad.py's); None: not in Google checkpoints.
    hf_module: transformers module of `.weight` / `.bias`: "classifier", "qa_outputs"; None: not in
      Hugging Face checkpoints.
  """

  def __init__(self, num_labels, initializer_range=0.02, google_scope="", hf_module="classifier", **kwargs):
    super().__init__(**kwargs)
    self.num_labels = num_labels
    self.initializer_range = initializer_range
    self.google_scope = google_scope
    self.hf_module = hf_module

  def build(self, input_shape):
    self.output_weights = self.add_weight(
        name="output_weights", shape=(self.num_labels, input_shape[-1]),
        initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
    self.output_bias = self.add_weight(name="output_bias", shape=(self.num_labels,), initializer="zeros")

  def call(self, x):
    logits = tf.matmul(x, tf.cast(self.output_weights, x.dtype), transpose_b=True)  # (..., L)
    return logits + tf.cast(self.output_bias, x.dtype)

  def checkpoint_entries(self):
    """Both stored as here, [L, D] (transformers' Linear layout), untransposed."""
    scope, module = self.google_scope, self.hf_module
    return (checkpoint_names.weight(checkpoint_names.google_name(scope, "output_weights"),
                                    checkpoint_names.hf_name(module, "weight"), self.output_weights)
            + checkpoint_names.weight(checkpoint_names.google_name(scope, "output_bias"),
                                      checkpoint_names.hf_name(module, "bias"), self.output_bias))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.num_labels,)

  def get_config(self):
    return {**super().get_config(), "num_labels": self.num_labels, "initializer_range": self.initializer_range,
            "google_scope": self.google_scope, "hf_module": self.hf_module}
