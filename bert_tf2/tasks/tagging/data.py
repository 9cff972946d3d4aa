"""Token tagging data: CoNLL files -> examples -> word-piece windows -> model inputs, and back.

    processor = get_tagging_processor("conll")           # BIO; "conll_bioes" for BIOES
    train = processor.get_train_examples(data_dir)        # reads data_dir/train.txt, learns the tags
    labels = processor.get_labels()                       # ["O", "B-LOC", "B-ORG", ...]
    features = convert_examples_to_features(train, labels, 128, tokenizer, doc_stride=64)
    inputs = features_to_arrays(features)                 # int32 [N, T] arrays
    ...                                                   # the model predicts tag ids [N, T]
    tags = merge_window_predictions(examples, features, predicted_ids, labels)  # a tag per word

CoNLL-style files: one "token tag" a line (two whitespace-separated columns), a blank line between
sentences; `-DOCSTART-` lines are skipped. A token is a word (English CoNLL) or one character
(Chinese NER sets such as MSRA and People's Daily).

Word -> word-piece alignment: each word is tokenized alone (`FullTokenizer.tokenize`); its FIRST
piece carries the word's tag (`label_mask` 1), the other pieces are not tagged:

    words  ["Unwanted", "ｉＰｈｏｎｅ", "１２", "北", "\u200b"]   (tags B-X, O, O, B-LOC, O)
    pieces  un ##want ##ed | ｉ ... | [UNK] or １ ##２ | 北 | (none: a format character)
A word with no piece (whitespace, control and format characters) cannot be tagged: it is predicted
"O". Sentences longer than max_seq_length - 2 pieces are cut into windows of that many pieces,
each starting `doc_stride` pieces after the previous one (run_squad's doc spans); every window
is trained on, and a word's prediction is taken from the window where its first piece has the
maximum context (run_squad's `_check_is_max_context`: min(left, right) + 0.01 * window length, the
earliest window on ties; both from `bert_tf2.core.windows`).
"""

import dataclasses
import os
import re
import typing

import numpy as np

from bert_tf2.core import checks, windows
from bert_tf2.tasks.base import SplitReader  # noqa: F401  (tagging readers subclass it as data.SplitReader)

SCHEMES = {"BIO": re.compile(r"^(O|[BI]-.+)$"), "BIOES": re.compile(r"^(O|[BIES]-.+)$")}
SPLIT_FILES = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
FEATURE_NAMES = INPUT_NAMES + ("label_ids", "label_mask")


@dataclasses.dataclass
class TaggingExample:
  """One sentence: its tokens (`words`), their tags (None when unknown), `source` "file:line"."""
  guid: str
  words: list
  tags: typing.Optional[list] = None
  source: typing.Optional[str] = None


@dataclasses.dataclass
class TaggingFeatures:
  """One window of one example as model inputs (int lists of length max_seq_length).

  label_ids: the tag id at each word's first piece, 0 elsewhere; label_mask: 1 there.
  word_ids: the example's word index at first pieces, -1 elsewhere.
  is_max_context: 1 where this window gives the word its maximum context (use its prediction).
  """
  input_ids: list
  input_mask: list
  segment_ids: list
  label_ids: list
  label_mask: list
  word_ids: list
  is_max_context: list
  example_index: int
  window_start: int


def read_conll(path, scheme="BIO"):
  """[TaggingExample] of a CoNLL file; ValueError "path:line: ..." on any bad line or an empty file."""
  if not os.path.isfile(path):
    raise ValueError("%s: file not found" % path)
  pattern = SCHEMES[scheme]
  examples, words, tags, start = [], [], [], None

  def close():
    if words:
      examples.append(TaggingExample("%s-%d" % (os.path.basename(path), len(examples)), list(words),
                                     list(tags), "%s:%d" % (path, start)))
    words.clear()
    tags.clear()

  with open(path, "rb") as f:
    for number, raw in enumerate(f, 1):
      try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
      except UnicodeDecodeError as e:
        raise ValueError("%s:%d: not valid UTF-8 (%s)" % (path, number, e.reason)) from None
      columns = line.split()
      if not columns or columns[0] == "-DOCSTART-":
        close()
        continue
      if len(columns) != 2:
        raise ValueError("%s:%d: expected 2 columns (token tag), found %d: %r"
                         % (path, number, len(columns), line.rstrip("\r\n")))
      if not pattern.match(columns[1]):
        raise ValueError("%s:%d: tag %r is not a %s tag (O, %s-TYPE)"
                         % (path, number, columns[1], scheme, "/".join(scheme[:-1])))
      if not words:
        start = number
      words.append(columns[0])
      tags.append(columns[1])
  close()
  if not examples:
    raise ValueError("%s: the file is empty (no token lines)" % path)
  return examples


class ConllProcessor(SplitReader):
  """`{train,dev,test}.txt` CoNLL files in data_dir; the tag set is read from train.txt.

  Args:
    scheme: "BIO" or "BIOES", checked on every tag and used to read entities.
    labels: list of tag strings to use instead of train's (e.g. when only predicting).
  """

  name = "conll"

  def __init__(self, scheme="BIO", labels=None):
    if scheme not in SCHEMES:
      raise ValueError("scheme must be BIO or BIOES, got %r" % (scheme,))
    self.scheme = scheme
    self._labels = list(labels) if labels else None
    self._label_source = "the given labels" if labels else None

  def _read(self, data_dir, split):
    path = os.path.join(data_dir, SPLIT_FILES[split])
    examples = read_conll(path, self.scheme)
    if split == "train" and self._label_source is None:
      found = {t for e in examples for t in e.tags}
      self._labels = ["O"] + sorted(found - {"O"})
      self._label_source = path
    elif self._labels is not None:
      known = set(self._labels)
      for e in examples:
        for i, tag in enumerate(e.tags):
          if tag not in known:
            file, line = e.source.rsplit(":", 1)
            raise ValueError("%s:%d: tag %r does not occur in %s" % (file, int(line) + i, tag, self._label_source))
    return examples

  def set_labels(self, labels, source):
    """Uses `labels` (e.g. a trained model's) instead of train.txt's; `source` names them in errors."""
    self._labels, self._label_source = list(labels), source

  def get_labels(self):
    """The tag strings in id order, "O" first; read from train.txt (read it first)."""
    if self._labels is None:
      raise ValueError("the tag set is read from train.txt: call get_train_examples first")
    return list(self._labels)


class ConllBioesProcessor(ConllProcessor):
  name = "conll_bioes"

  def __init__(self, labels=None):
    super().__init__("BIOES", labels)


TAGGING_PROCESSORS = {"conll": ConllProcessor, "conll_bioes": ConllBioesProcessor,
                      "ner": ConllProcessor, "pos": ConllProcessor}


def get_tagging_processor(task_name, **kwargs):
  """A processor by run_ner.py's --task_name: conll (= ner, pos; BIO) or conll_bioes."""
  name = task_name.lower()
  if name not in TAGGING_PROCESSORS:
    raise ValueError("unknown task_name %r; one of %s" % (task_name, ", ".join(sorted(TAGGING_PROCESSORS))))
  return TAGGING_PROCESSORS[name](**kwargs)


def tokenize_words(words, tokenizer, cache=None):
  """(pieces, first) for a list of words: their word pieces, and for each word the index of its
  first piece in `pieces` (None for a word with no piece)."""
  pieces, first = [], []
  for word in words:
    word_pieces = cache.get(word) if cache is not None else None
    if word_pieces is None:
      word_pieces = tokenizer.tokenize(word)
      if cache is not None:
        cache[word] = word_pieces
    first.append(len(pieces) if word_pieces else None)
    pieces.extend(word_pieces)
  return pieces, first


def convert_single_example(example_index, example, label_map, max_seq_length, tokenizer, doc_stride, cache=None):
  """TaggingExample -> [TaggingFeatures], one per window; unknown tags (None) get id 0."""
  pieces, first = tokenize_words(example.words, tokenizer, cache)
  spans = windows.doc_spans(len(pieces), max_seq_length - 2, doc_stride, empty_window=True)
  word_at = {p: w for w, p in enumerate(first) if p is not None}
  features = []
  for index, (start, length) in enumerate(spans):
    ids = tokenizer.convert_tokens_to_ids(["[CLS]"] + pieces[start:start + length] + ["[SEP]"])
    pad = max_seq_length - len(ids)
    label_ids, label_mask, word_ids, max_context = [0], [0], [-1], [0]
    for p in range(start, start + length):
      w = word_at.get(p)
      tagged = w is not None
      label_ids.append(label_map[example.tags[w]] if tagged and example.tags is not None else 0)
      label_mask.append(int(tagged))
      word_ids.append(w if tagged else -1)
      max_context.append(int(tagged and windows.max_context_span(spans, p) == index))
    tail = [0] * (pad + 1)  # [SEP] and padding
    features.append(TaggingFeatures(
        input_ids=ids + [0] * pad, input_mask=[1] * len(ids) + [0] * pad, segment_ids=[0] * max_seq_length,
        label_ids=label_ids + tail, label_mask=label_mask + tail, word_ids=word_ids + [-1] * (pad + 1),
        is_max_context=max_context + tail, example_index=example_index, window_start=start))
  return features


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer, doc_stride=64):
  """[TaggingExample] -> [TaggingFeatures] (one or more windows per example, in example order).

  Args:
    label_list: tag strings in id order; an example's tag not in it raises ValueError naming the
      example's file and line.
    max_seq_length: int T >= 3; windows hold T - 2 pieces between [CLS] and [SEP].
    doc_stride: int >= 1, pieces between the starts of consecutive windows.
  """
  checks.check_max_seq_length(max_seq_length)
  if doc_stride < 1:
    raise ValueError("doc_stride must be at least 1, got %d" % doc_stride)
  label_map = {label: i for i, label in enumerate(label_list)}
  cache, features = {}, []
  for i, example in enumerate(examples):
    if example.tags is not None:
      for j, tag in enumerate(example.tags):
        if tag not in label_map:
          where = example.source or example.guid
          raise ValueError("%s: tag %r of token %d is not one of the labels %s"
                           % (where, tag, j + 1, ", ".join(label_list)))
    features.extend(convert_single_example(i, example, label_map, max_seq_length, tokenizer, doc_stride, cache))
  return features


def features_to_arrays(features):
  """[TaggingFeatures] -> {input_ids, input_mask, segment_ids, label_ids, label_mask: int32 [N, T]}."""
  return {name: np.array([getattr(f, name) for f in features], np.int32).reshape(len(features), -1)
          for name in FEATURE_NAMES}


def merge_window_predictions(examples, features, predicted_ids, label_list):
  """Tag strings per word of each example from windowed predictions (int [N_features, T]).

  Each word takes the prediction of its maximum-context window; words without pieces get "O".
  """
  tags = [["O"] * len(e.words) for e in examples]
  for feature, row in zip(features, np.asarray(predicted_ids)):
    for position, (word, best) in enumerate(zip(feature.word_ids, feature.is_max_context)):
      if best:
        tags[feature.example_index][word] = label_list[int(row[position])]
  return tags


SENTENCE_ENDS = "。！？\n"  # where raw texts are cut into sentences, as People's Daily's CoNLL files


def split_sentences(text, ends=SENTENCE_ENDS):
  """A raw text cut after each character in `ends`: "好。再见" -> ["好。", "再见"] ("" -> [])."""
  out, start = [], 0
  for i, c in enumerate(text):
    if c in ends:
      out.append(text[start:i + 1])
      start = i + 1
  if start < len(text):
    out.append(text[start:])
  return out


def char_example(text, guid="text"):
  """A raw text as an example of one-character words (the serving layout of character taggers)."""
  return TaggingExample(guid, list(text))


def write_conll_predictions(path, examples, predicted_tags):
  """Writes "token gold predicted" lines, a blank line after each example (temp name, then rename)."""
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    for example, predicted in zip(examples, predicted_tags):
      gold = example.tags or ["O"] * len(example.words)
      f.write("".join("%s %s %s\n" % row for row in zip(example.words, gold, predicted)) + "\n")
  os.replace(path + ".tmp", path)
  return path
