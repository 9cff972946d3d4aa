"""Token tagging (NER, POS): `BertTagger` = encoder -> dropout -> dense, with an optional CRF.

    model = BertTagger(config, num_labels=7, use_crf=True)     # or BertTagger(encoder, 7)
    logits = model({"input_ids": ..., "input_mask": ..., "segment_ids": ...})   # float32 [B, T, L]
    loss = model.tagging_loss(logits, label_ids, label_mask)  # scalar
    tag_ids = model.decode(logits, label_mask)                 # int32 [B, T]

Only the positions with `label_mask` 1 (each word's first word piece, see `bert_tf2.tasks.tagging.data`)
are tagged. Without a CRF each is an independent softmax over the L tags; with one, the tagged
positions of a window are gathered into a sequence (in order) and scored as a linear-chain CRF
(`bert_tf2.tasks.tagging.crf`): log-likelihood for training, Viterbi for decoding.
"""

import keras
import numpy as np
import tensorflow as tf

from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging.crf import CRF
from bert_tf2.layers import OutputLayer
from bert_tf2.modeling import BertConfig, BertModel

INPUT_NAMES = tagging_data.INPUT_NAMES
CRF_LR_MULTIPLIER = 100.0  # BertTagger's default: the CRF's scores learn 100x as fast as the encoder


def compact(values, mask):
  """Moves the masked positions of each row to its front, in order.

  Args:
    values: Tensor [B, T, ...]; mask: int or bool [B, T].

  Returns:
    (values gathered [B, T, ...] (the first `lengths[b]` rows are row b's masked positions),
     lengths int32 [B], order int32 [B, T]: the source position of each gathered row).
  Example: mask [0, 1, 0, 1] -> order [1, 3, 0, 2], length 2.
  """
  mask = tf.cast(mask, tf.bool)
  length = tf.shape(mask)[1]
  positions = tf.range(length)[None, :]
  order = tf.argsort(tf.where(mask, positions, positions + length), axis=1, stable=True)  # (B, T)
  return tf.gather(values, order, batch_dims=1), tf.reduce_sum(tf.cast(mask, tf.int32), axis=1), order


def uncompact(compacted, order, mask):
  """The inverse of `compact` for int [B, T] values; 0 at unmasked positions."""
  restored = tf.gather(compacted, tf.argsort(order, axis=1), batch_dims=1)
  return tf.where(tf.cast(mask, tf.bool), restored, tf.zeros_like(restored))


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertTagger(keras.Model):
  """sequence_output -> dropout -> dense: float32 emission logits [B, T, num_labels] (+ a CRF).

  Args:
    encoder: a `BertModel`, or a `BertConfig` (or its dict) to build one from.
    num_labels: int, L.
    use_crf: bool, score tag sequences with a linear-chain CRF instead of per-token softmax.
    dropout_rate: float, default the encoder's hidden_dropout_prob.
    crf_lr_multiplier: float, the CRF scores are this times their variables, so that their
      effective learning rate (with Adam, scale-free) is this many times the encoder's: with
      BERT's 5e-5 the transitions would barely move in a few thousand steps.

  Checkpoint names: the dense layer's are the classifier's (`output_weights`, transformers'
  `classifier.weight`), the CRF's `crf/transitions` etc.
  """

  hf_architecture = "BertForTokenClassification"  # the transformers class save_hf_checkpoint writes

  def __init__(self, encoder, num_labels, use_crf=False, dropout_rate=None, crf_lr_multiplier=CRF_LR_MULTIPLIER,
               **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    config = encoder.config
    # === Layers ===
    dropout = keras.layers.Dropout(config.hidden_dropout_prob if dropout_rate is None else dropout_rate)
    dense = OutputLayer(num_labels, config.initializer_range, google_scope="", hf_module="classifier", name="output")
    crf = (CRF(num_labels, lr_multiplier=crf_lr_multiplier, google_scope="crf", hf_module="crf", name="crf")
           if use_crf else None)
    # === Functional Model ===
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
    logits = dense(dropout(encoder(inputs)["sequence_output"]))
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    if crf is not None:
      logits = crf(logits)  # identity: puts the CRF's scores into the model's weights
    super().__init__(inputs=inputs, outputs=logits, **kwargs)
    # === Config ===
    self.encoder = encoder
    self.output_weights = dense.output_weights
    self.output_bias = dense.output_bias
    self.crf = crf
    self.num_labels = num_labels
    self.use_crf = use_crf
    self.dropout_rate = dropout_rate
    self.crf_lr_multiplier = crf_lr_multiplier

  def checkpoint_heads(self):
    """The layers whose `checkpoint_entries()` name the weights outside the encoder."""
    return [self.get_layer("output")] + ([self.crf] if self.use_crf else [])

  @property
  def hf_export_error(self):
    """Why transformers cannot hold this model (save_hf_checkpoint refuses it), or None."""
    if self.use_crf:
      return ("transformers' BertForTokenClassification has no CRF: this tagger's transition scores "
              "would be lost; export a softmax tagger, or the encoder alone")
    return None

  def tagging_loss(self, logits, label_ids, label_mask):
    """Mean loss per tagged position: cross-entropy, or the CRF's negative log-likelihood summed
    over windows and divided by the number of tagged positions (the same scale)."""
    logits = tf.cast(logits, tf.float32)
    mask = tf.cast(label_mask, tf.float32)
    count = tf.maximum(tf.reduce_sum(mask), 1.0)
    if not self.use_crf:
      per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(label_ids, tf.int32), logits)
      return tf.reduce_sum(per_token * mask) / count
    emissions, lengths, _ = compact(logits, label_mask)
    tags, _, _ = compact(tf.cast(label_ids, tf.int32), label_mask)
    return -tf.reduce_sum(self.crf.log_likelihood(emissions, tags, lengths)) / count

  def decode(self, logits, label_mask):
    """int32 [B, T]: the predicted tag id at each tagged position (0 elsewhere)."""
    logits = tf.cast(logits, tf.float32)
    if not self.use_crf:
      best = tf.argmax(logits, axis=-1, output_type=tf.int32)
      return tf.where(tf.cast(label_mask, tf.bool), best, tf.zeros_like(best))
    emissions, lengths, order = compact(logits, label_mask)
    return uncompact(self.crf.decode(emissions, lengths), order, label_mask)

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "num_labels": self.num_labels, "use_crf": self.use_crf,
            "dropout_rate": self.dropout_rate, "crf_lr_multiplier": self.crf_lr_multiplier, "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(BertConfig.from_dict(config.pop("encoder")), **config)


# === Training and prediction helpers (numpy in, numpy out) ===


def loss_fn(model, features, training):
  """`bert_tf2.core.training` loss: (mean loss per tagged position, {correct, tagged} sums).

  The token accuracy logged while training is the per-token argmax's; a CRF model's emissions
  alone are not its predictions (transitions count too), so it logs the loss only.
  """
  logits = model({name: features[name] for name in INPUT_NAMES}, training=training)
  loss = model.tagging_loss(logits, features["label_ids"], features["label_mask"])
  if model.use_crf:
    return loss, {}
  mask = tf.cast(features["label_mask"], tf.float32)
  best = tf.argmax(logits, axis=-1, output_type=tf.int32)
  correct = tf.cast(tf.equal(best, tf.cast(features["label_ids"], tf.int32)), tf.float32) * mask
  return loss, {"correct": tf.reduce_sum(correct), "tagged": tf.reduce_sum(mask)}


def metrics_fn(totals):
  if "tagged" not in totals:
    return {}
  return {"token_accuracy": float(totals["correct"] / max(totals["tagged"], 1.0))}


def trim_batch(batch):
  """Cuts a batch of [B, T] feature arrays to its longest row (`input_mask`): less padding to compute."""
  length = tf.reduce_max(tf.reduce_sum(tf.cast(batch["input_mask"], tf.int32), axis=1))
  return {name: value[:, :length] for name, value in batch.items()}


def make_dataset(arrays, batch_size, training, seed=None):
  """tf.data of feature-array batches, each cut to its longest row.

  Training: shuffled, repeated, grouped by length (a quarter of max_seq_length apart) into full
  batches, so that short sentences are not padded to the longest window of the set.
  """
  dataset = tf.data.Dataset.from_tensor_slices(arrays)
  if training:
    max_len = int(arrays["input_ids"].shape[1])
    dataset = dataset.shuffle(min(len(arrays["input_ids"]), 100000), seed=seed).repeat()
    boundaries = sorted({max(max_len * k // 4, 1) + 1 for k in (1, 2, 3)})
    dataset = dataset.bucket_by_sequence_length(
        lambda x: tf.reduce_sum(x["input_mask"]), bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1), drop_remainder=True)
  else:
    dataset = dataset.batch(batch_size)
  return dataset.map(trim_batch).prefetch(tf.data.AUTOTUNE)


def predict_tag_ids(model, arrays, batch_size):
  """int32 [N, T] predicted tag ids of feature arrays (`tagging_data.features_to_arrays`), in order.

  Rows are batched by length (sorted, each batch cut to its longest row) and put back in order.
  """
  names = INPUT_NAMES + ("label_mask",)

  @tf.function(input_signature=[{n: tf.TensorSpec([None, None], tf.int32) for n in names}])
  def forward(batch):  # one trace for every batch shape
    logits = model({name: batch[name] for name in INPUT_NAMES}, training=False)
    return model.decode(logits, batch["label_mask"])

  num, max_len = arrays["input_ids"].shape
  order = np.argsort(arrays["input_mask"].sum(1), kind="stable")
  dataset = make_dataset({n: arrays[n][order] for n in names}, batch_size, training=False)
  out = np.zeros((num, max_len), np.int32)
  start = 0
  for batch in dataset:
    ids = forward(batch).numpy()
    out[order[start:start + len(ids)], :ids.shape[1]] = ids
    start += len(ids)
  return out


def predict_examples(model, examples, label_list, max_seq_length, tokenizer, doc_stride, batch_size=32):
  """Tag strings per word of each example: windows, prediction, maximum-context merge."""
  features = tagging_data.convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, doc_stride)
  if not features:
    return [[] for _ in examples]
  ids = predict_tag_ids(model, tagging_data.features_to_arrays(features), batch_size)
  return tagging_data.merge_window_predictions(examples, features, ids, label_list)


def tag_texts(model, texts, label_list, max_seq_length, tokenizer, doc_stride, batch_size=32,
              sentence_ends=tagging_data.SENTENCE_ENDS):
  """One tag per character of each raw text: what the exported SavedModel's `tags` holds, in Python.

  Each text is cut into sentences after the characters in `sentence_ends` (as the training files'
  sentences), each sentence tagged on its own (windows when long); a character with no word piece
  (whitespace, control characters) gets "O".
  """
  sentences = [tagging_data.split_sentences(text, sentence_ends) for text in texts]
  examples = [tagging_data.char_example(s, "%d-%d" % (i, j)) for i, parts in enumerate(sentences)
              for j, s in enumerate(parts)]
  tags = iter(predict_examples(model, examples, label_list, max_seq_length, tokenizer, doc_stride, batch_size))
  return [[t for _ in parts for t in next(tags)] for parts in sentences]
