"""Learning a BERT WordPiece vocab from word counts (library of `build_vocab.py`).

Words are counted with BERT's own basic tokenizer (`bert_tf2.tokenization.BasicTokenizer`, the one
`FullTokenizer` uses, so the vocab fits how text will be split); tf-text's WordPiece learner
(`wordpiece_tokenizer_learner_lib.learn`, the core of `bert_vocab_from_dataset`) picks the pieces.
Layout of the result:

  [PAD] [UNK] [CLS] [SEP] [MASK]      ids 0-4, Google's special tokens ([PAD] must be id 0)
  [unused0] ... [unusedN-1]           optional slots for tokens added later
  一 丁 七 ...                         every CJK character seen, one token each
  the , . ##s ...                     word pieces learned from all other words
"""

import collections
import importlib.util
import os

from bert_tf2 import tokenization


def count_words(lines, do_lower_case):
  """Counts BERT basic-tokenizer words: ["Hi, hi!"] -> Counter({"hi": 2, ",": 1, "!": 1})."""
  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  table = tokenization._CLEAN_TABLE  # pylint: disable=protected-access  (clean + split CJK, as FullTokenizer)
  raw_counts = collections.Counter()
  for line in lines:
    raw_counts.update(line.translate(table).split())
  counts = collections.Counter()
  for raw_word, count in raw_counts.items():  # basic-tokenize each distinct raw word once
    for word in tokenizer.tokenize_word(raw_word):
      counts[word] += count
  return counts


def _wordpiece_learner():
  """tf-text's pure-Python learner module, loaded without importing TensorFlow (~2.5 s, ~600 MB)."""
  spec = importlib.util.find_spec("tensorflow_text")
  if spec is None:
    raise ImportError("build_vocab needs tensorflow-text (pip install tensorflow-text)")
  path = os.path.join(os.path.dirname(spec.origin), "tools", "wordpiece_vocab", "wordpiece_tokenizer_learner_lib.py")
  module_spec = importlib.util.spec_from_file_location("_wordpiece_tokenizer_learner_lib", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module


def build_vocab(word_counts, vocab_size, num_unused_tokens=0, max_unique_chars=1000):
  """Returns the vocab as a list of unique tokens: specials, [unusedN], CJK characters, word pieces.

  Args:
    word_counts: dict {word: count} from `count_words`.
    vocab_size: int, target number of tokens. All CJK characters, and the characters of the
      other words, are kept even beyond it.
    num_unused_tokens: int, how many `[unusedN]` slots to reserve after the special tokens.
    max_unique_chars: int, alphabet size the WordPiece learner keeps for non-CJK words (words
      with rarer characters are left out and will tokenize to [UNK]).

  Example:
    >>> build_vocab({"low": 5, "lower": 2, "中": 3}, vocab_size=20)[:7]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '中', 'e']
  """
  reserved = list(tokenization.SPECIAL_TOKENS) + ["[unused%d]" % i for i in range(num_unused_tokens)]
  cjk = sorted(w for w in word_counts if len(w) == 1 and tokenization.is_chinese_char(ord(w)))
  cjk_set = set(cjk)
  others = {w: c for w, c in word_counts.items() if w not in cjk_set}
  vocab = reserved + cjk
  if others:
    # With no room left the learner still returns the other words' characters (and their ##
    # forms), so that punctuation and digits never become [UNK].
    budget = max(1, vocab_size - len(vocab))
    learned = _wordpiece_learner().learn(others, budget, reserved_tokens=[], max_unique_chars=max_unique_chars)
    seen = set(vocab)
    vocab.extend(t for t in learned if t not in seen)
  return vocab


def write_vocab(vocab, path):
  """Writes one token per line (vocab.txt) and returns `path`."""
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(token + "\n" for token in vocab))
  return path
