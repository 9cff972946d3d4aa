"""`BertPretrainer`: a `BertModel` plus the original masked-LM and next-sentence heads, and their losses.

    pretrainer = BertPretrainer(BertConfig.from_json_file("bert_config.json"))
    load_checkpoint(pretrainer, "chinese_L-12_H-768_A-12/bert_model.ckpt")  # heads included
    outputs = pretrainer({"input_ids": ..., "input_mask": ..., "segment_ids": ...,
                          "masked_lm_positions": ...})
    losses = pretraining_losses(outputs, features)   # total_loss, masked_lm_loss, ...

The heads and losses are those of Google's run_pretraining.py (`get_masked_lm_output`,
`get_next_sentence_output`); the checkpoint names (`cls/predictions/...`, `cls/seq_relationship/...`)
are mapped in `bert_tf2.checkpoints`.

Shape legend: B = batch size, T = sequence length, P = max_predictions_per_seq, D = hidden size,
V = vocab size.
"""

import os

import keras
import tensorflow as tf
from absl import logging

from bert_tf2 import layers
from bert_tf2.modeling import BertConfig, BertModel, apply_layers

MODEL_INPUTS = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")


@keras.saving.register_keras_serializable(package="bert_tf2")
class MaskedLMHead(layers.BertConfigLayer):
  """`cls/predictions`: dense + activation + LayerNorm, then logits against the word embeddings.

  Call: `(sequence_output, masked_lm_positions)`: float [B, T, D] and int32 [B, P], or the
  already gathered rows float [B, P, D] -> logits [B, P, V]. The output weights are the encoder's word-embedding table (tied), plus
  `output_bias` [V].
  """

  def __init__(self, config, word_embeddings, **kwargs):
    super().__init__(config, **kwargs)
    self.word_embeddings = word_embeddings  # keras.layers.Embedding, shared with the encoder
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

  def get_config(self):
    # Alone, the head rebuilds with its own copy of the table; BertPretrainer.from_config ties it again.
    return {**super().get_config(), "word_embeddings": keras.layers.serialize(self.word_embeddings)}

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
  """

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
  """`bert_tf2.training` loss_fn for a BertPretrainer: (total_loss, metric sums)."""
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


def eval_results(totals, global_step):
  """Totals of an evaluation -> the original's eval_results.txt keys."""
  results = finalize_metrics(totals)
  results.update(loss=float(totals["loss_sum"]) / float(totals["num_batches"]), global_step=int(global_step))
  return results


def write_eval_results(results, path):
  """`key = value` lines in sorted order, as the original's Estimator-based run_pretraining.py."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    for key in sorted(results):
      f.write("%s = %s\n" % (key, results[key]))
  os.replace(tmp, path)


def run_pretraining(bert_config, input_files, output_dir, *, init_checkpoint=None, max_seq_length=128,
                    max_predictions_per_seq=20, do_train=True, do_eval=False, eval_input_files=None,
                    train_batch_size=32, eval_batch_size=8, learning_rate=5e-5, num_train_steps=100000,
                    num_warmup_steps=10000, save_checkpoints_steps=1000, steps_per_execution=1,
                    max_eval_steps=100, log_steps=100, strategy=None, mixed_precision="none",
                    jit_compile=False, optimizer_type="adamw", eval_at_checkpoints=False, seed=None,
                    freeze_encoder=False):
  """run_pretraining.py as a function: train (resuming in `output_dir`), export, evaluate.

  Args:
    bert_config: BertConfig. input_files: list of TFRecord paths from create_pretraining_data.
    output_dir: str; gets checkpoints `ckpt-<step>`, `train/` and `eval/` TensorBoard events,
      `bert_model.ckpt` + `bert_config.json` (Google format, encoder and heads) after training,
      and `eval_results.txt` after evaluation.
    init_checkpoint: str or None, Google or TF2 checkpoint seeding the weights of a fresh run.
    train_batch_size, eval_batch_size: int, GLOBAL batch sizes (split over the strategy's replicas).
    eval_input_files: list or None, evaluation records (default: `input_files`, as the original).
    steps_per_execution: int, steps per tf.function call (the original's iterations_per_loop).
    strategy: tf.distribute.Strategy or None (default strategy).
    mixed_precision: "none", "mixed_float16" or "mixed_bfloat16".
    eval_at_checkpoints: bool, with do_eval also evaluate at step 0 and after every checkpoint,
      appending the results to `output_dir/eval_history.txt` (a held-out learning curve).
    freeze_encoder: bool, train only the embeddings and the heads; the encoder layers and pooler
      keep their `init_checkpoint` values (the first stage after `load_transplanted_checkpoint`).
    Other arguments: as the flags of the original script.

  Returns:
    dict with `train` (last logged training metrics) and `eval` (eval_results) when run.
  """
  from bert_tf2 import checkpoints, distribute, optimization, pretraining_data, training
  if seed is not None:
    keras.utils.set_random_seed(seed)
  strategy = strategy or tf.distribute.get_strategy()
  distribute.set_mixed_precision(mixed_precision)
  with strategy.scope():
    model = BertPretrainer(bert_config)
    if freeze_encoder:
      for layer in list(model.encoder.encoder_layers) + [model.encoder.pooler]:
        layer.trainable = False
    optimizer = optimization.create_optimizer(learning_rate, num_train_steps, num_warmup_steps, optimizer_type)
    if mixed_precision == "mixed_float16":
      optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
  result = {}
  os.makedirs(output_dir, exist_ok=True)
  eval_writer = (tf.summary.create_file_writer(os.path.join(output_dir, "eval")) if training.is_chief(strategy)
                 else tf.summary.create_noop_writer())

  def evaluate(step):
    dataset = pretraining_data.make_pretraining_dataset(
        eval_input_files or input_files, max_seq_length, max_predictions_per_seq, eval_batch_size, is_training=False)
    totals = training.evaluate(model, pretraining_loss_fn, dataset, strategy, max_eval_steps, jit_compile)
    results = eval_results(totals, step)
    training.write_scalars(eval_writer, results, step)
    return results

  def eval_to_history(step):
    results = evaluate(step)
    logging.info("eval at step %d: %s", step, ", ".join("%s = %.4f" % kv for kv in sorted(results.items())))
    if training.is_chief(strategy):
      with open(os.path.join(output_dir, "eval_history.txt"), "a") as f:
        f.write(" ".join("%s=%s" % kv for kv in sorted(results.items())) + "\n")

  if do_train:
    dataset = pretraining_data.make_pretraining_dataset(
        input_files, max_seq_length, max_predictions_per_seq, train_batch_size, is_training=True, seed=seed)
    if len(input_files) < strategy.num_replicas_in_sync:  # too few files to shard by file
      options = tf.data.Options()
      options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
      dataset = dataset.with_options(options)
    init_fn = (lambda: checkpoints.load_checkpoint(model, init_checkpoint)) if init_checkpoint else None
    result["train"] = training.train(
        model, optimizer, pretraining_loss_fn, dataset, strategy, output_dir, num_train_steps,
        save_checkpoints_steps, train_batch_size, metrics_fn=training_metrics, init_fn=init_fn,
        steps_per_execution=steps_per_execution, log_steps=log_steps, jit_compile=jit_compile,
        on_checkpoint=eval_to_history if do_eval and eval_at_checkpoints else None)
    if training.is_chief(strategy):
      checkpoints.save_google_checkpoint(model, os.path.join(output_dir, "bert_model.ckpt"))
  elif tf.train.latest_checkpoint(output_dir):
    checkpoints.load_checkpoint(model, output_dir)
  elif init_checkpoint:
    checkpoints.load_checkpoint(model, init_checkpoint)
  if do_eval:
    result["eval"] = evaluate(result.get("train", {}).get("global_step") or _checkpoint_step(output_dir))
    if training.is_chief(strategy):
      write_eval_results(result["eval"], os.path.join(output_dir, "eval_results.txt"))
  return result


def _checkpoint_step(output_dir):
  latest = tf.train.latest_checkpoint(output_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else 0
