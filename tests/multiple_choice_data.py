"""Tiny SWAG-layout and C3-layout data sets, with a vocab that covers them (tests of multiple choice)."""

import csv
import json
import os

from bert_tf2 import tokenization

SWAG_HEADER = ["", "video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source",
               "ending0", "ending1", "ending2", "ending3", "label"]
SWAG = [  # sent1, sent2, endings, label
    ("A man is playing a guitar.", "He", ["sings a song.", "eats a cake.", "drives a car.", "reads a book."], 0),
    ("The dog runs in the park.", "It", ["flies to the moon.", "catches a ball.", "cooks dinner.", "paints."], 1),
    ("A woman opens the door.", "She", ["swims.", "sleeps on the roof.", "walks inside.", "plays chess."], 2),
    ("The kids are at the beach.", "They", ["type a letter.", "fix the engine.", "sell a house.",
                                            "build a sand castle."], 3),
]
C3_D = [  # dialogue items: [[sentences], [questions], id]
    [["男：你好，请问去火车站怎么走？", "女：一直往前走就到了。"],
     [{"question": "男的要去哪儿？", "choice": ["火车站", "学校", "医院", "饭馆"], "answer": "火车站", "id": "d1-0"}], "d1"],
    [["女：你今天想吃什么？", "男：我想吃面条。"],
     [{"question": "男的想吃什么？", "choice": ["米饭", "面条", "饺子"], "answer": "面条", "id": "d2-0"}], "d2"],
]
C3_M = [  # a mixed-genre item with a 2-option question and a 4-option one
    [["今天天气很好，我们去公园玩。公园里有很多花。"],
     [{"question": "今天天气怎么样？", "choice": ["很好", "下雨"], "answer": "很好", "id": "m1-0"},
      {"question": "公园里有什么？", "choice": ["车", "书", "花", "鱼"], "answer": "花", "id": "m1-1"}], "m1"],
]


def _strip_answers(items):
  return [[item[0], [{k: v for k, v in q.items() if k != "answer"} for q in item[1]], item[2]] for item in items]


def write_swag(directory):
  os.makedirs(directory, exist_ok=True)
  for name, labelled in (("train.csv", True), ("val.csv", True), ("test.csv", False)):
    with open(os.path.join(directory, name), "w", encoding="utf-8", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(SWAG_HEADER if labelled else SWAG_HEADER[:-1])
      for i, (sent1, sent2, endings, label) in enumerate(SWAG):
        row = [i, "anetv_%d" % i, 100 + i, sent1 + " " + sent2, sent1, sent2, "gold"] + endings
        writer.writerow(row + [label] if labelled else row)
  return directory


def write_c3(directory):
  """CLUE's C3 distribution: d-/m- train and dev files, test1.0.json without answers."""
  os.makedirs(directory, exist_ok=True)
  files = {"d-train.json": C3_D, "m-train.json": C3_M, "d-dev.json": C3_D, "m-dev.json": C3_M,
           "test1.0.json": _strip_answers(C3_D + C3_M)}
  for name, items in files.items():
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
      json.dump(items, f, ensure_ascii=False, indent=1)
  return directory


def texts():
  english = [s for sent1, sent2, endings, _ in SWAG for s in [sent1, sent2] + endings]
  chinese = [s for item in C3_D + C3_M for s in item[0] + [t for q in item[1] for t in [q["question"]] + q["choice"]]]
  return english + chinese


def write_vocab(path, size=160):
  """Specials and every lower-cased basic token of the data, padded with [unused*] to `size`."""
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  tokens = list(tokenization.SPECIAL_TOKENS)
  for token in (t for text in texts() for t in basic.tokenize(text)):
    if token not in tokens:
      tokens.append(token)
  assert len(tokens) <= size, len(tokens)
  tokens += ["[unused%d]" % i for i in range(size - len(tokens))]
  with open(path, "w", encoding="utf-8") as f:
    f.writelines(t + "\n" for t in tokens)
  return path


CONFIG = {"vocab_size": 160, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
          "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}


def write_model_files(directory):
  """{vocab, config}: the tiny model's files in `directory`."""
  os.makedirs(directory, exist_ok=True)
  config = os.path.join(directory, "bert_config.json")
  with open(config, "w", encoding="utf-8") as f:
    json.dump(CONFIG, f)
  return {"vocab": write_vocab(os.path.join(directory, "vocab.txt")), "config": config}
