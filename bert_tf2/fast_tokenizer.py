"""Batched, in-graph BERT tokenization with ids identical to `FullTokenizer`.

Usable inside `tf.function`, `tf.data` and SavedModels (it is a `tf.Module`):

    tokenizer = FastTokenizer("vocab.txt", do_lower_case=True)
    ids = tokenizer(tf.constant(["unwanted,running", "你好"]))  # int32 RaggedTensor [B, (tokens)]
    packed = pack_inputs(ids, None, max_seq_length=128, cls_id=..., sep_id=...)

How exactness is reached. tf-text's `FastBertTokenizer(lower_case_nfd_strip_accents=True)` lower-cases
with ICU's NFKC case folding, so full-width "１" becomes "1", "ß" becomes "ss" and "…" becomes
"..." where Python's `str.lower` keeps them (2366 of the first 3000 People's Daily lines differ), and
its character classes follow ICU's Unicode version, not Python's. So the text-level work of the
original `BasicTokenizer` is done here, per character, from a table that Python builds with the
original's own rules, and only the WordPiece step is left to tf-text (`FastWordpieceTokenizer` with
`no_pretokenization=True`: one word in, greedy longest-match-first pieces out):

  text -> (lower case only) Python's final-sigma rule, as a regex
       -> CJK ideographs surrounded by spaces (regex on code point ranges)
       -> each character c replaced by table[c] when present:
            control / U+0000 / U+FFFD -> "";  whitespace (BERT's or `str.isspace`) -> " ";
            otherwise lower() + NFD + drop Mn (lower case only), punctuation -> " p "
       -> split on spaces -> words longer than 200 characters -> "[UNK]" (tf-text counts bytes)
       -> FastWordpieceTokenizer -> ids.

Everything per character is equivalent to the original because its `lower()`, NFD and accent
stripping act per character, apart from the final sigma ("ΟΔΟΣ" -> "οδος"), handled above.
"""

import functools
import unicodedata

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf2 import tokenization

MAX_CHARS_PER_WORD = 200  # the original WordpieceTokenizer's max_input_chars_per_word
_CJK_PATTERN = "[%s]" % "".join("\\x{%X}-\\x{%X}" % r for r in tokenization._CJK_RANGES)
# Python's Final_Sigma: Σ preceded by a cased letter and not followed by one, case-ignorable
# characters (marks, format, modifiers, apostrophes and dots) skipped on both sides.
_CASED = r"\p{Lu}\p{Ll}\p{Lt}"
_IGNORABLE = r"\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}'.:\x{00B7}\x{2019}"
_FINAL_SIGMA = "([%s][%s]*)\u03a3([%s]*)([^%s%s]|$)" % (_CASED, _IGNORABLE, _IGNORABLE, _CASED, _IGNORABLE)


def _split_punctuation(chars):
  return "".join(" %s " % c if tokenization._is_punctuation(c) else c for c in chars)


@functools.cache
def char_table(do_lower_case):
  """{char: replacement} for every code point the original's basic tokenizer changes.

  CJK ideographs are left to a regex unless lower-casing changes them (compatibility ideographs).
  Example: char_table(True)["A"] == "a", char_table(True)[","] == " , ", char_table(True)["\\x00"] == "".
  """
  table = {}
  for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
      continue
    c = chr(cp)
    if cp == 0 or cp == 0xFFFD or tokenization._is_control(c):
      out = ""
    elif tokenization._is_whitespace(c) or c.isspace():
      out = " "
    else:
      out = c
      if do_lower_case:
        out = unicodedata.normalize("NFD", out.lower())
        out = "".join(d for d in out if unicodedata.category(d) != "Mn")
        out = "".join(" " if d.isspace() else d for d in out)
      if not tokenization.is_chinese_char(cp) or out != c:
        out = _split_punctuation(out)
    if out != c:
      table[c] = out
  return table


class FastTokenizer(tf.Module):
  """`FullTokenizer` as TF ops: string Tensor [B] -> int32 RaggedTensor [B, (tokens)].

  Args:
    vocab_file: str, one token per line (ids as `tokenization.load_vocab`).
    do_lower_case: bool, as the original's flag.
  """

  def __init__(self, vocab_file, do_lower_case=True, name=None):
    super().__init__(name=name)
    vocab = tokenization.load_vocab(vocab_file)
    tokenization.check_special_tokens(vocab, vocab_file)
    self.vocab_file = vocab_file
    self.do_lower_case = do_lower_case
    self.vocab_size = max(vocab.values()) + 1
    self.special_ids = {t: vocab[t] for t in tokenization.SPECIAL_TOKENS}
    # FastWordpiece takes a token list with ids = positions; a duplicated line keeps its first id.
    tokens = [None] * self.vocab_size
    for token, i in vocab.items():
      tokens[i] = token
    tokens = [t if t is not None else "[unused-duplicate-%d]" % i for i, t in enumerate(tokens)]
    self._wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=tokens, suffix_indicator="##", max_bytes_per_word=4 * MAX_CHARS_PER_WORD + 4,
        token_out_type=tf.int32, unknown_token="[UNK]", no_pretokenization=True)
    table = char_table(do_lower_case)
    self._chars = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(list(table.keys()), list(table.values()),
                                            key_dtype=tf.string, value_dtype=tf.string),
        default_value="\x00")  # "\x00" never is a replacement: it maps to "" itself

  def words(self, texts):
    """string [B] -> string RaggedTensor [B, (words)]: the original's basic tokens."""
    texts = tf.convert_to_tensor(texts, tf.string)
    if self.do_lower_case:
      texts = tf.strings.regex_replace(texts, _FINAL_SIGMA, "\\1\u03c2\\2\\3")
    texts = tf.strings.regex_replace(texts, _CJK_PATTERN, " \\0 ")
    # Invalid UTF-8 bytes are dropped, as `convert_to_unicode(..., "ignore")`.
    chars = tf.strings.unicode_split(texts, "UTF-8", errors="ignore")  # [B, (chars)]
    mapped = self._chars.lookup(chars)
    chars = tf.where(tf.equal(mapped, "\x00"), chars, mapped)
    texts = tf.strings.reduce_join(chars, axis=-1)
    return tf.strings.split(texts, sep=None)

  def word_pieces(self, texts):
    """string [B] -> int32 RaggedTensor [B, (words), (pieces)]: FullTokenizer's ids, grouped by word."""
    words = self.words(texts)
    too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
    words = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
    return self._wordpiece.tokenize(words)

  def __call__(self, texts):
    """string [B] -> int32 RaggedTensor [B, (tokens)], equal to FullTokenizer's ids."""
    return self.word_pieces(texts).merge_dims(-2, -1)


def truncated_lengths(len_a, len_b, max_tokens):
  """Lengths after the original `_truncate_seq_pair` (pop from the longer; on ties from b).

  Closed form of the loop, on int Tensors [B]: if both fit, nothing; else if the shorter one
  fits in half, it is kept and the longer gets the rest; else a gets ceil(m/2) and b floor(m/2).
  """
  m = max_tokens
  fits = len_a + len_b <= m
  short = tf.minimum(len_a, len_b)
  shorter_kept = 2 * short <= m
  a_short = len_a <= len_b  # on ties a is "kept": b is the one trimmed
  new_a = tf.where(shorter_kept, tf.where(a_short, len_a, m - len_b), (m + 1) // 2)
  new_b = tf.where(shorter_kept, tf.where(a_short, m - len_a, len_b), m // 2)
  return tf.where(fits, len_a, new_a), tf.where(fits, len_b, new_b)


def pack_inputs(ids_a, ids_b, max_seq_length, cls_id, sep_id):
  """Packs token ids into `[CLS] a [SEP] (b [SEP])`, truncated as the original, padded with 0.

  Args:
    ids_a: int32 RaggedTensor [B, (tokens)].
    ids_b: int32 RaggedTensor [B, (tokens)] or None for single-sentence tasks.
    max_seq_length: int, T (or a scalar int32 Tensor: TF Hub's `bert_pack_inputs(..., seq_length=)`).
    cls_id, sep_id: int ids of [CLS] and [SEP].

  Returns:
    dict of int32 [B, T] `input_ids`, `input_mask`, `segment_ids`, and `num_truncated`: int32 [B],
    the number of tokens dropped from each example.
  """
  ids_a = tf.cast(ids_a, tf.int32)
  len_a = tf.cast(ids_a.row_lengths(), tf.int32)
  batch = tf.shape(len_a)[0]
  cls = tf.fill([batch, 1], cls_id)
  sep = tf.fill([batch, 1], sep_id)
  if ids_b is None:
    new_a = tf.minimum(len_a, max_seq_length - 2)
    a = tf.RaggedTensor.from_tensor(ids_a.to_tensor(), lengths=new_a)
    ids = tf.concat([cls, a, sep], axis=1)
    segments = tf.zeros_like(ids)
    dropped = len_a - new_a
  else:
    ids_b = tf.cast(ids_b, tf.int32)
    len_b = tf.cast(ids_b.row_lengths(), tf.int32)
    # As the original, a b that tokenizes to nothing makes a single-sentence example.
    has_b = len_b > 0
    pair_a, pair_b = truncated_lengths(len_a, len_b, max_seq_length - 3)
    new_a = tf.where(has_b, pair_a, tf.minimum(len_a, max_seq_length - 2))
    new_b = tf.where(has_b, pair_b, 0)
    a = tf.RaggedTensor.from_tensor(ids_a.to_tensor(), lengths=new_a)
    b = tf.RaggedTensor.from_tensor(ids_b.to_tensor(), lengths=new_b)
    sep_b = tf.RaggedTensor.from_tensor(sep, lengths=tf.cast(has_b, tf.int32))
    first = tf.concat([cls, a, sep], axis=1)
    second = tf.concat([b, sep_b], axis=1)
    ids = tf.concat([first, second], axis=1)
    segments = tf.concat([tf.zeros_like(first), tf.ones_like(second)], axis=1)
    dropped = len_a + len_b - new_a - new_b
  shape = [None, max_seq_length] if isinstance(max_seq_length, int) else tf.stack([-1, max_seq_length])
  input_ids = ids.to_tensor(0, shape=shape)
  return {
      "input_ids": input_ids,
      "input_mask": tf.ones_like(ids).to_tensor(0, shape=shape),
      "segment_ids": segments.to_tensor(0, shape=shape),
      "num_truncated": dropped,
  }
