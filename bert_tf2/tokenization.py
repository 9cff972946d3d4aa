"""Google BERT's tokenizer (`tokenization.py`), token for token, with a per-word cache.

text -> BasicTokenizer (clean, split CJK, lower + strip accents, split punctuation)
     -> WordpieceTokenizer (greedy longest-match-first with `##`) -> ids.

The output equals the original `FullTokenizer` on every input. It is faster because the
per-character clean-up is one `str.translate` over a memoized table, and because each
whitespace-separated word is tokenized once and then served from a cache.
For batched tokenization inside a graph (tf.data, SavedModel) see `bert_tf2.fast_tokenizer`.
"""

import re
import unicodedata

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# The original's "Chinese character" ranges: CJK Unified Ideographs and extensions A-E plus the
# compatibility blocks. Hangul, Kana and CJK punctuation are not in them.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def convert_to_unicode(text):
  """Returns `text` as `str`, decoding bytes as UTF-8 and dropping invalid bytes (as the original)."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % type(text))


printable_text = convert_to_unicode


def load_vocab(vocab_file):
  """Reads one token per line into {token: id}; a repeated token keeps its first id.

  Ids are assigned as the original `bert-tensorflow` wheel does (`vocab[token] = len(vocab)`),
  so a duplicated line shifts every later id by one.
  """
  vocab = {}
  with open(vocab_file, "rb") as f:
    for line in f:
      token = convert_to_unicode(line).strip()
      if token not in vocab:
        vocab[token] = len(vocab)
  return vocab


def check_special_tokens(vocab, vocab_file):
  """Raises ValueError naming the file if BERT's special tokens are missing from `vocab`."""
  missing = [t for t in SPECIAL_TOKENS if t not in vocab]
  if missing:
    raise ValueError("%s: vocab is missing BERT's special tokens %s" % (vocab_file, " ".join(missing)))


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab` (token -> id or id -> token)."""
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  """[token] -> [id] through `vocab` ({token: id}, as `load_vocab` returns); KeyError if unknown."""
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  """[id] -> [token] through `inv_vocab` ({id: token}); KeyError if unknown."""
  return convert_by_vocab(inv_vocab, ids)


_UNUSED_TOKEN = re.compile(r"^\[unused\d+\]$")


def preserve_token(token, vocab):
  """True if `token` is an `[unusedN]` entry of `vocab`: with `preserve_unused_tokens` on, the
  tokenizers keep it whole (the wheel's flag, an argument here), e.g. for domain words written
  into the `[unusedN]` slots of a vocab."""
  return token in vocab and _UNUSED_TOKEN.match(token) is not None


# Google's published checkpoints by casing: validate_case_matches_checkpoint's heuristic.
_LOWER_CASED_MODELS = ("uncased_L-24_H-1024_A-16", "uncased_L-12_H-768_A-12", "multilingual_L-12_H-768_A-12",
                       "chinese_L-12_H-768_A-12")
_CASED_MODELS = ("cased_L-12_H-768_A-12", "cased_L-24_H-1024_A-16", "multi_cased_L-12_H-768_A-12")
_MODEL_DIR = re.compile(r"([A-Za-z0-9_-]+)/bert_model.ckpt")


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises ValueError if `do_lower_case` contradicts a Google checkpoint's directory name.

  Only Google's published model directories are known (e.g. `uncased_L-12_H-768_A-12/bert_model.ckpt`
  needs do_lower_case=True, `cased_L-12_H-768_A-12/...` False); any other path passes, as in the original.
  """
  match = _MODEL_DIR.search(init_checkpoint or "")
  if match is None:
    return
  model_name = match.group(1)
  if model_name in _LOWER_CASED_MODELS and not do_lower_case:
    expected = True
  elif model_name in _CASED_MODELS and do_lower_case:
    expected = False
  else:
    return
  raise ValueError("%s: %s is a %s model, but do_lower_case=%s; use do_lower_case=%s so that fine-tuning "
                   "sees text as pretraining did" % (init_checkpoint, model_name,
                                                     "lower-cased" if expected else "cased", not expected, expected))


def whitespace_tokenize(text):
  """Strips and splits on whitespace (Python's definition, as the original)."""
  return text.split()


def is_chinese_char(cp):
  """True if code point `cp` is a CJK ideograph, which BERT makes a token of its own."""
  return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_whitespace(char):
  # \t, \n, \r are control characters that BERT counts as whitespace.
  return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char):
  if char in "\t\n\r":
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  # All non-letter/number ASCII counts as punctuation, e.g. "^", "$" and "`" (not Unicode "P*").
  cp = ord(char)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


class _CleanTable(dict):
  """`str.translate` table doing `_clean_text` + `_tokenize_chinese_chars` in one pass.

  Filled lazily: each code point is classified once, then looked up in C.
  """

  def __missing__(self, cp):
    char = chr(cp)
    if cp == 0 or cp == 0xFFFD or _is_control(char):
      value = None
    elif _is_whitespace(char):
      value = " "
    elif is_chinese_char(cp):
      value = " %s " % char
    else:
      value = char
    self[cp] = value
    return value


_CLEAN_TABLE = _CleanTable()


class BasicTokenizer:
  """Cleans text, splits CJK characters and punctuation, optionally lower-cases and strips accents.

  With `preserve_unused_tokens`, a word that is an `[unusedN]` entry of `vocab` stays whole.
  """

  def __init__(self, do_lower_case=True, vocab=(), preserve_unused_tokens=False):
    self.do_lower_case = do_lower_case
    self.vocab = vocab
    self.preserve_unused_tokens = preserve_unused_tokens

  def tokenize(self, text):
    """Returns the basic tokens of `text` (str or UTF-8 bytes)."""
    tokens = []
    for word in convert_to_unicode(text).translate(_CLEAN_TABLE).split():
      tokens.extend(self.tokenize_word(word))
    return tokens

  def tokenize_word(self, word):
    """Basic tokens of one cleaned, whitespace-free word."""
    if self.preserve_unused_tokens and preserve_token(word, self.vocab):
      return [word]
    if self.do_lower_case:
      word = word.lower()
      if not word.isascii():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
    pieces = []
    start_new_word = True
    for char in word:
      if _is_punctuation(char):
        pieces.append(char)
        start_new_word = True
      elif start_new_word:
        pieces.append(char)
        start_new_word = False
      else:
        pieces[-1] += char
    # Lower-casing can yield whitespace inside a piece; the original re-splits the joined output.
    return " ".join(pieces).split()


class WordpieceTokenizer:
  """Greedy longest-match-first WordPiece: "unaffable" -> ["un", "##aff", "##able"]."""

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word

  def tokenize(self, text):
    """Word pieces of whitespace-separated `text` (already through `BasicTokenizer`)."""
    output = []
    for word in convert_to_unicode(text).split():
      output.extend(self.tokenize_word(word))
    return output

  def tokenize_word(self, word):
    """Word pieces of one word; [UNK] if it is too long or has no segmentation."""
    if len(word) > self.max_input_chars_per_word:
      return [self.unk_token]
    vocab = self.vocab
    pieces = []
    start = 0
    while start < len(word):
      end = len(word)
      while start < end:
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in vocab:
          break
        end -= 1
      else:
        return [self.unk_token]
      pieces.append(piece)
      start = end
    return pieces


class FullTokenizer:
  """End-to-end tokenizer: the original's API and output, faster.

  `preserve_unused_tokens=True` keeps `[unusedN]` vocab entries whole (the wheel's flag of that name).

  Example:
    >>> tokenizer = FullTokenizer("vocab.txt", do_lower_case=True)
    >>> tokenizer.tokenize("unwanted,running")
    ['un', '##want', '##ed', ',', 'runn', '##ing']
  """

  _MAX_CACHE = 1 << 20  # words; bounds memory on huge corpora

  def __init__(self, vocab_file, do_lower_case=True, preserve_unused_tokens=False):
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.do_lower_case = do_lower_case
    self.preserve_unused_tokens = preserve_unused_tokens
    self.basic_tokenizer = BasicTokenizer(do_lower_case, self.vocab, preserve_unused_tokens)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._cache = {}  # cleaned word -> its word pieces
    self._id_cache = {}  # cleaned word -> their ids

  def tokenize(self, text):
    """Word pieces of `text` (str or UTF-8 bytes)."""
    return self._map_words(text, self._cache, self._tokenize_word)

  def tokenize_to_ids(self, text):
    """`convert_tokens_to_ids(tokenize(text))`, served from a per-word cache of ids."""
    return self._map_words(text, self._id_cache, self._word_ids)

  def _map_words(self, text, cache, fn):
    output = []
    for word in convert_to_unicode(text).translate(_CLEAN_TABLE).split():
      value = cache.get(word)
      if value is None:
        value = fn(word)
        if len(cache) >= self._MAX_CACHE:
          cache.clear()
        cache[word] = value
      output.extend(value)
    return output

  def _tokenize_word(self, word):
    pieces = []
    for token in self.basic_tokenizer.tokenize_word(word):
      if self.preserve_unused_tokens and preserve_token(token, self.vocab):
        pieces.append(token)
      else:
        pieces.extend(self.wordpiece_tokenizer.tokenize_word(token))
    return tuple(pieces)

  def _word_ids(self, word):
    return tuple(self.vocab[t] for t in self._tokenize_word(word))

  def convert_tokens_to_ids(self, tokens):
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    return convert_by_vocab(self.inv_vocab, ids)
