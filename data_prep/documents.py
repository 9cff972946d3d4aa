"""Reads BERT's pretraining text into compact token-id documents, exactly as the original reads it.

Input format (Google's): one sentence per line, a blank line between documents. Reading follows
the original `create_pretraining_data.py` (which reads with `tf.gfile` `readline()`):

  * every `\\r` is dropped ("a\\rb" is the line "ab"); lines end at `\\n` only (not at `\\u2028`);
  * a line that is empty after `str.strip()` ends the current document;
  * a non-empty line that tokenizes to nothing (e.g. only U+200B) is skipped, the document goes on;
  * documents continue across files: a file that does not end with a blank line merges its last
    document with the next file's first; empty documents are dropped.

`Documents` stores the whole corpus in three flat arrays instead of lists of lists of strings
(~2 bytes per token instead of ~60), so memory grows with the corpus only, never with dupe_factor.
"""

import array
import glob
import os

_CHUNK_BYTES = 1 << 24


class Documents:
  """A corpus of tokenized documents in flat arrays.

  Attributes:
    ids: array of uint16 (or int32 for vocabs over 65536), every token id of every sentence,
      in input order. [num_tokens]
    joins: bytearray or None, 1 where a token continues the previous token's word (from word
      segmentation, for Chinese whole-word masking); None when not segmented. [num_tokens]
    sentence_starts: array of int, token offset of each sentence, plus the end. [num_sentences + 1]
    doc_starts: array of int, sentence offset of each document, plus the end. [num_documents + 1]

  Example:
    >>> docs = Documents(); docs.add_sentence([5, 6]); docs.add_sentence([7]); docs.end_document()
    >>> len(docs), docs.num_sentences, docs.num_tokens
    (1, 2, 3)
  """

  def __init__(self, with_joins=False, vocab_size=None):
    # 2 bytes a token when the vocab allows (< 65536 ids), else 4.
    self.ids = array.array("H" if vocab_size is not None and vocab_size <= 1 << 16 else "i")
    self.joins = bytearray() if with_joins else None
    self.sentence_starts = array.array("q", [0])
    self.doc_starts = array.array("q", [0])

  def __len__(self):
    return len(self.doc_starts) - 1

  @property
  def num_sentences(self):
    return len(self.sentence_starts) - 1

  @property
  def num_tokens(self):
    return len(self.ids)

  def add_sentence(self, ids, joins=None):
    """Appends one non-empty sentence (list of token ids) to the current document."""
    self.ids.extend(ids)
    if self.joins is not None:
      self.joins.extend(joins if joins is not None else bytes(len(ids)))
    self.sentence_starts.append(len(self.ids))

  def end_document(self):
    """Closes the current document; does nothing if it has no sentence yet."""
    if self.doc_starts[-1] != self.num_sentences:
      self.doc_starts.append(self.num_sentences)

  def extend(self, other):
    """Appends all (complete) documents of `other`."""
    offset, sentence_offset = len(self.ids), self.num_sentences
    self.ids.extend(other.ids)
    if self.joins is not None:
      self.joins.extend(other.joins)
    self.sentence_starts.extend(s + offset for s in other.sentence_starts[1:])
    self.doc_starts.extend(d + sentence_offset for d in other.doc_starts[1:])

  def subset(self, document_numbers):
    """A new `Documents` with copies of the given documents, in that order."""
    out = Documents(with_joins=self.joins is not None)
    out.ids = array.array(self.ids.typecode)
    starts = self.sentence_starts
    for d in document_numbers:
      s0, s1 = self.doc_starts[d], self.doc_starts[d + 1]
      first, end = starts[s0], starts[s1]
      out.ids.extend(self.ids[first:end])
      if out.joins is not None:
        out.joins.extend(self.joins[first:end])
      shift = len(out.ids) - end
      out.sentence_starts.extend(s + shift for s in starts[s0 + 1:s1 + 1])
      out.doc_starts.append(out.num_sentences)
    return out

  def sentence_bounds(self, document):
    """[(start, end)] token offsets of the sentences of document number `document`."""
    starts = self.sentence_starts
    s0, s1 = self.doc_starts[document], self.doc_starts[document + 1]
    return list(zip(starts[s0:s1], starts[s0 + 1:s1 + 1]))

  def document_tokens(self, document):
    """The token ids of each sentence of `document`: [[int]]."""
    return [self.ids[s:e].tolist() for s, e in self.sentence_bounds(document)]


def expand_input_patterns(input_patterns):
  """Files matching comma-separated globs, in order; ValueError if a pattern matches nothing."""
  files = []
  for pattern in input_patterns.split(","):
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    matches = [m for m in matches if os.path.isfile(m)]
    if not matches:
      raise ValueError("input file pattern %r matches no file" % pattern)
    files.extend(matches)
  return files


def read_lines(input_files, errors="strict"):
  """Yields the text lines of all files as the original reads them: `\\r` dropped, split on `\\n`.

  Args:
    input_files: list of str paths.
    errors: "strict" raises ValueError naming the file and line of the first non-UTF-8 byte;
      "replace" substitutes U+FFFD (which the tokenizer then drops), "ignore" drops the bytes.

  Yields:
    str lines without the trailing newline.
  """
  for path in input_files:
    line_number = 0
    tail = b""
    with open(path, "rb") as f:
      while True:
        chunk = f.read(_CHUNK_BYTES)
        if not chunk:
          break
        lines = (tail + chunk.replace(b"\r", b"")).split(b"\n")
        tail = lines.pop()
        yield from _decode(lines, path, line_number, errors)
        line_number += len(lines)
    if tail:
      yield from _decode([tail], path, line_number, errors)


def _decode(lines, path, first_line_number, errors):
  try:
    text = b"\n".join(lines).decode("utf-8", errors)
  except UnicodeDecodeError as e:
    bad_line = first_line_number + b"\n".join(lines)[:e.start].count(b"\n") + 1
    raise ValueError("%s:%d: invalid UTF-8 (byte 0x%02x); read with errors=replace to substitute"
                     % (path, bad_line, e.object[e.start])) from None
  return text.split("\n") if lines else []


CHINESE_WHOLE_WORD_MASK = ("none", "pre_segmented", "jieba")


def make_segmenter(chinese_whole_word_mask):
  """None, `str.split` (pre-segmented input) or jieba's `lcut`; ValueError if jieba is missing."""
  if chinese_whole_word_mask == "none":
    return None
  if chinese_whole_word_mask == "pre_segmented":
    return str.split
  if chinese_whole_word_mask == "jieba":
    try:
      import jieba  # pylint: disable=g-import-not-at-top
    except ImportError:
      raise ValueError("chinese_whole_word_mask=jieba needs jieba (pip install jieba)") from None
    jieba.setLogLevel(60)
    return jieba.lcut
  raise ValueError("chinese_whole_word_mask must be one of %s, not %r"
                   % (", ".join(CHINESE_WHOLE_WORD_MASK), chinese_whole_word_mask))


def tokenize_documents(lines, tokenizer, segmenter=None, documents=None):
  """Tokenizes lines in BERT's input format into `Documents`.

  Args:
    lines: iterable of str, one sentence each, blank (whitespace-only) lines between documents.
    tokenizer: `bert_tf2.tokenization.FullTokenizer`.
    segmenter: None, or a function str -> list of words (e.g. `str.split` for pre-segmented
      text, jieba's `lcut`) to record word boundaries for Chinese whole-word masking.
    documents: `Documents` to append to (its last document stays open), or None for a new one.

  Returns:
    The `Documents`, with the last document closed.
  """
  if documents is None:
    documents = Documents(with_joins=segmenter is not None, vocab_size=len(tokenizer.vocab))
  docs = documents
  for line in lines:
    line = line.strip()
    if not line:
      docs.end_document()
      continue
    if segmenter is None:
      ids = tokenizer.tokenize_to_ids(line)
      if ids:
        docs.add_sentence(ids)
      continue
    ids, joins = [], []
    for word in segmenter(line):
      pieces = tokenizer.tokenize_to_ids(word)
      if pieces:
        ids.extend(pieces)
        joins.append(0)
        joins.extend([1] * (len(pieces) - 1))
    if ids:
      docs.add_sentence(ids, joins)
  docs.end_document()
  return docs
