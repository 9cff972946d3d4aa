"""Sentence (pair) classification: run_classifier.py's model, loss and metrics.

    model = BertClassifier(config, num_labels=2)       # or BertClassifier(encoder, 2)
    logits = model({"input_ids": ..., "input_mask": ..., "segment_ids": ...})  # [B, num_labels]

Examples become inputs in `bert_tf2.core.features`; the train/eval/predict job behind
scripts/run_classifier.py is `bert_tf2.tasks.classification.task.run_classifier`.
"""

import keras
import numpy as np
import tensorflow as tf

from bert_tf2.layers import OutputLayer
from bert_tf2.modeling import BertConfig, BertModel


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertClassifier(keras.Model):
  """pooled_output -> dropout -> dense: float32 logits [B, num_labels].

  Args:
    encoder: a `BertModel`, or a `BertConfig` (or its dict) to build one from.
    num_labels: int.
    multi_label: bool, labels are independent (sigmoid + binary cross-entropy) instead of one
      class per example (softmax + cross-entropy).
    dropout_rate: float, default the encoder's hidden_dropout_prob (0.1 in the original).

  Attributes `encoder`, `output_weights` [num_labels, D] and `output_bias` [num_labels] carry
  run_classifier.py's names; the head layer declares them as such (and as transformers'
  `classifier.*`), so `bert_tf2.checkpoints` loads the original's fine-tuned checkpoints.
  """

  hf_architecture = "BertForSequenceClassification"  # the transformers class save_hf_checkpoint writes

  def __init__(self, encoder, num_labels, multi_label=False, dropout_rate=None, **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    config = encoder.config
    # === Layers ===
    dropout = keras.layers.Dropout(config.hidden_dropout_prob if dropout_rate is None else dropout_rate)
    head = OutputLayer(num_labels, config.initializer_range, google_scope="", hf_module="classifier",
                       name="classifier")
    # === Functional Model ===
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("input_ids", "input_mask", "segment_ids")}
    pooled = encoder(inputs)["pooled_output"]
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(head(dropout(pooled)))
    super().__init__(inputs=inputs, outputs=logits, **kwargs)
    # === Config ===
    self.encoder = encoder
    self.num_labels = num_labels
    self.multi_label = multi_label
    self.dropout_rate = dropout_rate
    self.output_weights = head.output_weights
    self.output_bias = head.output_bias

  def checkpoint_heads(self):
    """The layers whose `checkpoint_entries()` name the weights outside the encoder."""
    return [self.get_layer("classifier")]

  def probabilities(self, logits):
    """float32 [B, num_labels]: softmax, or sigmoid for multi-label models."""
    return tf.sigmoid(logits) if self.multi_label else tf.nn.softmax(logits, axis=-1)

  def classification_loss(self, labels, logits):
    """Mean loss of a batch: labels int [B] (or multi-hot float [B, num_labels])."""
    logits = tf.cast(logits, tf.float32)
    if self.multi_label:
      per_label = tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(labels, tf.float32), logits)
      return tf.reduce_mean(per_label)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "num_labels": self.num_labels,
            "multi_label": self.multi_label, "dropout_rate": self.dropout_rate, "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(BertConfig.from_dict(config.pop("encoder")), **config)


# === Loss and metrics (for `bert_tf2.core.training`) ===

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


def loss_fn(model, features, training):
  """`bert_tf2.core.training` loss: (mean loss of the batch, {correct, examples} sums)."""
  logits = model({name: features[name] for name in INPUT_NAMES}, training=training)
  labels = features["label_ids"]
  loss = model.classification_loss(labels, logits)
  if model.multi_label:
    correct = tf.reduce_all(tf.equal(logits >= 0.0, labels > 0.5), axis=-1)
  else:
    correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
  return loss, {"correct": tf.reduce_sum(tf.cast(correct, tf.float32)),
                "examples": tf.cast(tf.shape(logits)[0], tf.float32)}


def metrics_fn(totals):
  return {"accuracy": float(totals["correct"] / max(totals["examples"], 1.0))}


def f1_scores(labels, predictions):
  """(micro F1, macro F1) of multi-hot [N, L] arrays; a label never true nor predicted scores 0."""
  labels, predictions = np.asarray(labels) > 0.5, np.asarray(predictions)
  tp = (labels & predictions).sum(0)
  fp = (~labels & predictions).sum(0)
  fn = (labels & ~predictions).sum(0)
  micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
  macro = np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1))
  return float(micro), float(macro)
