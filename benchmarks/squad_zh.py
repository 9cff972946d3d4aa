r"""People's Daily NER as reading comprehension (Li et al., ACL 2020): the data and the report of
benchmarks/squad_zh.sh.

  python benchmarks/squad_zh.py build --output_dir=runs/squad_zh/data --max_train_questions=12000
  python benchmarks/squad_zh.py labels --train_file=runs/squad_zh/data/train.json --vocab_file=vocab.txt
  python benchmarks/squad_zh.py report --run_dirs=runs/squad_zh/pretrained,runs/squad_zh/random

build: each paragraph of the People's Daily NER split (`data_prep.corpora.peoples_daily_entities`,
the documents of the tagging task: number % 20 == 0 test, == 10 dev, the rest train) is a context;
per entity type a fixed question (QUESTIONS). The answer is the paragraph's entity of that type when
it has exactly one mention of it; no mention gives an unanswerable question (SQuAD 2.0); two or more
mentions give no question. dev and test keep every question (79% unanswerable); train keeps a seeded
subset of --max_train_questions, --no_answer_fraction of them unanswerable, to keep the benchmark's
runtime modest (all ~43,500 questions are 79% unanswerable too).
labels: how many training answers the original's doc tokens (a Chinese paragraph is one token) label
at another occurrence of the answer text than the annotated one (none with --split_cjk_chars).
report: a table of the runs' eval_results.txt.
"""

import collections
import json
import os
import random
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2 import tokenization  # noqa: E402
from bert_tf2 import squad
from bert_tf2.tasks.squad import metrics as squad_metrics
from data_prep import corpora  # noqa: E402

QUESTIONS = {"PER": "文中提到的人名是什么？", "LOC": "文中提到的地名是什么？", "ORG": "文中提到的组织机构名是什么？"}

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", "runs/squad_zh/data", "build: where train/dev/test.json go.")
flags.DEFINE_integer("max_train_questions", 8000, "build: train questions kept (a seeded subset).")
flags.DEFINE_float("no_answer_fraction", 1 / 3, "build: the unanswerable share of the train questions.")
flags.DEFINE_integer("seed", 12345, "build: the subsampling seed.")
flags.DEFINE_string("train_file", None, "labels: a train.json.")
flags.DEFINE_string("vocab_file", None, "labels: the vocab.")
flags.DEFINE_list("run_dirs", [], "report: run_squad output directories (name = basename).")
flags.DEFINE_string("data_file", None, "report: the test file, for the always-no-answer row.")


def questions(rows):
  """SQuAD qas for the paragraphs `rows` ({"document", "text", "entities"}), with counts by kind."""
  paragraphs, counts = [], collections.Counter()
  for i, row in enumerate(rows):
    qas = []
    for kind, question in QUESTIONS.items():
      mentions = [e for e in row["entities"] if e[0] == kind]
      qid = "d%d-p%d-%s" % (row["document"], i, kind)
      if not mentions:
        qas.append({"id": qid, "question": question, "answers": [], "is_impossible": True})
        counts[kind, "NoAns"] += 1
      elif len(mentions) == 1:
        _, start, _, text = mentions[0]
        qas.append({"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}],
                    "is_impossible": False})
        counts[kind, "HasAns"] += 1
    if qas:
      paragraphs.append({"context": row["text"], "qas": qas})
  return paragraphs, counts


def _subsample(paragraphs, max_questions, no_answer_fraction, seed):
  """At most max_questions questions, `no_answer_fraction` of them unanswerable (seeded)."""
  rng = random.Random(seed)
  has = [(p, q) for p in range(len(paragraphs)) for q in paragraphs[p]["qas"] if q["answers"]]
  no = [(p, q) for p in range(len(paragraphs)) for q in paragraphs[p]["qas"] if not q["answers"]]
  num_no = min(len(no), int(round(max_questions * no_answer_fraction)))
  kept = rng.sample(has, min(len(has), max_questions - num_no)) + rng.sample(no, num_no)
  by_paragraph = collections.defaultdict(list)
  for p, q in kept:
    by_paragraph[p].append(q)
  return [{"context": paragraphs[p]["context"], "qas": qas} for p, qas in sorted(by_paragraph.items())]


def build(output_dir, max_train_questions, no_answer_fraction, seed):
  os.makedirs(output_dir, exist_ok=True)
  for split in ("train", "dev", "test"):
    paragraphs, counts = questions(corpora.peoples_daily_entities(split, unit="paragraph"))
    if split == "train":
      paragraphs = _subsample(paragraphs, max_train_questions, no_answer_fraction, seed)
      counts = collections.Counter((q["id"].rsplit("-", 1)[1], "HasAns" if q["answers"] else "NoAns")
                                   for p in paragraphs for q in p["qas"])
    path = os.path.join(output_dir, split + ".json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      json.dump({"version": "v2.0", "data": [{"title": "peoples_daily_" + split, "paragraphs": paragraphs}]},
                f, ensure_ascii=False)
    os.replace(path + ".tmp", path)
    print("%s: %d paragraphs, %d questions (%s)" % (
        path, len(paragraphs), sum(counts.values()),
        ", ".join("%s %s %d" % (k, a, counts[k, a]) for k in QUESTIONS for a in ("HasAns", "NoAns"))))


def label_positions(train_file, vocab_file):
  """(answers the original's doc tokens label at another occurrence than annotated, answers).

  The two modes give the same word pieces; with split_cjk_chars an answer is looked for inside
  the annotated characters' doc tokens, without it inside the whole one-token paragraph (the first
  occurrence wins), so the labels differ exactly where the annotation is not the first occurrence.
  """
  tokenizer = tokenization.FullTokenizer(vocab_file, True)
  starts = []
  for split_cjk_chars in (False, True):
    examples = [e for e in squad.read_squad_examples(train_file, True, True, split_cjk_chars) if not e.is_impossible]
    spans = []
    for example in examples:
      pieces, _, orig_to_tok_index = squad.doc_pieces(example, tokenizer)
      spans.append(squad.answer_token_span(example, pieces, orig_to_tok_index, tokenizer))
    starts.append(spans)
  return sum(a != b for a, b in zip(*starts)), len(starts[0])


def unalignable_paragraphs(data_file):
  """(paragraphs holding a doc token that get_final_text cannot align, paragraphs), original doc tokens.

  get_final_text maps a prediction back only when BasicTokenizer keeps the characters of the doc
  tokens it spans (spaces aside); a token with U+3000 (People's Daily's datelines) or a control
  character is answered as a whole, and in Chinese one token is the whole paragraph.
  """
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  contexts = [p["context"] for a in squad.load_squad_json(data_file) for p in a["paragraphs"]]
  bad = sum(any(len(token) != len("".join(basic.tokenize(token))) for token in squad.split_doc_tokens(c)[0])
            for c in contexts)
  return bad, len(contexts)


def report(run_dirs, data_file=None):
  keys = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "best_f1", "best_f1_thresh")
  print("| run | " + " | ".join(keys) + " |")
  print("|---|" + "---|" * len(keys))
  if data_file:  # the trivial baseline: "" for every question
    dataset = squad.load_squad_json(data_file)
    always_none = squad_metrics.evaluate(dataset, {qa["id"]: "" for a in dataset for p in a["paragraphs"]
                                                   for qa in p["qas"]}, None, True, "zh")
    print("| always \"\" | %.1f | %.1f | 0.0 | 0.0 | 100.0 | - | - |" % (always_none["exact"], always_none["f1"]))
  for run_dir in run_dirs:
    path = os.path.join(run_dir, "eval_results.txt")
    if not os.path.isfile(path):
      print("| %s | (no eval_results.txt) |" % os.path.basename(run_dir))
      continue
    with open(path, encoding="utf-8") as f:
      values = dict(line.rstrip("\n").split(" = ", 1) for line in f if " = " in line)
    print("| %s | %s |" % (os.path.basename(run_dir), " | ".join(
        "%.1f" % float(values[k]) if k in values else "-" for k in keys)))


def main(argv):
  command = argv[1] if len(argv) > 1 else None
  if command == "build":
    build(FLAGS.output_dir, FLAGS.max_train_questions, FLAGS.no_answer_fraction, FLAGS.seed)
  elif command == "labels":
    moved, total = label_positions(FLAGS.train_file, FLAGS.vocab_file)
    print("training answers the original's doc tokens label at another occurrence than annotated: %d of %d "
          "(%.1f%%); with --split_cjk_chars: 0" % (moved, total, 100.0 * moved / max(total, 1)))
    test_file = os.path.join(os.path.dirname(FLAGS.train_file), "test.json")
    if os.path.isfile(test_file):
      bad, total = unalignable_paragraphs(test_file)
      print("test paragraphs where the original's get_final_text answers a whole doc token (here: the whole "
            "paragraph) whatever span is predicted: %d of %d (%.1f%%)" % (bad, total, 100.0 * bad / max(total, 1)))
  elif command == "report":
    report(FLAGS.run_dirs, FLAGS.data_file)
  else:
    raise app.UsageError("usage: squad_zh.py build|labels|report [flags]")


if __name__ == "__main__":
  app.run(main)
