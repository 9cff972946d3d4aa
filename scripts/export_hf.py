r"""Exports a BERT checkpoint for Hugging Face transformers, keras-hub and TF Hub-style consumers.

  # A pretrained model (Google prefix, bert_tf2 checkpoint or HF dir), with its pretraining heads
  PYTHONPATH=. .venv/bin/python scripts/export_hf.py --model=pretrainer \
    --bert_config_file=$BERT_BASE_DIR/bert_config.json --vocab_file=$BERT_BASE_DIR/vocab.txt \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --do_lower_case=true \
    --hf_export_dir=/tmp/out/hf --keras_hub_preset_dir=/tmp/out/keras_hub --tfhub_export_dir=/tmp/out/tfhub
  # A fine-tuned classifier (a run_classifier.py --output_dir): labels and casing come from it
  PYTHONPATH=. .venv/bin/python scripts/export_hf.py --model=classifier --model_dir=/tmp/mrpc_output \
    --hf_export_dir=/tmp/mrpc_hf --keras_hub_preset_dir=/tmp/mrpc_keras_hub

Then, with no bert_tf2:
  transformers.BertForPreTraining.from_pretrained("/tmp/out/hf")     # or BertModel, AutoTokenizer
  keras_hub.models.BertBackbone.from_preset("/tmp/out/keras_hub")      # BertTextClassifier for a classifier
  tf.saved_model.load("/tmp/out/tfhub/encoder"), tf.saved_model.load("/tmp/out/tfhub/preprocessing")
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "encoder", ["encoder", "pretrainer", "classifier"],
                  "What to export: the bare encoder, with the pretraining heads, or a fine-tuned classifier.")
flags.DEFINE_string("bert_config_file", None, "bert_config.json (default for a classifier: --model_dir's).")
flags.DEFINE_string("vocab_file", None, "vocab.txt (default for a classifier: --model_dir's).")
flags.DEFINE_string("init_checkpoint", None, "Weights: Google prefix, bert_tf2 checkpoint or HF dir "
                    "(default for a classifier: the newest checkpoint in --model_dir).")
flags.DEFINE_bool("do_lower_case", None, "The model's casing (required unless --model=classifier).")
flags.DEFINE_string("model_dir", None, "A run_classifier.py --output_dir (--model=classifier).")
flags.DEFINE_integer("max_seq_length", 128, "TF Hub preprocessing's default length and the keras-hub "
                     "classifier's sequence_length (a classifier keeps its fine-tuning one).")
flags.DEFINE_string("hf_export_dir", None, "Write a Hugging Face transformers directory here.")
flags.DEFINE_string("keras_hub_preset_dir", None, "Write a keras-hub preset here (replaced if it exists).")
flags.DEFINE_string("tfhub_export_dir", None, "Write TF Hub-style encoder/ and preprocessing/ SavedModels here.")
flags.DEFINE_bool("allow_gelu_approximation", False, "keras-hub: export an exact-gelu model, which keras-hub "
                  "runs with tanh gelu (refused otherwise).")
flags.DEFINE_bool("keras_hub_lowercase", None, "keras-hub tokenizer's case folding (default --do_lower_case); "
                  "false keeps full-width forms as FullTokenizer does (Chinese).")


def main(argv):
  del argv
  if not (FLAGS.hf_export_dir or FLAGS.keras_hub_preset_dir or FLAGS.tfhub_export_dir):
    cli.fail("give --hf_export_dir, --keras_hub_preset_dir and/or --tfhub_export_dir")
  if FLAGS.model == "classifier":
    cli.require_flags(FLAGS, ["model_dir"])
  else:
    cli.require_flags(FLAGS, ["bert_config_file", "vocab_file", "init_checkpoint"])
    if FLAGS.do_lower_case is None:
      cli.fail("--do_lower_case is required (true or false: the casing the model was trained with)")
  from bert_tf2.interop import ecosystem_export  # pylint: disable=g-import-not-at-top  (TensorFlow)
  written = ecosystem_export.export_to_ecosystems(
      FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.init_checkpoint, FLAGS.do_lower_case, model=FLAGS.model,
      model_dir=FLAGS.model_dir, hf_export_dir=FLAGS.hf_export_dir, keras_hub_preset_dir=FLAGS.keras_hub_preset_dir,
      tfhub_export_dir=FLAGS.tfhub_export_dir, max_seq_length=FLAGS.max_seq_length,
      allow_gelu_approximation=FLAGS.allow_gelu_approximation, keras_hub_lowercase=FLAGS.keras_hub_lowercase)
  for name, path in written.items():
    print("export_hf: wrote %s: %s" % (name, path))


if __name__ == "__main__":
  cli.run(main, outputs=("hf_export_dir", "keras_hub_preset_dir", "tfhub_export_dir"))
