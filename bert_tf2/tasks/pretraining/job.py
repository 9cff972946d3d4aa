"""The run_pretraining.py job: masked-LM + next-sentence (or ELECTRA) pretraining, export, evaluation.

    strategy = tf.distribute.MirroredStrategy()      # scripts build it from --distribution_strategy
    run_pretraining(BertConfig.from_json_file("bert_config.json"), ["train-00.tfrecord"], "out/",
                    num_train_steps=10000, num_warmup_steps=1000, strategy=strategy)
"""

import os

import tensorflow as tf
from absl import logging

from bert_tf2 import checkpoints, optimization
from bert_tf2.core import checks
from bert_tf2.tasks import runner
from bert_tf2.tasks.pretraining import electra
from bert_tf2.tasks.pretraining import data as pretraining_data
from bert_tf2.core import training
from bert_tf2.tasks.pretraining.model import BertPretrainer, finalize_metrics, pretraining_loss_fn, training_metrics

# Pretraining records always hold two non-empty segments: [CLS] A [SEP] B [SEP].
MIN_PRETRAINING_SEQ_LENGTH = 5


def eval_results(totals, global_step, finalize=finalize_metrics):
  """Totals of an evaluation -> the original's eval_results.txt keys (`finalize`: the objective's)."""
  results = finalize(totals)
  results.update(loss=float(totals["loss_sum"]) / float(totals["num_batches"]), global_step=int(global_step))
  return results


def _build(bert_config, strategy, freeze_encoder, learning_rate, num_train_steps, num_warmup_steps, optimizer_type,
           objective="mlm", generator_config=None):
  with strategy.scope():
    model = (electra.ElectraPretrainer(bert_config, generator=generator_config) if objective == "electra"
             else BertPretrainer(bert_config))
    if freeze_encoder:
      for layer in list(model.encoder.encoder_layers) + [model.encoder.pooler]:
        layer.trainable = False
    optimizer = optimization.create_optimizer(learning_rate, num_train_steps, num_warmup_steps, optimizer_type)
  return model, optimizer


def _train_dataset(input_files, max_seq_length, max_predictions_per_seq, batch_size, seed, strategy):
  dataset = pretraining_data.make_pretraining_dataset(
      input_files, max_seq_length, max_predictions_per_seq, batch_size, is_training=True, seed=seed)
  if len(input_files) < strategy.num_replicas_in_sync:  # too few files to shard by file
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
  return dataset


def _check_arguments(bert_config, output_dir, init_checkpoint, max_seq_length, max_predictions_per_seq, do_train,
                     do_eval, num_train_steps, num_warmup_steps, objective):
  """ValueError on the first bad argument of `run_pretraining`, before any work."""
  if not (do_train or do_eval):
    raise ValueError("at least one of do_train and do_eval must be true")
  checks.check_max_seq_length(max_seq_length, bert_config.max_position_embeddings,
                              minimum=MIN_PRETRAINING_SEQ_LENGTH)
  if max_predictions_per_seq < 1:
    raise ValueError("max_predictions_per_seq must be at least 1, got %d" % max_predictions_per_seq)
  if do_train and num_warmup_steps > num_train_steps:
    raise ValueError("num_warmup_steps=%d exceeds num_train_steps=%d" % (num_warmup_steps, num_train_steps))
  if objective not in ("mlm", "electra"):
    raise ValueError("objective must be mlm or electra, got %r" % (objective,))
  checks.check_checkpoint(init_checkpoint)
  checks.check_output_dir(output_dir)


class _Evaluation:
  """Held-out evaluation of a pretraining model: eval_results keys, TensorBoard `eval/`, and the
  learning curve `eval_history.txt` (chief only)."""

  def __init__(self, model, loss_fn, finalize, strategy, output_dir, input_files, max_seq_length,
               max_predictions_per_seq, batch_size, max_steps, jit_compile):
    self.model, self.loss_fn, self.finalize, self.strategy = model, loss_fn, finalize, strategy
    self.output_dir, self.chief = output_dir, training.is_chief(strategy)
    self.dataset_args = (input_files, max_seq_length, max_predictions_per_seq, batch_size)
    self.max_steps, self.jit_compile = max_steps, jit_compile
    self.writer = (tf.summary.create_file_writer(os.path.join(output_dir, "eval")) if self.chief
                   else tf.summary.create_noop_writer())

  def evaluate(self, step):
    """eval_results at `step`, also written as TensorBoard scalars in output_dir/eval."""
    dataset = pretraining_data.make_pretraining_dataset(*self.dataset_args, is_training=False)
    totals = training.evaluate(self.model, self.loss_fn, dataset, self.strategy, self.max_steps, self.jit_compile)
    results = eval_results(totals, step, self.finalize)
    training.write_scalars(self.writer, results, step)
    return results

  def to_history(self, step):
    """`evaluate`, logged and appended to output_dir/eval_history.txt."""
    results = self.evaluate(step)
    logging.info("eval at step %d: %s", step, ", ".join("%s = %.4f" % kv for kv in sorted(results.items())))
    if self.chief:
      with open(os.path.join(self.output_dir, "eval_history.txt"), "a") as f:
        f.write(" ".join("%s=%s" % kv for kv in sorted(results.items())) + "\n")


def run_pretraining(bert_config, input_files, output_dir, *, init_checkpoint=None, max_seq_length=128,
                    max_predictions_per_seq=20, do_train=True, do_eval=False, eval_input_files=None,
                    train_batch_size=32, eval_batch_size=8, learning_rate=5e-5, num_train_steps=100000,
                    num_warmup_steps=10000, save_checkpoints_steps=1000, steps_per_execution=1,
                    max_eval_steps=100, log_steps=100, strategy=None, mixed_precision="none",
                    jit_compile=False, optimizer_type="adamw", eval_at_checkpoints=False, seed=None,
                    freeze_encoder=False, objective="mlm", generator_config=None, rtd_weight=50.0,
                    bert_config_file="bert_config.json"):
  """run_pretraining.py as a function: train (resuming in `output_dir`), export, evaluate.

  Args:
    bert_config: BertConfig. input_files: list of TFRecord paths from create_pretraining_data.
    output_dir: str; gets checkpoints `model.ckpt-<step>`, `train/` and `eval/` TensorBoard events,
      `bert_model.ckpt` + `bert_config.json` (Google format, encoder and heads) after training,
      and `eval_results.txt` after evaluation.
    init_checkpoint: str or None, Google or TF2 checkpoint seeding the weights of a fresh run.
    max_seq_length: int, that of the records (5 <= it <= max_position_embeddings).
    train_batch_size, eval_batch_size: int, GLOBAL batch sizes (split over the strategy's replicas).
    eval_input_files: list or None, evaluation records (default: `input_files`, as the original).
    steps_per_execution: int, steps per tf.function call (the original's iterations_per_loop).
    strategy: tf.distribute.Strategy or None (default strategy).
    mixed_precision: "none", "mixed_float16" or "mixed_bfloat16".
    eval_at_checkpoints: bool, with do_eval also evaluate at step 0 and after every checkpoint,
      appending the results to `output_dir/eval_history.txt` (a held-out learning curve).
    freeze_encoder: bool, train only the embeddings and the heads; the encoder layers and pooler
      keep their `init_checkpoint` values (the first stage after `load_transplanted_checkpoint`).
    objective: "mlm" (masked LM + next sentence, the original's) or "electra" (Clark et al. 2020:
      generator masked LM + rtd_weight * replaced-token detection, `bert_tf2.tasks.pretraining.electra`; NSP labels
      ignored; `bert_model.ckpt` holds the discriminator as a BERT encoder).
    generator_config: BertConfig or None, ELECTRA's generator (default: `electra.generator_config`,
      a quarter of the hidden size). rtd_weight: float, ELECTRA's lambda.
    bert_config_file: str, the config's file, named in messages.
    Other arguments: as the flags of the original script.

  Returns:
    dict with `train` (last logged training metrics) and `eval` (eval_results) when run.
  """
  _check_arguments(bert_config, output_dir, init_checkpoint, max_seq_length, max_predictions_per_seq, do_train,
                   do_eval, num_train_steps, num_warmup_steps, objective)
  for files in (input_files, eval_input_files or []):
    for path in pretraining_data.expand_patterns(files)[:16]:
      pretraining_data.check_record_ids(path, bert_config.vocab_size, bert_config_file)
  strategy = runner.set_up_run(seed, mixed_precision, strategy)
  model, optimizer = _build(bert_config, strategy, freeze_encoder, learning_rate, num_train_steps,
                            num_warmup_steps, optimizer_type, objective, generator_config)
  loss_fn, metrics_fn, finalize = ((electra.electra_loss_fn(rtd_weight), electra.finalize_metrics,
                                    electra.finalize_metrics) if objective == "electra"
                                   else (pretraining_loss_fn, training_metrics, finalize_metrics))
  result = {}
  os.makedirs(output_dir, exist_ok=True)
  chief = training.is_chief(strategy)
  evaluation = _Evaluation(model, loss_fn, finalize, strategy, output_dir, eval_input_files or input_files,
                           max_seq_length, max_predictions_per_seq, eval_batch_size, max_eval_steps, jit_compile)
  if do_train:
    dataset = _train_dataset(input_files, max_seq_length, max_predictions_per_seq, train_batch_size, seed, strategy)
    result["train"] = training.train(
        model, optimizer, loss_fn, dataset, strategy, output_dir, num_train_steps,
        save_checkpoints_steps, train_batch_size, metrics_fn=metrics_fn,
        init_fn=(lambda: checkpoints.load_checkpoint(model, init_checkpoint)) if init_checkpoint else None,
        steps_per_execution=steps_per_execution, log_steps=log_steps, jit_compile=jit_compile,
        on_checkpoint=evaluation.to_history if do_eval and eval_at_checkpoints else None)
    if chief:
      checkpoints.save_google_checkpoint(model, os.path.join(output_dir, "bert_model.ckpt"))
  elif tf.train.latest_checkpoint(output_dir):
    checkpoints.load_checkpoint(model, output_dir)
  elif init_checkpoint:
    checkpoints.load_checkpoint(model, init_checkpoint)
  if do_eval:
    result["eval"] = evaluation.evaluate(result.get("train", {}).get("global_step") or runner.latest_step(output_dir))
    if chief:
      runner.write_key_values(os.path.join(output_dir, "eval_results.txt"), result["eval"])
  evaluation.writer.close()
  return result
