"""A tiny `$BERT_BASE_DIR` and `$GLUE_DIR` for running Google's README commands in tests.

`BERT_BASE_DIR` is what Google's downloads hold (vocab.txt, bert_config.json and a TF1
`bert_model.ckpt` with the pretraining heads), written by the original code
(`original_bert.make_google_checkpoint`), at 4 layers x hidden 32 so that the README's
`--layers=-1,-2,-3,-4` exists. `GLUE_DIR` holds the tests/data/clf_* files in the directory layout of
GLUE's download script (MRPC/, CoLA/, MNLI/) and of XNLI (multinli/multinli.train.zh.tsv beside
xnli.dev.tsv, xnli.test.tsv), with the real files' columns and headers.

Set the environment variables BERT_BASE_DIR / GLUE_DIR (and XNLI_DIR) to run the same tests on
real models and data instead.
"""

import os
import re
import shutil

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SAMPLE_TEXT = os.path.join(DATA, "dp_english.txt")  # stands in for the README's sample_text.txt
GLUE_TASKS = {"MRPC": "clf_mrpc", "CoLA": "clf_cola", "MNLI": "clf_mnli", "XNLI": "clf_xnli"}
CONFIG = {"vocab_size": None, "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2,
          "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 128, "type_vocab_size": 2,
          "initializer_range": 0.02}
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _texts():
  paths = [SAMPLE_TEXT] + [os.path.join(root, name) for root, _, names in os.walk(DATA)
                           if os.path.basename(root).startswith("clf_") or root.endswith("multinli")
                           for name in names]
  for path in sorted(paths):
    with open(path, encoding="utf-8") as f:
      yield f.read()


def tiny_vocab():
  """The lower-cased words and punctuation of the fixtures, every character alone and as `##c`."""
  words, chars = set(), set()
  for text in _texts():
    text = text.lower()
    words.update(re.findall(r"[^\W\d_]+|\d+|[^\w\s]", text))
    chars.update(c for c in text if not c.isspace())
  return _SPECIALS + sorted(words | chars) + sorted("##" + c for c in chars)


def make_bert_base_dir(directory):
  """Writes vocab.txt, bert_config.json and bert_model.ckpt (Google's TF1 names) into `directory`."""
  from tests import original_bert  # pylint: disable=g-import-not-at-top  (TF1 graph code)
  os.makedirs(directory, exist_ok=True)
  vocab = tiny_vocab()
  with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(vocab) + "\n")
  config = dict(CONFIG, vocab_size=len(vocab))
  original_bert.make_google_checkpoint(config, os.path.join(directory, "bert_model.ckpt"))
  return directory


def make_glue_dir(directory):
  """Copies the GLUE-layout fixtures to `directory`/{MRPC,CoLA,MNLI,XNLI}."""
  for task, source in GLUE_TASKS.items():
    shutil.copytree(os.path.join(DATA, source), os.path.join(directory, task), dirs_exist_ok=True)
  return directory


def data_dir(glue_dir, task):
  """`$GLUE_DIR/<task>`, or `$XNLI_DIR` for XNLI when that is set (the multilingual README's name)."""
  if task == "XNLI" and os.environ.get("XNLI_DIR"):
    return os.environ["XNLI_DIR"]
  return os.path.join(glue_dir, task)
