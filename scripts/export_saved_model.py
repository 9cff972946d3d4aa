r"""Exports any fine-tuned model (raw text in) or a bare encoder as a SavedModel.

  # Any fine-tuning output_dir -> its family's raw-text SavedModel (a classifier's:
  # serving_default(text_a[, text_b]) and serve_ids; a tagger's, a SQuAD model's, ...)
  PYTHONPATH=. .venv/bin/python scripts/export_saved_model.py \
    --model_dir=/tmp/mrpc_output --export_dir=/tmp/mrpc_export
  # A pretrained encoder -> serving_default(ids) and serve_text(text_a): sequence + pooled outputs
  PYTHONPATH=. .venv/bin/python scripts/export_saved_model.py --encoder_only \
    --bert_config_file=$BERT_BASE_DIR/bert_config.json --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --export_dir=/tmp/encoder_export

  # --precision=bfloat16: the same signatures computing in bfloat16. int8: float32 signatures plus the
  # model as LiteRT int8 in assets/, which Python runs: an encoder through SentenceEncoder and the
  # server, any fine-tuned family through bert_tf2.core.text_model.TextModel("/tmp/mrpc_export")

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
flags.DEFINE_string("model_dir", None, "Any fine-tuning job's --output_dir (run_classifier, run_ner, run_squad, "
                    "run_multiple_choice): its family's raw-text SavedModel.")
flags.DEFINE_bool("encoder_only", False, "Export the bare encoder of --init_checkpoint.")
flags.DEFINE_string("init_checkpoint", None, "Weights: Google prefix, bert_tf2 checkpoint or HF dir "
                    "(default with --model_dir: its newest checkpoint).")
flags.DEFINE_string("bert_config_file", None, "Encoder export: bert_config.json.")
flags.DEFINE_string("vocab_file", None, "Encoder export: vocab.txt.")
flags.DEFINE_bool("do_lower_case", True, "Encoder export: lower-case the input.")
flags.DEFINE_integer("max_seq_length", 128, "Encoder export: serve_text truncates to this length.")
flags.DEFINE_float("threshold", 0.5, "Multi-label classifier: labels with probability >= threshold "
                   "(default: the one it was trained with).")
flags.DEFINE_string("precision", "float32", "float32, bfloat16 or int8 (float32 signatures + the model as "
                    "LiteRT int8 in assets/: run by SentenceEncoder, the server and core.text_model.TextModel).")


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("export_dir",))
  if FLAGS.precision not in ("float32", "bfloat16", "int8"):
    cli.fail("--precision must be one of float32, bfloat16, int8; got %r" % FLAGS.precision)
  if FLAGS.encoder_only:
    from bert_tf2.core import export  # pylint: disable=g-import-not-at-top
    path = export.export_encoder_checkpoint(FLAGS.export_dir, FLAGS.bert_config_file, FLAGS.vocab_file,
                                            FLAGS.init_checkpoint, FLAGS.do_lower_case, FLAGS.max_seq_length,
                                            FLAGS.precision)
  elif FLAGS.model_dir:
    from bert_tf2.tasks import registry  # pylint: disable=g-import-not-at-top
    overrides = {"threshold": FLAGS.threshold} if FLAGS["threshold"].present else None
    path = registry.export_from_dir(FLAGS.model_dir, FLAGS.export_dir, overrides, FLAGS.init_checkpoint,
                                    FLAGS.precision)
  else:
    cli.fail("give --model_dir (a fine-tuning output_dir) or --encoder_only with --init_checkpoint")
  print("export_saved_model: wrote %s" % path)


if __name__ == "__main__":
  cli.run(main, outputs=("export_dir",))
