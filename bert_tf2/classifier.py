"""Sentence (pair) classification: run_classifier.py's examples, features and model.

    example = InputExample("train-1", "the movie was great", label="1")
    features = convert_examples_to_features([example], ["0", "1"], 128, tokenizer)
    model = BertClassifier(config, num_labels=2)       # or BertClassifier(encoder, 2)
    logits = model({"input_ids": ..., "input_mask": ..., "segment_ids": ...})  # [B, num_labels]

Features are built as the original: `[CLS] a [SEP]` (segment 0) `b [SEP]` (segment 1), the pair
truncated longest-first (ties trim b), a single sentence cut to max_seq_length - 2, zero padding.
`run_classifier` (bottom) is the job behind scripts/run_classifier.py: train, evaluate, predict.
"""

import dataclasses
import json
import os
import shutil
import typing

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import distribute, export, optimization, tokenization, training
from bert_tf2.checkpoints import load_checkpoint
from bert_tf2.modeling import BertConfig, BertModel


@dataclasses.dataclass
class InputExample:
  """One example: `text_a` (and `text_b` for pair tasks), a label (a list for multi-label tasks).

  `source` ("file:line") names where it was read, for error messages.
  """
  guid: str
  text_a: str
  text_b: typing.Optional[str] = None
  label: typing.Any = None
  source: typing.Optional[str] = None


@dataclasses.dataclass
class InputFeatures:
  """One example as model inputs: int lists of length max_seq_length, plus its label id(s).

  label_id: int for single-label tasks, a multi-hot list of float for multi-label ones.
  num_truncated: how many word pieces were dropped to fit max_seq_length.
  """
  input_ids: list
  input_mask: list
  segment_ids: list
  label_id: typing.Any
  is_real_example: bool = True
  num_truncated: int = 0


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Pops from the end of the longer list (ties: `tokens_b`) until len(a) + len(b) <= max_length."""
  while len(tokens_a) + len(tokens_b) > max_length:
    (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()


def _label_id(example, label_map, multi_label):
  where = example.source or example.guid
  labels = example.label if multi_label else [example.label]
  if multi_label and not isinstance(labels, (list, tuple)):
    raise ValueError("%s: multi-label example needs a list of labels, got %r" % (where, example.label))
  for label in labels:
    if label not in label_map:
      raise ValueError("%s: label %r is not one of get_labels(): %s"
                       % (where, label, ", ".join(map(str, label_map))))
  if not multi_label:
    return label_map[example.label]
  hot = [0.0] * len(label_map)
  for label in labels:
    hot[label_map[label]] = 1.0
  return hot


def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer, multi_label=False):
  """InputExample -> InputFeatures, as the original function of this name.

  Args:
    ex_index: int, the example's position (the original logs the first 5).
    example: InputExample; `label` None (test sets) maps to the first label.
    label_list: list of label strings; a label id is its position.
    max_seq_length: int, T >= 3.
    tokenizer: a `FullTokenizer`.
    multi_label: bool, `example.label` is a list and `label_id` becomes multi-hot.
  """
  label_map = {label: i for i, label in enumerate(label_list)}
  if example.label is None:
    label_id = [0.0] * len(label_list) if multi_label else 0
  else:
    label_id = _label_id(example, label_map, multi_label)
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
  num_tokens = len(tokens_a) + len(tokens_b or [])
  if tokens_b:
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)  # [CLS] a [SEP] b [SEP]
  else:
    tokens_a = tokens_a[:max_seq_length - 2]  # [CLS] a [SEP]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segment_ids += [1] * (len(tokens_b) + 1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  padding = [0] * (max_seq_length - len(input_ids))
  if ex_index < 5:
    logging.info("*** Example %s ***\ntokens: %s\nlabel: %s (id = %s)", example.guid,
                 " ".join(tokens), example.label, label_id)
  return InputFeatures(
      input_ids=input_ids + padding, input_mask=[1] * len(input_ids) + padding,
      segment_ids=segment_ids + padding, label_id=label_id,
      num_truncated=num_tokens - len(tokens_a) - len(tokens_b or []))


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label=False):
  """[InputExample] -> [InputFeatures]; logs how many examples were truncated."""
  if max_seq_length < 3:
    raise ValueError("max_seq_length must be at least 3, got %d" % max_seq_length)
  features = [convert_single_example(i, e, label_list, max_seq_length, tokenizer, multi_label)
              for i, e in enumerate(examples)]
  truncated = sum(1 for f in features if f.num_truncated)
  if truncated:
    logging.info("%d of %d examples were longer than max_seq_length=%d and were truncated",
                 truncated, len(features), max_seq_length)
  return features


def features_to_arrays(features, multi_label=False):
  """[InputFeatures] -> ({input_ids, input_mask, segment_ids: int32 [N, T]}, labels [N] or [N, L])."""
  inputs = {name: np.array([getattr(f, name) for f in features], np.int32).reshape(len(features), -1)
            for name in ("input_ids", "input_mask", "segment_ids")}
  labels = np.array([f.label_id for f in features], np.float32 if multi_label else np.int32)
  return inputs, labels


@keras.saving.register_keras_serializable(package="bert_tf2")
class _OutputLayer(keras.layers.Layer):
  """logits = x @ output_weights^T + output_bias, with run_classifier.py's [num_labels, D] kernel."""

  def __init__(self, num_labels, initializer_range, **kwargs):
    super().__init__(**kwargs)
    self.num_labels = num_labels
    self.initializer_range = initializer_range

  def build(self, input_shape):
    self.output_weights = self.add_weight(
        name="output_weights", shape=(self.num_labels, input_shape[-1]),
        initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
    self.output_bias = self.add_weight(name="output_bias", shape=(self.num_labels,), initializer="zeros")

  def get_config(self):
    return {**super().get_config(), "num_labels": self.num_labels, "initializer_range": self.initializer_range}

  def call(self, x):
    return tf.matmul(x, tf.cast(self.output_weights, x.dtype), transpose_b=True) + tf.cast(self.output_bias, x.dtype)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.num_labels,)


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
  run_classifier.py's names, so `bert_tf2.checkpoints` loads the original's fine-tuned checkpoints.
  """

  def __init__(self, encoder, num_labels, multi_label=False, dropout_rate=None, **kwargs):
    if isinstance(encoder, (BertConfig, dict)):
      encoder = BertModel(encoder)
    config = encoder.config
    # === Layers ===
    dropout = keras.layers.Dropout(config.hidden_dropout_prob if dropout_rate is None else dropout_rate)
    head = _OutputLayer(num_labels, config.initializer_range, name="classifier")
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


# === Training, evaluation, prediction ===


INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


def make_dataset(inputs, labels, batch_size, training, seed=None):
  """tf.data of {input_ids, input_mask, segment_ids, label_ids}; training: shuffled, repeated, full batches."""
  dataset = tf.data.Dataset.from_tensor_slices(dict(inputs, label_ids=labels))
  if training:
    dataset = dataset.shuffle(min(len(labels), 100000), seed=seed).repeat()
  return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def loss_fn(model, features, training):
  """`bert_tf2.training` loss: (mean loss of the batch, {correct, examples} sums)."""
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


def predict_logits(model, inputs, batch_size):
  """float32 logits [N, num_labels] of numpy `inputs`, in order."""
  forward = tf.function(lambda x: model(x, training=False))
  dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size)
  return np.concatenate([forward(x).numpy() for x in dataset]).astype(np.float32)


def f1_scores(labels, predictions):
  """(micro F1, macro F1) of multi-hot [N, L] arrays; a label never true nor predicted scores 0."""
  labels, predictions = np.asarray(labels) > 0.5, np.asarray(predictions)
  tp = (labels & predictions).sum(0)
  fp = (~labels & predictions).sum(0)
  fn = (labels & ~predictions).sum(0)
  micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
  macro = np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1))
  return float(micro), float(macro)


def evaluate(model, inputs, labels, batch_size, threshold=0.5):
  """{eval_accuracy, eval_loss} (+ eval_micro_f1, eval_macro_f1 for multi-label; accuracy = exact match)."""
  logits = predict_logits(model, inputs, batch_size)
  results = {"eval_loss": float(model.classification_loss(labels, logits))}
  if model.multi_label:
    predicted = tf.sigmoid(logits).numpy() >= threshold
    results["eval_accuracy"] = float(np.mean(np.all(predicted == (labels > 0.5), axis=-1)))
    results["eval_micro_f1"], results["eval_macro_f1"] = f1_scores(labels, predicted)
  else:
    results["eval_accuracy"] = float(np.mean(np.argmax(logits, -1) == labels))
  return results


# === The run_classifier.py job ===


def _write_atomic(path, text):
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(path + ".tmp", path)


def _restore_for_inference(model, output_dir, init_checkpoint):
  """Weights for eval/predict without training: output_dir's newest checkpoint, else init_checkpoint."""
  if tf.train.latest_checkpoint(output_dir):
    load_checkpoint(model, output_dir)
    return int(tf.train.latest_checkpoint(output_dir).rsplit("-", 1)[-1])
  if not init_checkpoint:
    raise ValueError("%s: no checkpoint to evaluate or predict with (train first with --do_train, or "
                     "pass --init_checkpoint of a fine-tuned model)" % output_dir)
  status = load_checkpoint(model, init_checkpoint)
  if any(name in ("output_weights", "classifier.weight") for name in status.missing):
    raise ValueError("%s: has no classifier weights (output_weights); fine-tune it with --do_train "
                     "first" % init_checkpoint)
  return 0


def run_classifier(processor, data_dir, output_dir, vocab_file, bert_config_file, init_checkpoint=None,
                   do_lower_case=True, max_seq_length=128, do_train=False, do_eval=False,
                   do_predict=False, train_batch_size=32, eval_batch_size=8, predict_batch_size=8,
                   learning_rate=5e-5, num_train_epochs=3.0, warmup_proportion=0.1,
                   save_checkpoints_steps=1000, log_steps=100, distribution_strategy="one_device",
                   mixed_precision="none", num_gpus=None, tpu_address=None, tpu_zone=None,
                   gcp_project=None, steps_per_execution=1, export_dir=None, threshold=0.5, seed=12345):
  """Fine-tunes, evaluates, predicts and exports, as the original run_classifier.py.

  Writes to `output_dir`: TF2 checkpoints `ckpt-<step>`, TensorBoard `train/`, `eval_results.txt`
  ("key = value" lines), `test_results.tsv` (one row of class probabilities per test example),
  `classifier_config.json`, and copies of the vocab and bert_config. Returns {name: value}.
  A run restarted with the same `output_dir` resumes from its newest checkpoint.
  """
  if not (do_train or do_eval or do_predict):
    raise ValueError("at least one of do_train, do_eval or do_predict must be true")
  for path in (vocab_file, bert_config_file):
    if not os.path.isfile(path):
      raise ValueError("%s: file not found" % path)
  config = BertConfig.from_json_file(bert_config_file)
  if max_seq_length > config.max_position_embeddings:
    raise ValueError("max_seq_length %d is longer than %s's max_position_embeddings %d"
                     % (max_seq_length, bert_config_file, config.max_position_embeddings))
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  keras.utils.set_random_seed(seed)
  distribute.set_mixed_precision(mixed_precision)
  strategy = distribute.get_strategy(distribution_strategy, tpu_address=tpu_address, num_gpus=num_gpus,
                                     tpu_zone=tpu_zone, gcp_project=gcp_project)
  os.makedirs(output_dir, exist_ok=True)
  multi_label = processor.is_multi_label
  saved_config = os.path.join(output_dir, "classifier_config.json")
  train_examples = processor.get_train_examples(data_dir) if do_train else None
  if not do_train and os.path.exists(saved_config):
    with open(saved_config, encoding="utf-8") as f:
      label_list = json.load(f)["labels"]
  else:
    try:
      label_list = processor.get_labels()
    except ValueError:  # a generic processor learns its labels from the train file
      processor.get_train_examples(data_dir)
      label_list = processor.get_labels()
  with strategy.scope():
    model = BertClassifier(config, len(label_list), multi_label=multi_label)
  results, is_pair, global_step = {}, None, 0
  if do_train:
    features = convert_examples_to_features(train_examples, label_list, max_seq_length, tokenizer, multi_label)
    is_pair = any(e.text_b for e in train_examples)
    num_train_steps = max(int(len(features) / train_batch_size * num_train_epochs), 1)
    with strategy.scope():
      optimizer = optimization.create_optimizer(learning_rate, num_train_steps,
                                                int(num_train_steps * warmup_proportion))
      if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    logging.info("Training on %d examples, batch %d, %d steps", len(features), train_batch_size, num_train_steps)
    dataset = make_dataset(*features_to_arrays(features, multi_label), train_batch_size, True, seed)
    init_fn = (lambda: load_checkpoint(model, init_checkpoint)) if init_checkpoint else None
    trained = training.train(model, optimizer, loss_fn, dataset, strategy, output_dir, num_train_steps,
                             save_checkpoints_steps, train_batch_size, metrics_fn=metrics_fn,
                             init_fn=init_fn, log_steps=log_steps,
                             steps_per_execution=steps_per_execution)
    global_step = trained["global_step"]
    results["train_truncated"] = sum(1 for f in features if f.num_truncated)
    shutil.copyfile(vocab_file, os.path.join(output_dir, "vocab.txt.tmp"))
    os.replace(os.path.join(output_dir, "vocab.txt.tmp"), os.path.join(output_dir, "vocab.txt"))
    _write_atomic(os.path.join(output_dir, "bert_config.json"), config.to_json_string())
    _write_atomic(saved_config, json.dumps({
        "labels": label_list, "multi_label": multi_label, "is_pair": is_pair,
        "max_seq_length": max_seq_length, "do_lower_case": do_lower_case}, indent=2) + "\n")
  else:
    global_step = _restore_for_inference(model, output_dir, init_checkpoint)
  if do_eval:
    examples = processor.get_dev_examples(data_dir)
    features = convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label)
    inputs, labels = features_to_arrays(features, multi_label)
    evaluation = dict(evaluate(model, inputs, labels, eval_batch_size, threshold), global_step=global_step)
    evaluation["eval_truncated"] = sum(1 for f in features if f.num_truncated)
    _write_atomic(os.path.join(output_dir, "eval_results.txt"),
                  "".join("%s = %s\n" % (k, evaluation[k]) for k in sorted(evaluation)))
    logging.info("Eval results: %s", evaluation)
    results.update(evaluation)
    is_pair = is_pair if is_pair is not None else any(e.text_b for e in examples)
  if do_predict:
    examples = processor.get_test_examples(data_dir)
    features = convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, multi_label)
    logits = predict_logits(model, features_to_arrays(features, multi_label)[0], predict_batch_size)
    probabilities = model.probabilities(logits).numpy()
    _write_atomic(os.path.join(output_dir, "test_results.tsv"),
                  "".join("\t".join(str(p) for p in row) + "\n" for row in probabilities))
    results["num_predictions"] = len(probabilities)
    is_pair = is_pair if is_pair is not None else any(e.text_b for e in examples)
  if export_dir:
    if is_pair is None and os.path.exists(saved_config):
      with open(saved_config, encoding="utf-8") as f:
        is_pair = json.load(f)["is_pair"]
    export.export_classifier(model, export_dir, vocab_file, do_lower_case, max_seq_length, label_list,
                             bool(is_pair), threshold)
    results["export_dir"] = export_dir
  return results
