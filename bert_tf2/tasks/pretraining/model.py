"""`BertPretrainer`: a `BertModel` plus the original masked-LM and next-sentence heads, and their losses.

    pretrainer = BertPretrainer(BertConfig.from_json_file("bert_config.json"))
    load_checkpoint(pretrainer, "chinese_L-12_H-768_A-12/bert_model.ckpt")  # heads included
    outputs = pretrainer({"input_ids": ..., "input_mask": ..., "segment_ids": ...,
                          "masked_lm_positions": ...})
    losses = pretraining_losses(outputs, features)   # total_loss, masked_lm_loss, ...

The heads and losses are those of Google's run_pretraining.py (`get_masked_lm_output`,
`get_next_sentence_output`); each head declares its checkpoint names (`cls/predictions/...`,
`cls/seq_relationship/...`) in `checkpoint_entries`. The job behind scripts/run_pretraining.py is
`bert_tf2.tasks.pretraining.job.run_pretraining`.

Shape legend: B = batch size, T = sequence length, P = max_predictions_per_seq, D = hidden size,
V = vocab size.
"""

import keras
import tensorflow as tf

from bert_tf2 import checkpoint_names, layers
from bert_tf2.modeling import BertConfig, BertModel, apply_layers

MODEL_INPUTS = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")


@keras.saving.register_keras_serializable(package="bert_tf2")
class MaskedLMHead(layers.BertConfigLayer):
  """`cls/predictions`: dense + activation + LayerNorm, then logits against the word embeddings.

  Call: `(sequence_output, masked_lm_positions)`: float [B, T, D] and int32 [B, P], or the
  already gathered rows float [B, P, D] -> logits [B, P, V]. The output weights are the encoder's word-embedding table (tied), plus
  `output_bias` [V].

  Checkpoint names under Google scope `google_scope` and transformers module `hf_module` (None:
  not in that format); the tied table is the encoder's and not declared again.
  """

  def __init__(self, config, word_embeddings, google_scope="cls/predictions", hf_module="cls.predictions", **kwargs):
    super().__init__(config, **kwargs)
    self.word_embeddings = word_embeddings  # keras.layers.Embedding, shared with the encoder
    self.google_scope = google_scope
    self.hf_module = hf_module
    # === Layers ===
    self.dense = keras.layers.Dense(config.hidden_size, activation=layers.get_activation(config.hidden_act),
                                    kernel_initializer=layers.initializer(config), name="dense")
    self.layer_norm = layers.layer_norm(config, "LayerNorm")

  def build(self, input_shape):
    hidden = self.config.hidden_size
    self.dense.build((None, None, hidden))
    self.layer_norm.build((None, None, hidden))
    self.output_bias = self.add_weight(name="output_bias", shape=(self.config.vocab_size,),
                                       initializer="zeros")
    self.built = True

  def checkpoint_entries(self):
    g, h = self.google_scope, self.hf_module
    return (checkpoint_names.dense(checkpoint_names.google_name(g, "transform/dense"),
                                   checkpoint_names.hf_name(h, "transform.dense"), self.dense)
            + checkpoint_names.layer_norm(checkpoint_names.google_name(g, "transform/LayerNorm"),
                                          checkpoint_names.hf_name(h, "transform.LayerNorm"), self.layer_norm)
            + checkpoint_names.weight(checkpoint_names.google_name(g, "output_bias"),
                                      checkpoint_names.hf_name(h, "bias"), self.output_bias))

  def get_config(self):
    # Alone, the head rebuilds with its own copy of the table; BertPretrainer.from_config ties it again.
    return {**super().get_config(), "word_embeddings": keras.layers.serialize(self.word_embeddings),
            "google_scope": self.google_scope, "hf_module": self.hf_module}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["word_embeddings"] = keras.layers.deserialize(config["word_embeddings"])
    return super().from_config(config)

  def call(self, inputs):
    if isinstance(inputs, (tuple, list)):
      sequence_output, positions = inputs
      inputs = tf.gather(sequence_output, positions, batch_dims=1)  # (B, P, D)
    x = inputs
    batch, num_positions = tf.shape(x)[0], tf.shape(x)[1]
    # 2-D matmuls on (B * P, D), as the original, so float results match it op for op.
    x = tf.reshape(x, [batch * num_positions, self.config.hidden_size])  # (B * P, D)
    x = self.layer_norm(self.dense(x))
    table = tf.cast(self.word_embeddings.embeddings, x.dtype)  # (V, D)
    logits = tf.matmul(x, table, transpose_b=True) + tf.cast(self.output_bias, x.dtype)  # (B * P, V)
    return tf.reshape(logits, [batch, num_positions, self.config.vocab_size])  # (B, P, V)

  def compute_output_shape(self, input_shape):
    if isinstance(input_shape, (tuple, list)) and isinstance(input_shape[0], (tuple, list)):
      return tuple(input_shape[1]) + (self.config.vocab_size,)
    return tuple(input_shape[:-1]) + (self.config.vocab_size,)


@keras.saving.register_keras_serializable(package="bert_tf2")
class NextSentenceHead(layers.BertConfigLayer):
  """`cls/seq_relationship`: pooled_output float [B, D] -> logits [B, 2] (1 = random next sentence).

  `output_weights` is [2, D] as in Google's checkpoints (logits = x @ output_weights^T + bias).
  Both Google and HF store it so ([2, D], the original's matmul(transpose_b)), hence untransposed.
  """

  def __init__(self, config, google_scope="cls/seq_relationship", hf_module="cls.seq_relationship", **kwargs):
    super().__init__(config, **kwargs)
    self.google_scope = google_scope
    self.hf_module = hf_module

  def build(self, input_shape):
    self.output_weights = self.add_weight(
        name="output_weights", shape=(2, self.config.hidden_size), initializer=layers.initializer(self.config))
    self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
    self.built = True

  def call(self, pooled_output):
    logits = tf.matmul(pooled_output, tf.cast(self.output_weights, pooled_output.dtype), transpose_b=True)
    return logits + tf.cast(self.output_bias, logits.dtype)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (2,)

  def checkpoint_entries(self):
    g, h = self.google_scope, self.hf_module
    return (checkpoint_names.weight(checkpoint_names.google_name(g, "output_weights"),
                                    checkpoint_names.hf_name(h, "weight"), self.output_weights)
            + checkpoint_names.weight(checkpoint_names.google_name(g, "output_bias"),
                                      checkpoint_names.hf_name(h, "bias"), self.output_bias))

  def get_config(self):
    return {**super().get_config(), "google_scope": self.google_scope, "hf_module": self.hf_module}


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertPretrainer(keras.Model):
  """BERT with the pretraining heads, wrapping one encoder as `.encoder`.

  Args:
    encoder: a `BertConfig` (a new `BertModel` is built from it), a config dict, or a `BertModel`.

  Inputs: dict of int32 `input_ids`, `input_mask`, `segment_ids` [B, T] and `masked_lm_positions`
  [B, P]. Outputs: the encoder's (`sequence_output`, `pooled_output`, `encoder_outputs`,
  `embedding_output`) plus float32 `masked_lm_logits` [B, P, V] and `next_sentence_logits` [B, 2]
  (float32 even under mixed precision).

  `pretraining_logits(inputs, training)` gives the same two logits (and `pooled_output`) faster,
  for training: the heads read the last layer at the first token and the P masked positions only,
  so the last layer is computed at those rows alone (`apply_layers(..., last_layer_positions)`;
  keys and values still from every position), with the same numbers as the full layer there.
  """

  hf_architecture = "BertForPreTraining"  # the transformers class save_hf_checkpoint writes

  def __init__(self, encoder, **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    config = encoder.config
    # === Layers ===
    masked_lm = MaskedLMHead(config, encoder.embeddings.word_embeddings, name="masked_lm")
    next_sentence = NextSentenceHead(config, name="next_sentence")
    to_float32 = keras.layers.Activation("linear", dtype="float32", name="to_float32")

    # === Functional Model ===
    inputs = _model_inputs()
    outputs = dict(encoder({k: inputs[k] for k in MODEL_INPUTS[:3]}))
    outputs["masked_lm_logits"] = to_float32(masked_lm((outputs["sequence_output"], inputs["masked_lm_positions"])))
    outputs["next_sentence_logits"] = to_float32(next_sentence(outputs["pooled_output"]))
    super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    # The training view: same layers and weights, the last layer only at the heads' rows.
    inputs = _model_inputs()
    head_positions = keras.layers.Lambda(_head_positions, name="head_positions")(inputs["masked_lm_positions"])
    _, encoder_outputs = apply_layers(encoder.embeddings, encoder.encoder_layers, inputs, head_positions)
    rows = encoder_outputs[-1]  # (B, F, D): the first token, the masked positions, padding
    pooled_output = encoder.pooler(keras.layers.Lambda(lambda t: t[:, 0], name="first_token")(rows))
    masked_rows = keras.layers.Lambda(_masked_rows, name="masked_rows")((rows, inputs["masked_lm_positions"]))
    view = keras.Model(inputs, {"pooled_output": pooled_output,
                                "masked_lm_logits": to_float32(masked_lm(masked_rows)),
                                "next_sentence_logits": to_float32(next_sentence(pooled_output))})

    # === Config ===
    self.encoder = encoder
    self.masked_lm = masked_lm
    self.next_sentence = next_sentence
    # A bound method, not the model: Keras and tf.train.Checkpoint track the weights once.
    self.pretraining_logits = view.__call__

  def checkpoint_heads(self):
    """The layers whose `checkpoint_entries()` name the weights outside the encoder."""
    return [self.masked_lm, self.next_sentence]

  @property
  def checkpoint_items(self):
    """Parts that restore on their own: `tf.train.Checkpoint(**pretrainer.checkpoint_items)`."""
    return {"encoder": self.encoder, "masked_lm": self.masked_lm, "next_sentence": self.next_sentence}

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "name": self.name}

  @classmethod
  def from_config(cls, config):
    return cls(BertConfig.from_dict(config["encoder"]), name=config.get("name"))


def _model_inputs():
  return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in MODEL_INPUTS}


def _head_positions(masked_lm_positions):
  """int [B, P] -> int32 [B, F]: 0 (the pooler's first token), the P masked positions, then 0s.

  F >= 1 + P makes B * F a multiple of 16, so that the sparse last layer runs every elementwise op
  on whole 16-float vectors, as the full layer (and the original) does when B * T is a multiple of
  16: Eigen's rsqrt and exp round a buffer's last, partial vector differently.
  """
  positions = tf.cast(masked_lm_positions, tf.int32)
  batch, num_positions = tf.shape(positions)[0], tf.shape(positions)[1]
  multiple = 16 // tf.minimum(16, tf.bitwise.bitwise_and(batch, -batch))  # F % multiple == 0
  padding = tf.zeros([batch, (-(num_positions + 1)) % multiple], tf.int32)
  return tf.concat([tf.zeros_like(positions[:, :1]), positions, padding], axis=1)


def _masked_rows(inputs):
  """(rows [B, F, D] from `_head_positions`, masked_lm_positions [B, P]) -> rows [B, P, D]."""
  rows, positions = inputs
  return rows[:, 1:1 + tf.shape(positions)[1]]


def masked_lm_loss(logits, masked_lm_ids, masked_lm_weights):
  """The original's weighted masked-LM cross-entropy.

  Args:
    logits: float [B, P, V]. masked_lm_ids: int [B, P]. masked_lm_weights: float [B, P], 0 = padding.

  Returns:
    (loss, per_example_loss): scalar sum(w * ce) / (sum(w) + 1e-5), and ce [B, P] (unweighted).
  """
  per_example_loss = _token_cross_entropy(tf.cast(logits, tf.float32), tf.cast(masked_lm_ids, tf.int32))  # (B, P)
  weights = tf.cast(masked_lm_weights, tf.float32)
  loss = tf.reduce_sum(weights * per_example_loss) / (tf.reduce_sum(weights) + 1e-5)
  return loss, per_example_loss


@tf.custom_gradient
def _token_cross_entropy(logits, ids):
  """-log_softmax(logits)[..., ids]: float [B, P, V], int32 [B, P] -> [B, P].

  The original's -sum(log_probs * one_hot(ids)), without the [B, P, V] one-hot (same numbers).
  The gradient is the closed form dce * (softmax - one_hot(ids)): autodiff through the gather
  would scatter the [B, P] gradient into a zeroed [B, P, V] buffer (UnsortedSegmentSum) and then
  run LogSoftmax's gradient over it.
  """
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  per_example_loss = -tf.gather(log_probs, ids, batch_dims=2)  # (B, P)

  def grad(dy):
    dlogits = tf.exp(log_probs) * dy[..., tf.newaxis]  # (B, P, V)
    shape = tf.shape(ids)
    index = tf.stack([tf.repeat(tf.range(shape[0]), shape[1]),
                      tf.tile(tf.range(shape[1]), [shape[0]]),
                      tf.reshape(ids, [-1])], axis=1)  # (B * P, 3)
    return tf.tensor_scatter_nd_sub(dlogits, index, tf.reshape(dy, [-1])), None

  return per_example_loss, grad


def next_sentence_loss(logits, next_sentence_labels):
  """Mean cross-entropy of float logits [B, 2] against int labels [B] or [B, 1] -> (loss, ce [B])."""
  log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
  labels = tf.reshape(next_sentence_labels, [-1])
  per_example_loss = -tf.reduce_sum(tf.one_hot(labels, depth=2, dtype=tf.float32) * log_probs, axis=-1)
  return tf.reduce_mean(per_example_loss), per_example_loss


def pretraining_losses(outputs, features):
  """Losses of a `BertPretrainer` output dict against the TFRecord `features` dict.

  Returns a dict of float32: `total_loss`, `masked_lm_loss`, `next_sentence_loss` (scalars),
  `masked_lm_example_loss` [B, P], `next_sentence_example_loss` [B].
  """
  mlm, mlm_example = masked_lm_loss(outputs["masked_lm_logits"], features["masked_lm_ids"],
                                    features["masked_lm_weights"])
  nsp, nsp_example = next_sentence_loss(outputs["next_sentence_logits"], features["next_sentence_labels"])
  return {"total_loss": mlm + nsp, "masked_lm_loss": mlm, "next_sentence_loss": nsp,
          "masked_lm_example_loss": mlm_example, "next_sentence_example_loss": nsp_example}


def metric_sums(outputs, features, losses):
  """Per-batch sums behind the original's eval metrics; add them over batches and replicas.

  Returns float32 scalars: `masked_lm_correct` and `masked_lm_loss_sum` (both weighted by
  masked_lm_weights), `masked_lm_weight`, `next_sentence_correct`, `next_sentence_loss_sum`,
  `next_sentence_count`. `finalize_metrics` turns the totals into the original's metrics.
  """
  weights = tf.cast(features["masked_lm_weights"], tf.float32)
  mlm_pred = tf.argmax(outputs["masked_lm_logits"], axis=-1, output_type=tf.int32)
  mlm_correct = tf.cast(tf.equal(mlm_pred, tf.cast(features["masked_lm_ids"], tf.int32)), tf.float32)
  labels = tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])
  nsp_pred = tf.argmax(outputs["next_sentence_logits"], axis=-1, output_type=tf.int32)
  return {
      "masked_lm_correct": tf.reduce_sum(weights * mlm_correct),
      "masked_lm_loss_sum": tf.reduce_sum(weights * losses["masked_lm_example_loss"]),
      "masked_lm_weight": tf.reduce_sum(weights),
      "next_sentence_correct": tf.reduce_sum(tf.cast(tf.equal(nsp_pred, labels), tf.float32)),
      "next_sentence_loss_sum": tf.reduce_sum(losses["next_sentence_example_loss"]),
      "next_sentence_count": tf.cast(tf.size(labels), tf.float32),
  }


def finalize_metrics(sums):
  """Totals of `metric_sums` -> masked_lm_accuracy, masked_lm_loss, next_sentence_accuracy/_loss."""
  div = lambda a, b: float(a) / float(b) if float(b) else 0.0
  return {
      "masked_lm_accuracy": div(sums["masked_lm_correct"], sums["masked_lm_weight"]),
      "masked_lm_loss": div(sums["masked_lm_loss_sum"], sums["masked_lm_weight"]),
      "next_sentence_accuracy": div(sums["next_sentence_correct"], sums["next_sentence_count"]),
      "next_sentence_loss": div(sums["next_sentence_loss_sum"], sums["next_sentence_count"]),
  }


def pretraining_loss_fn(model, features, training):
  """`bert_tf2.core.training` loss_fn for a BertPretrainer: (total_loss, metric sums)."""
  features = {k: tf.cast(v, tf.float32 if k == "masked_lm_weights" else tf.int32) for k, v in features.items()}
  outputs = model.pretraining_logits({k: features[k] for k in MODEL_INPUTS}, training=training)
  losses = pretraining_losses(outputs, features)
  sums = metric_sums(outputs, features, losses)
  sums.update(masked_lm_batch_loss=losses["masked_lm_loss"], next_sentence_batch_loss=losses["next_sentence_loss"])
  return losses["total_loss"], sums


def training_metrics(totals):
  """What the training log shows: both sub-losses (batch means, as the original's) and accuracies."""
  metrics = finalize_metrics(totals)
  n = float(totals["num_batches"])
  return {"masked_lm_loss": float(totals["masked_lm_batch_loss"]) / n,
          "next_sentence_loss": float(totals["next_sentence_batch_loss"]) / n,
          "masked_lm_accuracy": metrics["masked_lm_accuracy"],
          "next_sentence_accuracy": metrics["next_sentence_accuracy"]}
