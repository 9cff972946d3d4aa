"""Chinese TSV corpora as PaddleNLP / ERNIE / ChineseGLUE distribute them: LCQMC, BQ, ChnSentiCorp, THUCNews.

    processor = get_processor("chnsenticorp")          # ChnSentiCorp/{train,dev,test}.tsv
    examples = processor.get_test_examples(data_dir)    # guid: the qid column, else the 0-based row index
    name, text = processor.submission(examples, ["1", "0", ...])   # "chnsenticorp_predict.tsv"

  task          columns without a header        files ({split} = train, dev, test)          labels
  lcqmc, bq     text_a, text_b, label           {split}.tsv, else {split}.txt               0, 1
  chnsenticorp  label, text_a                   {split}.tsv                                 0, 1
  thucnews      label, text_a                   {split}.tsv, {split}.txt, cnews.{train,     the train file's
                                                val,test}.txt                               (sorted)

A first row whose cells include a column name (text_a, text_b, label, qid, sentence1, query, ...) is
a header, and the columns are then found by name: ERNIE's LCQMC (`text_a text_b label`), PaddleNLP's
ChnSentiCorp (train `label text_a`, dev `qid label text_a`, test `qid text_a`). Without a header,
a test file may lack the label column (PaddleNLP's LCQMC / BQ test.tsv: `text_a text_b`). Test
labels are ignored. Fields are split on tabs only (no quoting), as those loaders do.

There is no leaderboard file for these; `--do_predict` writes `{task}_predict.tsv` beside
test_results.tsv: a header `id<TAB>label`, then the test rows' id (qid, else the row index) and
predicted label, in the test file's order.
"""

import os

from bert_tf2.core.features import InputExample
from bert_tf2.tasks.classification.clue import split_path
from bert_tf2.tasks.classification.processors import _sorted_labels, DataProcessor, register_processor

# Header names -> the column they hold.
COLUMN_NAMES = {
    "text_a": ("text_a", "sentence1", "query", "question1", "text", "sentence", "review"),
    "text_b": ("text_b", "sentence2", "title", "question2"),
    "label": ("label",),
    "id": ("qid", "id", "index"),
}
_ALL_NAMES = {name for names in COLUMN_NAMES.values() for name in names}


def _extensions(*names):
  return {split: tuple(n.format(split=split) for n in names) for split in ("train", "dev", "test")}


class TsvCorpusProcessor(DataProcessor):
  """A tab-separated corpus with `positional` columns when headerless, named columns under a header."""

  positional = ("label", "text_a")
  labels = None  # None: the train file's, sorted
  split_files = _extensions("{split}.tsv", "{split}.txt")

  def __init__(self):
    self._train_labels = None

  def get_train_examples(self, data_dir):
    examples = self._read(data_dir, "train")
    self._train_labels = _sorted_labels(e.label for e in examples)
    return examples

  def get_labels(self):
    if self.labels is not None:
      return list(self.labels)
    if self._train_labels is None:
      raise ValueError("the label set comes from the train file: read it first")
    return list(self._train_labels)

  def _columns(self, path, first_row, split):
    """({column: index}, whether the first row is a header)."""
    cells = [c.strip().lower() for c in first_row]
    if any(c in _ALL_NAMES for c in cells):
      columns = {}
      for key, names in COLUMN_NAMES.items():
        found = [i for i, c in enumerate(cells) if c in names]
        if found and (key != "text_b" or "text_b" in self.positional):
          columns[key] = found[0]
      for key in self.positional:
        if key not in columns and not (key == "label" and split == "test"):
          raise ValueError("%s:1: the header (%s) names no %s column (one of: %s)"
                           % (path, ", ".join(first_row), key, ", ".join(COLUMN_NAMES[key])))
      return columns, True
    keys = list(self.positional)
    if split == "test" and len(first_row) == len(keys) - 1:
      keys.remove("label")  # an unlabeled test file
    if len(first_row) != len(keys):
      raise ValueError("%s:1: expected %d tab-separated columns (%s) or a header, found %d"
                       % (path, len(keys), ", ".join(keys), len(first_row)))
    return {key: i for i, key in enumerate(keys)}, False

  def _read(self, data_dir, split):
    path = split_path(data_dir, self.split_files[split])
    rows = self._read_tsv(path)
    columns, has_header = self._columns(path, rows[0], split)
    width = len(rows[0])
    examples = []
    for i, row in enumerate(rows[1:] if has_header else rows, 2 if has_header else 1):
      if not row:
        continue
      where = "%s:%d" % (path, i)
      if len(row) != width:
        raise ValueError("%s: expected %d tab-separated columns (as line 1), found %d" % (where, width, len(row)))
      label = row[columns["label"]].strip() if "label" in columns and split != "test" else None
      if label is not None and self.labels is not None and label not in self.labels:
        raise ValueError("%s: label %r is not one of %s's labels (%s)" % (where, label, self.name,
                                                                          ", ".join(self.labels)))
      guid = row[columns["id"]] if "id" in columns else len(examples)
      examples.append(InputExample(guid=guid, text_a=row[columns["text_a"]],
                                   text_b=row[columns["text_b"]] if "text_b" in columns else None,
                                   label=label, source=where))
    if not examples:
      raise ValueError("%s: no examples (only a header?)" % path)
    return examples

  def submission(self, examples, labels):
    """(`{task}_predict.tsv`, its text): `id<TAB>label` lines after that header, in the test file's order."""
    if len(examples) != len(labels):
      raise ValueError("%d predictions for %d test examples" % (len(labels), len(examples)))
    return "%s_predict.tsv" % self.name, "id\tlabel\n" + "".join(
        "%s\t%s\n" % (e.guid, label) for e, label in zip(examples, labels))


class LcqmcProcessor(TsvCorpusProcessor):
  """LCQMC: question pairs, "1" when they ask the same."""
  name = "lcqmc"
  positional = ("text_a", "text_b", "label")
  labels = ("0", "1")


class BqProcessor(LcqmcProcessor):
  """BQ corpus: bank customer question pairs, laid out as LCQMC."""
  name = "bq"


class ChnSentiCorpProcessor(TsvCorpusProcessor):
  """ChnSentiCorp: reviews, "1" positive."""
  name = "chnsenticorp"
  labels = ("0", "1")
  split_files = _extensions("{split}.tsv")


class ThucnewsProcessor(TsvCorpusProcessor):
  """THUCNews subsets: `label<TAB>text` (gaussic's cnews.{train,val,test}.txt too); labels: the train file's."""
  name = "thucnews"
  split_files = {"train": ("train.tsv", "train.txt", "cnews.train.txt"),
                 "dev": ("dev.tsv", "dev.txt", "cnews.val.txt"),
                 "test": ("test.tsv", "test.txt", "cnews.test.txt")}


PROCESSORS = (LcqmcProcessor, BqProcessor, ChnSentiCorpProcessor, ThucnewsProcessor)
for _cls in PROCESSORS:
  register_processor(_cls, replace=False)  # a processor registered before under the same name stays
