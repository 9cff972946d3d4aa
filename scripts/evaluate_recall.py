r"""Recall@1/5/10/50 of a sentence encoder on query<TAB>passage pairs (the corpus: all their passages).

  PYTHONPATH=. .venv/bin/python scripts/evaluate_recall.py --model=runs/dual_in_batch \
    --pairs_file=test_pairs.tsv --max_seq_length=64

Line i's passage is the one relevant passage for line i's query; identical passages are merged.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Google checkpoint (or its directory), Hugging Face dir or SavedModel.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: beside the model.")
flags.DEFINE_string("pairs_file", None, "query<TAB>passage lines.")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text incl. [CLS]/[SEP].")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN", ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN",
                                                      "SEP_TOKEN"], "Pooling (vectors are L2-normalized).")
flags.DEFINE_list("pooling_layer", ["-1"], "Encoder layer(s) to pool.")
flags.DEFINE_list("ks", ["1", "5", "10", "50"], "Cut-offs K.")
flags.DEFINE_enum("index_type", "flat", ["flat", "hnsw"], "Exact or approximate search.")
cli.define_errors_flag()


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("model", "pairs_file"))
  if not os.path.isfile(FLAGS.pairs_file):
    cli.fail("--pairs_file: no such file: %s" % FLAGS.pairs_file)
  try:
    ks = [int(k) for k in FLAGS.ks]
    pooling_layer = [int(x) for x in FLAGS.pooling_layer]
  except ValueError:
    cli.fail("--ks and --pooling_layer must be integers")
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import model as retrieval
  from bert_tf2.retrieval import job as dual_encoder  # pylint: disable=g-import-not-at-top
  try:
    pairs = dual_encoder.read_training_file(FLAGS.pairs_file, "in_batch", FLAGS.errors)
    passages = sorted(set(p for _, p in pairs))
    position = {p: i for i, p in enumerate(passages)}
    encoder = embeddings.SentenceEncoder.from_pretrained(
        FLAGS.model, vocab_file=FLAGS.vocab_file, max_seq_length=FLAGS.max_seq_length,
        pooling_strategy=FLAGS.pooling_strategy, pooling_layer=pooling_layer, normalize=True)
    recall = retrieval.evaluate_recall(encoder, [q for q, _ in pairs], passages, [position[p] for _, p in pairs],
                                       ks, FLAGS.index_type)
  except (ValueError, OSError) as e:
    cli.fail(str(e))
  print("%d queries, %d passages" % (len(pairs), len(passages)))
  print("  ".join("Recall@%d %.4f" % (k, recall[k]) for k in ks))


if __name__ == "__main__":
  cli.run(main, outputs=())
