r"""Exports a fine-tuned classifier (raw text in) or a bare encoder as a SavedModel.

  # A run_classifier.py output_dir -> serving_default(text_a[, text_b]) and serve_ids
  PYTHONPATH=. .venv/bin/python scripts/export_saved_model.py \
    --model_dir=/tmp/mrpc_output --export_dir=/tmp/mrpc_export
  # A pretrained encoder -> serving_default(ids) and serve_text(text_a): sequence + pooled outputs
  PYTHONPATH=. .venv/bin/python scripts/export_saved_model.py --encoder_only \
    --bert_config_file=$BERT_BASE_DIR/bert_config.json --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --export_dir=/tmp/encoder_export

  saved_model_cli show --dir /tmp/mrpc_export --all
Loading needs only TensorFlow and `import tensorflow_text` (for the tokenizer's ops).
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel (replaced if it exists).")
flags.DEFINE_string("model_dir", None, "A run_classifier.py --output_dir (classifier export).")
flags.DEFINE_bool("encoder_only", False, "Export the bare encoder of --init_checkpoint.")
flags.DEFINE_string("init_checkpoint", None, "Weights: Google prefix, bert_tf2 checkpoint or HF dir "
                    "(default for a classifier: the newest checkpoint in --model_dir).")
flags.DEFINE_string("bert_config_file", None, "bert_config.json (default: --model_dir's).")
flags.DEFINE_string("vocab_file", None, "vocab.txt (default: --model_dir's).")
flags.DEFINE_bool("do_lower_case", True, "Encoder export: lower-case the input.")
flags.DEFINE_integer("max_seq_length", 128, "Encoder export: serve_text truncates to this length.")
flags.DEFINE_float("threshold", 0.5, "Multi-label: labels with probability >= threshold.")


def main(argv):
  del argv
  if not FLAGS.export_dir:
    cli.fail("--export_dir is required")
  if not FLAGS.encoder_only and not FLAGS.model_dir:
    cli.fail("give --model_dir (classifier) or --encoder_only with --init_checkpoint")
  from bert_tf2.core import export_job as export  # pylint: disable=g-import-not-at-top
  try:
    path = export.export_from_checkpoint(
        FLAGS.export_dir, FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.init_checkpoint,
        do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_length,
        model_dir=FLAGS.model_dir, encoder_only=FLAGS.encoder_only, threshold=FLAGS.threshold)
  except (ValueError, OSError) as e:
    cli.fail(str(e))
  print("export_saved_model: wrote %s" % path)


if __name__ == "__main__":
  cli.run(main, outputs=("export_dir",))
