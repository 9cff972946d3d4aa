"""BERT pretraining (masked LM + next sentence) with the flags of Google's run_pretraining.py.

    PYTHONPATH=. python scripts/run_pretraining.py \
      --bert_config_file=configs/bert_config.json --input_file='runs/data/train-*.tfrecord' \
      --output_dir=runs/pretrain --do_train --do_eval --train_batch_size=32 \
      --max_seq_length=128 --max_predictions_per_seq=20 --num_train_steps=10000 \
      --num_warmup_steps=1000 --learning_rate=1e-4 --save_checkpoints_steps=1000

Batch sizes are GLOBAL: `--train_batch_size` examples per step over all replicas. Started again
with the same --output_dir, a run resumes from the newest checkpoint there (weights, optimizer
moments, step, input position); --init_checkpoint only seeds a fresh run. After training,
`output_dir/bert_model.ckpt` + `bert_config.json` hold the weights under Google's names.

--objective=electra trains ELECTRA (bert_tf2/tasks/pretraining/electra.py) on the same records: a generator of
--generator_hidden_size (or --generator_config_file) and the --bert_config_file model as the
discriminator, loss = generator MLM + --rtd_weight * replaced-token detection; `bert_model.ckpt`
is then the discriminator, a BERT encoder for run_classifier / run_ner / run_squad.
"""

import glob
import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # noqa: E402  (scripts/common_flags.py)
from bert_tf2.core import cli  # noqa: E402

flags.DEFINE_string("bert_config_file", None, "bert_config.json of the model to train.")
flags.DEFINE_string("input_file", None, "TFRecord files from create_pretraining_data (comma-separated globs).")
flags.DEFINE_string("eval_input_file", None, "Evaluation TFRecords (globs); default: --input_file, as the original.")
flags.DEFINE_string("output_dir", None, "Checkpoints, TensorBoard events and eval_results.txt go here.")
flags.DEFINE_string("init_checkpoint", None, "Google or bert_tf2 checkpoint seeding a fresh run.")
flags.DEFINE_integer("max_seq_length", 128, "Must match the records.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Must match the records.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate; writes eval_results.txt.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Global evaluation batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_integer("num_train_steps", 100000, "Training steps (the learning rate reaches 0 there).")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every this many steps.")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per tf.function call (steps per execution).")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum evaluation batches.")
flags.DEFINE_integer("log_steps", 100, "Log and write summaries every this many steps.")
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists them too
flags.DEFINE_bool("jit_compile", False, "XLA-compile each training step (slower on CPU, see benchmarks/).")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "AdamWeightDecay (original) or LAMB.")
flags.DEFINE_bool("eval_at_checkpoints", False, "With --do_eval, also evaluate at step 0 and every checkpoint "
                  "(appended to output_dir/eval_history.txt).")
flags.DEFINE_bool("freeze_encoder", False, "Train only the embeddings and heads (encoder layers and pooler "
                  "stay as --init_checkpoint has them): the first stage after scripts/transplant_vocab.py.")
flags.DEFINE_integer("seed", None, "Seeds Python, NumPy and TF (initialization, dropout).")
flags.DEFINE_enum("objective", "mlm", ["mlm", "electra"], "Masked LM + NSP (the original) or ELECTRA.")
flags.DEFINE_integer("generator_hidden_size", None, "ELECTRA: generator hidden size (default: a quarter).")
flags.DEFINE_string("generator_config_file", None, "ELECTRA: the generator's bert_config.json (instead).")
flags.DEFINE_float("rtd_weight", 50.0, "ELECTRA: weight of the replaced-token-detection loss (the paper's 50).")
FLAGS = flags.FLAGS


def _expand(patterns, flag):
  files = []
  for pattern in patterns.split(","):
    if pattern.strip():
      files += sorted(glob.glob(pattern.strip()))
  if not files:
    raise ValueError("--%s=%s matches no files" % (flag, patterns))
  return files


def main(_):
  from bert_tf2.tasks.pretraining import job as pretraining
  from bert_tf2.modeling import BertConfig
  if not FLAGS.do_train and not FLAGS.do_eval:
    raise ValueError("at least one of --do_train and --do_eval must be set")
  for name in ("bert_config_file", "input_file", "output_dir"):
    if not FLAGS[name].value:
      raise ValueError("--%s is required" % name)
  config = BertConfig.from_json_file(FLAGS.bert_config_file)
  generator = None
  if FLAGS.objective == "electra":
    from bert_tf2.tasks.pretraining import electra
    generator = (BertConfig.from_json_file(FLAGS.generator_config_file) if FLAGS.generator_config_file
                 else electra.generator_config(config, FLAGS.generator_hidden_size))
  input_files = _expand(FLAGS.input_file, "input_file")
  eval_files = _expand(FLAGS.eval_input_file, "eval_input_file") if FLAGS.eval_input_file else None
  strategy = common_flags.strategy_from_flags(FLAGS)
  result = pretraining.run_pretraining(
      config, input_files, FLAGS.output_dir, init_checkpoint=FLAGS.init_checkpoint,
      max_seq_length=FLAGS.max_seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      do_train=FLAGS.do_train, do_eval=FLAGS.do_eval, eval_input_files=eval_files,
      train_batch_size=FLAGS.train_batch_size, eval_batch_size=FLAGS.eval_batch_size,
      learning_rate=FLAGS.learning_rate, num_train_steps=FLAGS.num_train_steps,
      num_warmup_steps=FLAGS.num_warmup_steps, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
      steps_per_execution=FLAGS.iterations_per_loop, max_eval_steps=FLAGS.max_eval_steps,
      log_steps=FLAGS.log_steps, strategy=strategy, mixed_precision=FLAGS.mixed_precision,
      jit_compile=FLAGS.jit_compile, optimizer_type=FLAGS.optimizer,
      eval_at_checkpoints=FLAGS.eval_at_checkpoints, seed=FLAGS.seed, freeze_encoder=FLAGS.freeze_encoder,
      objective=FLAGS.objective, generator_config=generator, rtd_weight=FLAGS.rtd_weight,
      bert_config_file=FLAGS.bert_config_file)
  if "eval" in result:
    print("***** Eval results *****")
    for key in sorted(result["eval"]):
      print("  %s = %s" % (key, result["eval"][key]))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir",))  # Ctrl-C: one line; a checkpointed output_dir is kept
