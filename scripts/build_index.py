r"""Embeds a text file (one item a line; `question<TAB>answer` keeps the answer) into a search index.

  PYTHONPATH=. .venv/bin/python scripts/build_index.py --model=runs/dual_encoder/bert_model.ckpt \
    --input_file=faq.tsv --output_dir=runs/faq_index --index_type=hnsw --max_seq_length=64
  # vectors embedded on Beam by scripts/embed_corpus.py, into Milvus (Lite: runs/idx/milvus.db)
  PYTHONPATH=. .venv/bin/python scripts/build_index.py --embeddings_dir=runs/corpus_emb \
    --output_dir=runs/idx --index_type=milvus --milvus_index=HNSW --metadata_fields=answer,source

The index (meta.json with the model and its options, and vectors.npy + payloads.jsonl for faiss)
is searched by scripts/search.py. `flat` is exact (faiss IndexFlatIP, or numpy without faiss),
`hnsw` faiss' HNSW graph; `milvus` a Milvus collection (FLAT, HNSW or IVF_FLAT): Milvus Lite inside
--output_dir, or a server at --milvus_uri (http://host:19530). Into an existing collection of the
same dimension the rows are upserted by id (row number + --first_id): no rebuild; --overwrite
starts it afresh. --delete_ids / --delete_filter remove rows of an existing Milvus index.
--metadata_fields names the tab fields after the text; Milvus filters on them (search.py --filter).
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
flags.DEFINE_string("embeddings_dir", None, "scripts/embed_corpus.py's output: index it, no embedding here.")
flags.DEFINE_string("output_dir", None, "Index directory to write.")
flags.DEFINE_enum("index_type", "flat", ["flat", "hnsw", "milvus"], "faiss exact / faiss HNSW / Milvus.")
flags.DEFINE_string("milvus_uri", None, "Milvus server (http://host:19530); default Milvus Lite in --output_dir.")
flags.DEFINE_enum("milvus_index", "FLAT", ["FLAT", "HNSW", "IVF_FLAT"], "Milvus index type.")
flags.DEFINE_string("milvus_collection", "bert_tf2", "Milvus collection name.")
flags.DEFINE_list("metadata_fields", [], "Names of the tab fields after the text (Milvus metadata).")
flags.DEFINE_integer("first_id", 0, "Id of the first row (upserting more rows into a Milvus index).")
flags.DEFINE_bool("overwrite", False, "Drop an existing Milvus collection of that name first.")
flags.DEFINE_list("delete_ids", [], "Ids to delete from an existing Milvus index (no input).")
flags.DEFINE_string("delete_filter", None, "Delete the rows of an existing Milvus index matching this expression.")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text incl. [CLS]/[SEP].")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN", ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN",
                                                      "SEP_TOKEN"], "Pooling (vectors are L2-normalized).")
flags.DEFINE_list("pooling_layer", ["-1"], "Encoder layer(s) to pool; -1 = last.")
flags.DEFINE_integer("batch_size", 64, "Texts per model call.")
cli.define_errors_flag()


def _delete():
  from bert_tf2.retrieval import searcher  # pylint: disable=g-import-not-at-top
  index, meta = searcher.load_index(FLAGS.output_dir)
  try:
    before = len(index)
    index.delete(ids=[int(i) for i in FLAGS.delete_ids] if FLAGS.delete_ids else None, filter=FLAGS.delete_filter)
    index.save(FLAGS.output_dir, meta)
    print("build_index: deleted %d rows, %d left -> %s" % (before - len(index), len(index), FLAGS.output_dir))
  finally:
    index.close()


def main(argv):
  del argv
  if FLAGS.delete_ids or FLAGS.delete_filter:
    cli.require_flags(FLAGS, ("output_dir",))
    return _delete()
  cli.require_flags(FLAGS, ("output_dir",))
  if bool(FLAGS.input_file) == bool(FLAGS.embeddings_dir):
    cli.fail("give --input_file (with --model) or --embeddings_dir")
  if FLAGS.index_type != "milvus" and (FLAGS.milvus_uri or FLAGS.metadata_fields):
    cli.fail("--milvus_uri and --metadata_fields need --index_type=milvus")
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import searcher
  checks.check_output_dir(FLAGS.output_dir)
  milvus = dict(milvus_uri=FLAGS.milvus_uri, milvus_index=FLAGS.milvus_index, collection=FLAGS.milvus_collection,
                overwrite=FLAGS.overwrite)
  if FLAGS.embeddings_dir:
    from bert_tf2.retrieval import corpus_beam  # pylint: disable=g-import-not-at-top
    checks.check_input_dirs(embeddings_dir=FLAGS.embeddings_dir)
    vectors, ids, payloads, meta = corpus_beam.read_embeddings(FLAGS.embeddings_dir)
    meta = {k: v for k, v in meta.items() if k not in ("shards", "rows", "seconds", "input_file", "dimension")}
    index = searcher.index_vectors(vectors, payloads, FLAGS.output_dir, meta, FLAGS.index_type,
                                   ids + FLAGS.first_id, FLAGS.metadata_fields, **milvus)
  else:
    cli.require_flags(FLAGS, ("model",))
    try:
      pooling_layer = [int(x) for x in FLAGS.pooling_layer]
    except ValueError:
      cli.fail("--pooling_layer must be integers")
    from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
    checks.check_input_files(input_file=FLAGS.input_file, vocab_file=FLAGS.vocab_file)
    checks.check_model_path(FLAGS.model)
    texts, payloads = searcher.read_texts_with_payloads(FLAGS.input_file, FLAGS.errors)
    if not texts:
      cli.fail("--input_file: %s: no non-blank lines" % FLAGS.input_file)
    encoder = embeddings.SentenceEncoder.from_pretrained(
        FLAGS.model, vocab_file=FLAGS.vocab_file, max_seq_length=FLAGS.max_seq_length,
        pooling_strategy=FLAGS.pooling_strategy, pooling_layer=pooling_layer, normalize=True,
        batch_size=FLAGS.batch_size)
    index = searcher.build_index(encoder, texts, payloads, FLAGS.output_dir, FLAGS.index_type, FLAGS.model,
                                 FLAGS.metadata_fields, first_id=FLAGS.first_id, **milvus)
  kind = FLAGS.index_type + (" " + index.index_type if FLAGS.index_type == "milvus" else "")
  print("build_index: %d items (%s) -> %s" % (len(index), kind, FLAGS.output_dir))
  index.close()


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir",))
