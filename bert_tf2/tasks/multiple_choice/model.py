"""Multiple choice: transformers' BertForMultipleChoice in Keras, with its loss and metrics.

    model = BertMultipleChoice(config)                    # or BertMultipleChoice(encoder)
    logits = model({"input_ids": ..., "input_mask": ..., "segment_ids": ...,   # int32 [B, C, T]
                    "choice_mask": ...})                                         # int32 [B, C]: 0 = no option
    # float32 [B, C]; options with choice_mask 0 at MASKED_LOGIT (probability 0 after softmax)

Every option is one row of the encoder ([B * C, T]); its pooled output -> dropout -> dense(1) is
the option's score. The head is run_classifier.py's `output_weights` [1, D] / `output_bias` [1]
(transformers' `classifier.weight` / `classifier.bias`), so `bert_tf2.checkpoints` loads and
saves it, and `save_hf_checkpoint` writes a BertForMultipleChoice directory (`hf_architecture`).
"""

import keras
import tensorflow as tf

from bert_tf2.layers import OutputLayer
from bert_tf2.modeling import BertConfig, BertModel

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids", "choice_mask")
MASKED_LOGIT = -1e9  # exp(MASKED_LOGIT - max) is exactly 0 in float32


@keras.saving.register_keras_serializable(package="bert_tf2")
class FlattenChoices(keras.layers.Layer):
  """[B, C, T] -> [B * C, T]."""

  def call(self, x):
    return tf.reshape(x, [-1, tf.shape(x)[-1]])

  def compute_output_shape(self, input_shape):
    return (None, input_shape[-1])


@keras.saving.register_keras_serializable(package="bert_tf2")
class ChoiceLogits(keras.layers.Layer):
  """Scores [B * C, 1] -> float32 logits [B, C], masked options at MASKED_LOGIT."""

  def __init__(self, **kwargs):
    kwargs["dtype"] = "float32"  # float32 logits under mixed precision, as BertClassifier's
    super().__init__(**kwargs)

  def call(self, scores, choice_mask):
    logits = tf.reshape(tf.cast(scores, tf.float32), tf.shape(choice_mask))
    return tf.where(choice_mask > 0, logits, tf.constant(MASKED_LOGIT, tf.float32))

  def compute_output_shape(self, scores_shape, choice_mask_shape):
    return tuple(choice_mask_shape)


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertMultipleChoice(keras.Model):
  """Options' pooled outputs -> dropout -> dense(1): float32 logits [B, C].

  Args:
    encoder: a `BertModel`, or a `BertConfig` (or its dict) to build one from.
    dropout_rate: float, default the encoder's hidden_dropout_prob (transformers' classifier_dropout).

  Attributes `encoder`, `output_weights` [1, D] and `output_bias` [1] carry the checkpoint names.
  """

  hf_architecture = "BertForMultipleChoice"

  def __init__(self, encoder, dropout_rate=None, **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    config = encoder.config
    # === Layers ===
    dropout = keras.layers.Dropout(config.hidden_dropout_prob if dropout_rate is None else dropout_rate)
    head = OutputLayer(1, config.initializer_range, name="classifier")
    flatten = FlattenChoices(name="flatten_choices")
    # === Functional Model ===
    inputs = {name: keras.Input(shape=(None, None), dtype="int32", name=name) for name in INPUT_NAMES[:3]}
    inputs["choice_mask"] = keras.Input(shape=(None,), dtype="int32", name="choice_mask")
    pooled = encoder({name: flatten(inputs[name]) for name in INPUT_NAMES[:3]})["pooled_output"]
    logits = ChoiceLogits(name="logits")(head(dropout(pooled)), inputs["choice_mask"])
    super().__init__(inputs=inputs, outputs=logits, **kwargs)
    # === Config ===
    self.encoder = encoder
    self.dropout_rate = dropout_rate
    self.output_weights = head.output_weights
    self.output_bias = head.output_bias

  def checkpoint_heads(self):
    """The layers whose `checkpoint_entries()` name the weights outside the encoder."""
    return [self.get_layer("classifier")]

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "dropout_rate": self.dropout_rate, "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(BertConfig.from_dict(config.pop("encoder")), **config)


def probabilities(logits):
  """float32 [B, C]: softmax over the options (masked ones 0)."""
  return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)


def choice_loss(labels, logits):
  """Mean softmax cross-entropy over the options: labels int32 [B], logits [B, C]."""
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.cast(logits, tf.float32)))


# === Loss and metrics (for `bert_tf2.core.training`) ===

def loss_fn(model, features, training):
  """`bert_tf2.core.training` loss: (mean loss of the batch, {correct, examples} sums)."""
  logits = model({name: features[name] for name in INPUT_NAMES}, training=training)
  labels = features["label_ids"]
  correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
  return choice_loss(labels, logits), {"correct": tf.reduce_sum(tf.cast(correct, tf.float32)),
                                       "examples": tf.cast(tf.shape(logits)[0], tf.float32)}


def metrics_fn(totals):
  return {"accuracy": float(totals["correct"] / max(totals["examples"], 1.0))}
