"""FullTokenizer: Google's hand-worked cases and token-for-token parity with the original."""
import os

import pytest

from bert_tf2 import tokenization
from tests import corpora, original_bert

# Google's tokenization_test.py vocab and case.
GOOGLE_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ","]

EDGE_CASES = [
    "unwanted,running", "UNwant\u00E9d,running", " \tHeLLo!how  \n Are yoU?  ", "H\u00E9llo",
    "ah\u535A\u63A8zz", "a\u2028b\u2029c", "\u00000x\ufffdy\u200bz\u00ad", "İstanbul ÇAĞ ǅ ǈ ﬁ ﬂ Straße",
    "\u0345 ᾼ \u0301", "x" * 201, "x" * 200, "$5^`~ (c) «quoted» — dash…", "한국어 日本語のテキスト",
    "2024年北京GDP增长5%。", "\U00020000\U0002A700 \uF900", "", "   ", "\r\n", b"bytes \xe4\xb8\xad".decode("utf-8"),
]


def _write(tmp_path, tokens, name="vocab.txt"):
  path = tmp_path / name
  path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
  return str(path)


def test_google_hand_worked_case(tmp_path):
  tokenizer = tokenization.FullTokenizer(_write(tmp_path, GOOGLE_VOCAB))
  tokens = tokenizer.tokenize("UNwant\u00E9d,running")
  assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
  assert tokenizer.convert_ids_to_tokens([7, 4, 5]) == ["un", "##want", "##ed"]


def test_wordpiece_unknown_and_too_long_words():
  vocab = {t: i for i, t in enumerate(GOOGLE_VOCAB)}
  wordpiece = tokenization.WordpieceTokenizer(vocab, max_input_chars_per_word=10)
  assert wordpiece.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
  assert wordpiece.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]
  assert wordpiece.tokenize("wantwantwant") == ["[UNK]"]  # 12 chars > 10


def test_basic_tokenizer_splits_cjk_and_punctuation():
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  assert basic.tokenize("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]
  assert basic.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
  assert basic.tokenize("H\u00E9llo") == ["hello"]
  cased = tokenization.BasicTokenizer(do_lower_case=False)
  assert cased.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["HeLLo", "!", "how", "Are", "yoU", "?"]


def test_load_vocab_keeps_first_id_of_duplicates(tmp_path):
  vocab = tokenization.load_vocab(_write(tmp_path, ["[PAD]", "a", "b", "a", "c"]))
  assert vocab == {"[PAD]": 0, "a": 1, "b": 2, "c": 3}


def test_missing_special_tokens_is_a_clear_error(tmp_path):
  path = _write(tmp_path, GOOGLE_VOCAB)
  with pytest.raises(ValueError, match=r"vocab.txt: vocab is missing BERT's special tokens \[PAD\] \[MASK\]"):
    tokenization.check_special_tokens(tokenization.load_vocab(path), path)


def _assert_same_tokens(vocab_file, lines, do_lower_case):
  original = original_bert.load("tokenization").FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  ours = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  for i, line in enumerate(lines):
    expected = original.tokenize(line)
    assert ours.tokenize(line) == expected, "line %d: %r" % (i, line[:80])
    assert ours.convert_tokens_to_ids(expected) == original.convert_tokens_to_ids(expected)


@pytest.mark.parametrize("do_lower_case", [True, pytest.param(False, marks=pytest.mark.slow)])  # ~8 s each
def test_same_tokens_as_original_on_peoples_daily(minilm_dir, do_lower_case):
  """Every line of People's Daily, on an English WordPiece vocab that has ~5k CJK characters."""
  _assert_same_tokens(os.path.join(minilm_dir, "vocab.txt"), corpora.peoples_daily_lines(), do_lower_case)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_same_tokens_as_original_on_english(minilm_dir, do_lower_case):
  lines = corpora.english_lines() + tuple(EDGE_CASES)
  _assert_same_tokens(os.path.join(minilm_dir, "vocab.txt"), lines, do_lower_case)


def test_same_tokens_as_original_with_chinese_char_vocab(tmp_path):
  lines = corpora.peoples_daily_lines()[:5000] + tuple(EDGE_CASES)
  vocab_file = corpora.write_char_vocab(lines[:2000], str(tmp_path / "vocab.txt"))
  _assert_same_tokens(vocab_file, lines, do_lower_case=True)


def test_tokenize_to_ids_equals_ids_of_tokens(minilm_dir):
  tokenizer = tokenization.FullTokenizer(os.path.join(minilm_dir, "vocab.txt"))
  for line in corpora.english_lines()[:300] + tuple(EDGE_CASES) + corpora.peoples_daily_lines()[:300]:
    assert tokenizer.tokenize_to_ids(line) == tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
