r"""Trains a shared-tower dual encoder: in-batch negatives, hardest negatives, or unsupervised SimCSE.

  # supervised: query<TAB>passage lines
  PYTHONPATH=. .venv/bin/python scripts/train_dual_encoder.py --init_checkpoint=runs/pretrain_zh/bert_model.ckpt \
    --train_file=pairs.tsv --objective=in_batch --output_dir=runs/dual_in_batch \
    --num_train_epochs=2 --train_batch_size=32 --learning_rate=5e-5 --max_seq_length=64 --margin=0.2 --scale=30
  # unsupervised: one sentence a line
  ... --objective=simcse --temperature=0.05 --train_file=sentences.txt --output_dir=runs/simcse
  # on several GPUs (batch sizes are global), as the other training scripts take it
  ... --distribution_strategy=mirrored --mixed_precision=mixed_bfloat16

The output directory holds bert_model.ckpt, bert_config.json and vocab.txt: use it with
scripts/encode.py, build_index.py, evaluate_recall.py or bert-tf2-serving-start (REDUCE_MEAN, layer -1).
"""

import os
import random
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # pylint: disable=g-import-not-at-top,wrong-import-position  (scripts/common_flags.py)
from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists them too
flags.DEFINE_string("init_checkpoint", None, "Google checkpoint, Hugging Face dir or our TF2 checkpoint.")
flags.DEFINE_string("bert_config_file", None, "bert_config.json; default: beside the checkpoint.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: beside the checkpoint.")
flags.DEFINE_string("train_file", None, "query<TAB>passage lines (simcse: one sentence a line).")
flags.DEFINE_string("output_dir", None, "Where the trained encoder is written.")
flags.DEFINE_enum("objective", "in_batch", ["in_batch", "hardest", "simcse"], "Training objective.")
flags.DEFINE_integer("num_train_epochs", 1, "Epochs.")
flags.DEFINE_integer("train_batch_size", 32, "Global pairs per batch: B - 1 in-batch negatives each, "
                     "gathered from all replicas.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate (AdamW, 10% warmup, linear decay).")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text incl. [CLS]/[SEP].")
flags.DEFINE_float("margin", 0.2, "in_batch / hardest: margin on the positive cosine.")
flags.DEFINE_float("scale", 30.0, "in_batch: cosine scale before the softmax.")
flags.DEFINE_float("temperature", 0.05, "simcse: softmax temperature.")
flags.DEFINE_integer("seed", 12345, "Seed of the batch order and the weights' dropout.")
flags.DEFINE_integer("log_steps", 20, "A progress line (and TensorBoard point in output_dir/train) every this many steps.")
cli.define_errors_flag()


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("init_checkpoint", "train_file", "output_dir"))
  if FLAGS.train_batch_size < 2:
    cli.fail("--train_batch_size must be at least 2 (in-batch negatives)")
  from absl import logging  # pylint: disable=g-import-not-at-top
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import job as dual_encoder  # pylint: disable=g-import-not-at-top
  checks.check_input_files(train_file=FLAGS.train_file, vocab_file=FLAGS.vocab_file,
                           bert_config_file=FLAGS.bert_config_file)
  checks.check_checkpoint(FLAGS.init_checkpoint)
  checks.check_output_dir(FLAGS.output_dir)
  logging.set_verbosity(logging.INFO)
  losses = dual_encoder.run_train_dual_encoder(
      FLAGS.init_checkpoint, FLAGS.train_file, FLAGS.output_dir, FLAGS.objective, vocab_file=FLAGS.vocab_file,
      bert_config_file=FLAGS.bert_config_file, errors=FLAGS.errors, strategy=common_flags.strategy_from_flags(FLAGS),
      mixed_precision=FLAGS.mixed_precision, seed=FLAGS.seed, epochs=FLAGS.num_train_epochs,
      batch_size=FLAGS.train_batch_size, learning_rate=FLAGS.learning_rate, max_seq_length=FLAGS.max_seq_length,
      margin=FLAGS.margin, scale=FLAGS.scale, temperature=FLAGS.temperature, rng=random.Random(FLAGS.seed),
      log_every=FLAGS.log_steps)
  # The loss of the last progress line (and of TensorBoard's last point), not of one step.
  print("train_dual_encoder: %d steps, final loss %.4f -> %s"
        % (len(losses), dual_encoder.final_logged_loss(losses, FLAGS.log_steps), FLAGS.output_dir))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir",))
