r"""Per-token BERT activations to JSONL, with the flags and output of Google's extract_features.py.

  echo 'Who was Jim Henson ? ||| Jim Henson was a puppeteer' > /tmp/input.txt
  PYTHONPATH=. .venv/bin/python scripts/extract_features.py \
    --input_file=/tmp/input.txt --output_file=/tmp/output.jsonl \
    --vocab_file=$BERT_BASE_DIR/vocab.txt --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --layers=-1,-2,-3,-4 \
    --max_seq_length=128 --batch_size=8

`text_a ||| text_b` on a line makes a sentence pair. TPU flags are accepted and ignored.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Text file, one example a line (`a` or `a ||| b`).")
flags.DEFINE_string("output_file", None, "JSONL output file.")
flags.DEFINE_string("layers", "-1,-2,-3,-4", "Comma-separated encoder layer indexes (-1 = last).")
flags.DEFINE_string("bert_config_file", None, "bert_config.json of the pretrained model.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum tokens per example after WordPiece; longer ones are truncated.")
flags.DEFINE_string("init_checkpoint", None, "Google checkpoint prefix, Hugging Face dir or our TF2 checkpoint.")
flags.DEFINE_string("vocab_file", None, "vocab.txt the model was trained with.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (True for uncased and Chinese models).")
flags.DEFINE_integer("batch_size", 32, "Examples per model call.")
cli.define_errors_flag()
# Accepted for command-line compatibility with the original; they do nothing here.
flags.DEFINE_bool("use_tpu", False, "Ignored.")
flags.DEFINE_string("master", None, "Ignored.")
flags.DEFINE_integer("num_tpu_cores", 8, "Ignored.")
flags.DEFINE_bool("use_one_hot_embeddings", False, "Ignored.")


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("input_file", "output_file", "vocab_file", "bert_config_file", "init_checkpoint"))
  try:
    layers = [int(x) for x in FLAGS.layers.split(",")]
  except ValueError:
    cli.fail("--layers must be comma-separated integers, got %r" % FLAGS.layers)
  if FLAGS.batch_size < 1:
    cli.fail("--batch_size must be positive")
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import extract_features  # pylint: disable=g-import-not-at-top
  checks.check_input_files(input_file=FLAGS.input_file)
  config = checks.check_model_files(FLAGS.vocab_file, FLAGS.bert_config_file, FLAGS.init_checkpoint,
                                    FLAGS.max_seq_length)
  bad = [i for i in layers if not -config.num_hidden_layers <= i < config.num_hidden_layers]
  if bad:
    cli.fail("--layers: %d is not a layer of the %d-layer model in %s"
             % (bad[0], config.num_hidden_layers, FLAGS.bert_config_file))
  checks.check_output_file(FLAGS.output_file)
  count = extract_features.run_extract_features(
      FLAGS.input_file, FLAGS.output_file, layers, FLAGS.bert_config_file, FLAGS.init_checkpoint,
      FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_length,
      batch_size=FLAGS.batch_size, errors=FLAGS.errors)
  print("extract_features: wrote %d lines to %s" % (count, FLAGS.output_file))


if __name__ == "__main__":
  cli.run(main, outputs=("output_file",))
