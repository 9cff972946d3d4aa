r"""Embeds a text file (one item a line; `question<TAB>answer` keeps the answer) into a search index.

  PYTHONPATH=. .venv/bin/python scripts/build_index.py --model=runs/dual_encoder/bert_model.ckpt \
    --input_file=faq.tsv --output_dir=runs/faq_index --index_type=hnsw --max_seq_length=64

The index (vectors.npy, payloads.jsonl, meta.json with the model and its options) is searched by
scripts/search.py. `--index_type=hnsw` uses faiss-cpu's HNSW graph (approximate); `flat` is exact
(faiss IndexFlatIP, or numpy when faiss is not installed).
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Google checkpoint, Hugging Face directory or embedding SavedModel.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: the one beside the model.")
flags.DEFINE_string("input_file", None, "UTF-8 text, one item a line (tab: first field is indexed).")
flags.DEFINE_string("output_dir", None, "Index directory to write.")
flags.DEFINE_enum("index_type", "flat", ["flat", "hnsw"], "Exact or approximate (HNSW) search.")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text incl. [CLS]/[SEP].")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN", ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN",
                                                      "SEP_TOKEN"], "Pooling (vectors are L2-normalized).")
flags.DEFINE_list("pooling_layer", ["-1"], "Encoder layer(s) to pool; -1 = last.")
flags.DEFINE_integer("batch_size", 64, "Texts per model call.")
cli.define_errors_flag()


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("model", "input_file", "output_dir"))
  try:
    pooling_layer = [int(x) for x in FLAGS.pooling_layer]
  except ValueError:
    cli.fail("--pooling_layer must be integers")
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import encoder as embeddings
  from bert_tf2.retrieval import model as retrieval
  checks.check_input_files(input_file=FLAGS.input_file, vocab_file=FLAGS.vocab_file)
  checks.check_model_path(FLAGS.model)
  checks.check_output_dir(FLAGS.output_dir)
  texts, payloads = retrieval.read_texts_with_payloads(FLAGS.input_file, FLAGS.errors)
  if not texts:
    cli.fail("%s: no non-blank lines" % FLAGS.input_file)
  encoder = embeddings.SentenceEncoder.from_pretrained(
      FLAGS.model, vocab_file=FLAGS.vocab_file, max_seq_length=FLAGS.max_seq_length,
      pooling_strategy=FLAGS.pooling_strategy, pooling_layer=pooling_layer, normalize=True,
      batch_size=FLAGS.batch_size)
  index = retrieval.build_index(encoder, texts, payloads, FLAGS.output_dir, FLAGS.index_type, FLAGS.model)
  print("build_index: %d items (%s) -> %s" % (len(index), FLAGS.index_type, FLAGS.output_dir))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir",))
