"""Span question answering (SQuAD): run_squad.py's model and loss.

    model = BertQuestionAnswerer(config)              # or BertQuestionAnswerer(encoder)
    out = model({"input_ids": ..., "input_mask": ..., "segment_ids": ...})
    out["start_logits"], out["end_logits"]            # float32 [B, T]
    loss = model.span_loss(start_positions, end_positions, out)

sequence_output [B, T, H] -> one dense layer with 2 outputs -> start and end logits per token, as
the original's `create_model`; no masking of padding, as there. The head's variables are
`squad.output_weights` [2, H] and `squad.output_bias` [2], which `SpanHead` names as the
original's `cls/squad/output_weights` / `output_bias` (and Hugging Face's `qa_outputs.*`), so
fine-tuned checkpoints of either load. Examples become features in `bert_tf2.tasks.squad.data`; the job
behind scripts/run_squad.py is `bert_tf2.tasks.squad.task.run_squad`.
"""

import keras
import tensorflow as tf

from bert_tf2.layers import OutputLayer
from bert_tf2.modeling import BertConfig, BertModel

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


@keras.saving.register_keras_serializable(package="bert_tf2")
class SpanHead(OutputLayer):
  """[B, T, H] -> float32 start and end logits [B, T]: an `OutputLayer` with the original's [2, H]
  kernel (row 0 scores starts, row 1 ends), named as run_squad.py's `cls/squad/output_weights` and
  transformers' `qa_outputs.weight` (not transposed: both are [2, H])."""

  def __init__(self, initializer_range=0.02, google_scope="cls/squad", hf_module="qa_outputs", **kwargs):
    super().__init__(2, initializer_range, google_scope=google_scope, hf_module=hf_module, **kwargs)

  def call(self, x):
    logits = tf.cast(super().call(x), tf.float32)  # (B, T, 2)
    return logits[..., 0], logits[..., 1]  # start, end: (B, T) each

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]), tuple(input_shape[:-1])

  def get_config(self):
    config = super().get_config()
    del config["num_labels"]  # always 2
    return config


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertQuestionAnswerer(keras.Model):
  """BertModel -> SpanHead: {"start_logits", "end_logits"} float32 [B, T].

  Args:
    encoder: a `BertModel`, or a `BertConfig` (or its dict) to build one from.

  The original applies no dropout to the sequence output before the span layer; neither do we.
  """

  hf_architecture = "BertForQuestionAnswering"  # the transformers class save_hf_checkpoint writes

  def __init__(self, encoder, **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    # === Layers ===
    head = SpanHead(encoder.config.initializer_range, name="squad")
    # === Functional Model ===
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
    start, end = head(encoder(inputs)["sequence_output"])
    super().__init__(inputs=inputs, outputs={"start_logits": start, "end_logits": end}, **kwargs)
    # === Config ===
    self.encoder = encoder
    self.squad = head

  def checkpoint_heads(self):
    """The layers whose `checkpoint_entries()` name the weights outside the encoder."""
    return [self.squad]

  @staticmethod
  def span_loss(start_positions, end_positions, outputs):
    """The original's loss: mean over the batch of (start cross-entropy + end cross-entropy) / 2.

    Args:
      start_positions, end_positions: int [B], token positions (0 = [CLS]: no answer in this span).
      outputs: the model's dict of float32 [B, T] logits.
    """
    def cross_entropy(positions, logits):
      return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          tf.cast(positions, tf.int32), tf.cast(logits, tf.float32)))
    return (cross_entropy(start_positions, outputs["start_logits"])
            + cross_entropy(end_positions, outputs["end_logits"])) / 2.0

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(BertConfig.from_dict(config.pop("encoder")), **config)


# === Loss and metrics (for `bert_tf2.core.training`) ===


def loss_fn(model, features, training):
  """`bert_tf2.core.training` loss: (span loss of the batch, {start_correct, end_correct, examples} sums)."""
  outputs = model({name: features[name] for name in INPUT_NAMES}, training=training)
  starts, ends = features["start_positions"], features["end_positions"]
  loss = model.span_loss(starts, ends, outputs)

  def correct(logits, positions):
    hit = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(positions, tf.int32))
    return tf.reduce_sum(tf.cast(hit, tf.float32))

  return loss, {"start_correct": correct(outputs["start_logits"], starts),
                "end_correct": correct(outputs["end_logits"], ends),
                "examples": tf.cast(tf.shape(starts)[0], tf.float32)}


def metrics_fn(totals):
  examples = max(float(totals["examples"]), 1.0)
  return {"start_accuracy": float(totals["start_correct"]) / examples,
          "end_accuracy": float(totals["end_correct"]) / examples}
