r"""Converts a bert_tf2 encoder or classifier SavedModel to LiteRT (.tflite, ids in), vocab.txt beside it.

  PYTHONPATH=. .venv/bin/python scripts/encode.py --model=$MINILM --export_dir=/tmp/minilm_export \
      --pooling_layer=-1 --normalize
  PYTHONPATH=. .venv/bin/python scripts/export_litert.py --saved_model=/tmp/minilm_export \
      --output_dir=/tmp/minilm_litert --precision=int8
  # A fine-tuned classifier: export_saved_model.py --model_dir=OUT --export_dir=/tmp/clf, then the same.

Writes model.tflite (signature serving_default: input_ids, input_mask, segment_ids int32 [B, T] ->
encoder: embeddings, sequence_output, pooled_output; classifier: probabilities), vocab.txt and
litert_config.json (casing, length, pooling or labels). `--precision`: float32, float16 (weights) or
int8 (dynamic range: int8 weights, XNNPACK int8 matmuls). Needs only `ai-edge-litert` and numpy to run.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An encoder or classifier SavedModel written by bert_tf2.")
flags.DEFINE_string("output_dir", None, "Where to write model.tflite, vocab.txt, litert_config.json (replaced).")
flags.DEFINE_string("precision", "float32", "float32, float16 or int8.")


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("saved_model", "output_dir"))
  if FLAGS.precision not in ("float32", "float16", "int8"):
    cli.fail("--precision must be one of float32, float16, int8 for LiteRT; got %r" % FLAGS.precision)
  from bert_tf2.interop import litert_export  # pylint: disable=g-import-not-at-top
  path = litert_export.export_litert(FLAGS.saved_model, FLAGS.output_dir, FLAGS.precision)
  print("export_litert: wrote %s (%s)" % (os.path.join(path, "model.tflite"), FLAGS.precision))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir",))
