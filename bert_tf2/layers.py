"""The building blocks of BERT (Devlin et al., 2018, arXiv:1810.04805): embeddings, attention, layer.

Shape legend used in comments:
  B = batch size, T = sequence length, D = hidden size,
  N = number of attention heads, H = size per head (D = N * H), I = intermediate size.

Weights are laid out as in Google's checkpoints (Dense kernels [in, out]), so the converter in
`bert_tf2.checkpoints` is a plain name map.
"""

import math

import keras
import tensorflow as tf


def gelu_tanh(x):
  """Google's `gelu`: the tanh approximation, which the original BERT checkpoints were trained with.

  Hugging Face's "gelu" is the exact erf form; the two differ by ~1e-3, enough to break parity.
  """
  x = tf.convert_to_tensor(x)
  cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
  return x * cdf


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
  return keras.layers.LayerNormalization(axis=-1, epsilon=config.layer_norm_eps, name=name)


class BertEmbeddings(keras.layers.Layer):
  """word + token type + position embeddings -> LayerNorm -> dropout.

  Call: `(input_ids, segment_ids)`, both int32 [B, T] -> float [B, T, D].
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config
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
    self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

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
    x = x + position[tf.newaxis]
    return self.dropout(self.layer_norm(x), training=training)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[0]) + (self.config.hidden_size,)


class SelfAttention(keras.layers.Layer):
  """Multi-head scaled dot-product self-attention with Google's [D, D] query/key/value kernels.

  Call: `(x, attention_bias)`: x float [B, T, D], attention_bias float [B, 1, 1, T] with 0 for
  tokens and -10000 for padding (as the original) -> context float [B, T, D].
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = config.num_attention_heads
    self.head_size = config.hidden_size // config.num_attention_heads
    if self.num_heads * self.head_size != config.hidden_size:
      raise ValueError("hidden_size %d is not a multiple of num_attention_heads %d"
                       % (config.hidden_size, config.num_attention_heads))
    dense = lambda name: keras.layers.Dense(config.hidden_size, kernel_initializer=initializer(config), name=name)
    self.query, self.key, self.value = dense("query"), dense("key"), dense("value")
    self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)

  def build(self, input_shape):
    for dense in (self.query, self.key, self.value):
      dense.build(input_shape[0])
    self.built = True

  def _split_heads(self, x, batch, length):
    x = tf.reshape(x, [batch, length, self.num_heads, self.head_size])  # (B, T, N, H)
    return tf.transpose(x, [0, 2, 1, 3])  # (B, N, T, H)

  def call(self, inputs, training=None):
    x, attention_bias = inputs
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    q = self._split_heads(self.query(x), batch, length)
    k = self._split_heads(self.key(x), batch, length)
    v = self._split_heads(self.value(x), batch, length)
    scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(self.head_size))  # (B, N, T, T)
    # Softmax in float32 even under mixed precision: -10000 and large logits overflow float16.
    scores = tf.cast(scores, tf.float32) + tf.cast(attention_bias, tf.float32)
    probs = tf.cast(tf.nn.softmax(scores, axis=-1), x.dtype)
    probs = self.dropout(probs, training=training)
    context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])  # (B, T, N, H)
    return tf.reshape(context, [batch, length, self.num_heads * self.head_size])  # (B, T, D)

  def compute_output_shape(self, input_shape):
    return input_shape[0]


class TransformerLayer(keras.layers.Layer):
  """One post-LayerNorm transformer block, as `transformer_model` in Google's modeling.py.

  attention -> dense -> dropout -> LayerNorm(+x) -> intermediate (act) -> dense -> dropout
  -> LayerNorm(+attention_output). Call: `(x, attention_bias)` -> [B, T, D].
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config
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
    self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

  def build(self, input_shape):
    shape = tuple(input_shape[0])
    self.attention.build(input_shape)
    self.attention_output.build(shape)
    self.attention_layer_norm.build(shape)
    self.intermediate.build(shape)
    self.output_dense.build(shape[:-1] + (self.config.intermediate_size,))
    self.output_layer_norm.build(shape)
    self.built = True

  def call(self, inputs, training=None):
    x, attention_bias = inputs
    attention = self.attention((x, attention_bias), training=training)
    attention = self.dropout(self.attention_output(attention), training=training)
    attention = self.attention_layer_norm(attention + x)
    out = self.dropout(self.output_dense(self.intermediate(attention)), training=training)
    return self.output_layer_norm(out + attention)

  def compute_output_shape(self, input_shape):
    return input_shape[0]
