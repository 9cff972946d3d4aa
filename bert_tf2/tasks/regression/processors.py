"""Regression data: sentence pairs with a float score, read by `--task_name` as the classifiers' files.

    processor = get_processor("sts-b")            # GLUE's STS-B: columns by header name
    processor = get_processor("score_pairs")      # LCQMC / ATEC-style score files, layout detected
    examples = processor.get_train_examples(data_dir)   # [InputExample], label: float score

Both are `DataProcessor`s with `family = "regression"`, registered (when this module is imported,
as `bert_tf2.tasks.registry` does) under "sts-b" (also "stsb") and "score_pairs", so
scripts/run_classifier.py --task_name=sts-b fine-tunes a `RegressionTask` unchanged. A test
split may lack its scores: their `label` is None. A score that is not a finite number is a
ValueError "file:line: ..."; a missing file is "file: file not found", as the classifiers'.
"""

import math
import os

from bert_tf2.core.features import InputExample
from bert_tf2.tasks.classification.processors import DataProcessor, cell, register_processor
from bert_tf2.tokenization import convert_to_unicode


def parse_score(cell, path, line):
  """A score cell -> float; ValueError "path:line: ..." when it is not a finite number."""
  try:
    score = float(cell)
  except ValueError:
    score = None
  if score is None or not math.isfinite(score):
    raise ValueError("%s:%d: score %r is not a number" % (path, line, cell))
  return score


def _pair_examples(path, set_type, rows, a, b, score, first=0, guid_column=None):
  """InputExamples of rows[first:] with text_a, text_b, score (None: unlabeled) at column indexes."""
  examples = []
  for i, row in enumerate(rows):
    if i < first or not row:
      continue
    line = i + 1
    label = None if score is None else parse_score(cell(path, row, score, line).strip(), path, line)
    guid = cell(path, row, guid_column, line) if guid_column is not None else str(i)
    examples.append(InputExample(guid="%s-%s" % (set_type, guid), text_a=cell(path, row, a, line),
                                 text_b=cell(path, row, b, line), label=label, source="%s:%d" % (path, line)))
  if not examples:
    raise ValueError("%s: no examples (only a header?)" % path)
  return examples


class _RegressionProcessor(DataProcessor):
  family = "regression"

  def get_labels(self):
    """A regression has no label set: the single output is the score."""
    return []


class StsbProcessor(_RegressionProcessor):
  """GLUE's STS-B: {train,dev,test}.tsv with a header (index, genre, filename, year, old_index,
  source1, source2, sentence1, sentence2, score); test.tsv has no score column. Columns are found
  by header name, so a file with other or reordered metadata columns reads the same."""
  name = "sts-b"

  def _read(self, data_dir, set_type):
    path = os.path.join(data_dir, set_type + ".tsv")
    rows = self._read_tsv(path)
    header = [convert_to_unicode(c).strip() for c in rows[0]]
    columns = {}
    for name in ("sentence1", "sentence2", "score"):
      if name in header:
        columns[name] = header.index(name)
      elif not (name == "score" and set_type == "test"):
        raise ValueError("%s:1: no column %r in the header (%s)" % (path, name, ", ".join(header)))
    return _pair_examples(path, set_type, rows, columns["sentence1"], columns["sentence2"], columns.get("score"),
                          first=1, guid_column=header.index("index") if "index" in header else None)


LAYOUTS = {"a,b,score": (None, 0, 1, 2), "id,a,b,score": (0, 1, 2, 3)}  # (id, text_a, text_b, score) columns
_HEADER_NAMES = ("score", "label", "similarity", "sim", "relatedness")


class ScorePairsProcessor(_RegressionProcessor):
  """Chinese-style score files as distributed: `{train,dev,test}.{tsv,txt,csv}` (the first found).

  Layouts (`layout`, or detected from the train file's first row, else the file's own):
    "a,b,score"     text_a \\t text_b \\t score, no header (LCQMC, BQ Corpus)
    "id,a,b,score"  id \\t text_a \\t text_b \\t label (ATEC)
  A file with one column fewer than its layout is unlabeled (a test split). A first row whose score
  cell is a column name (score, label, similarity, ...) is a header and skipped.

  Args:
    layout: one of `LAYOUTS` or None (detected).
    delimiter: the column separator; None: a tab if the first line has one, else a comma.
    text_a_column, text_b_column, label_column: int column indexes instead of a layout; used only
      when text_b_column is given (scripts/run_classifier.py passes its defaults for the others).
  """
  name = "score_pairs"

  def __init__(self, layout=None, delimiter=None, text_a_column=None, text_b_column=None, label_column=None):
    if layout is not None and layout not in LAYOUTS:
      raise ValueError("layout %r: expected one of %s" % (layout, ", ".join(LAYOUTS)))
    self.layout, self.delimiter = layout, delimiter
    self.columns = None
    if text_b_column is not None:
      self.columns = (None, int(text_a_column if text_a_column is not None else 0), int(text_b_column),
                      int(label_column if label_column is not None else 2))

  @staticmethod
  def _path(data_dir, set_type):
    for extension in ("tsv", "txt", "csv"):
      path = os.path.join(data_dir, "%s.%s" % (set_type, extension))
      if os.path.isfile(path):
        return path
    return os.path.join(data_dir, set_type + ".tsv")  # read_text's "file not found" names it

  def _rows(self, path):
    if self.delimiter is not None:
      return self._read_tsv(path, delimiter=self.delimiter)
    rows = self._read_tsv(path)  # tab-separated, read as is
    if all(len(r) <= 1 for r in rows) and path.endswith(".csv"):
      rows = self._read_tsv(path, quotechar='"', delimiter=",")
    return rows

  def _layout(self, data_dir, path, rows):
    """(id, text_a, text_b, score) column indexes for a file whose rows are `rows`."""
    if self.columns is not None:
      return self.columns
    if self.layout is not None:
      return LAYOUTS[self.layout]
    train_path = self._path(data_dir, "train")
    reference = self._rows(train_path) if os.path.isfile(train_path) and train_path != path else rows
    width = len(reference[0])
    for layout in LAYOUTS.values():
      if len(layout) - (layout[0] is None) == width:
        return layout
    raise ValueError("%s:1: %d columns; a score file has text_a, text_b, score (3) or id, text_a, text_b, "
                     "label (4): give the layout" % (train_path if reference is not rows else path, width))

  def _read(self, data_dir, set_type):
    path = self._path(data_dir, set_type)
    rows = self._rows(path)
    guid, a, b, score = self._layout(data_dir, path, rows)
    if score >= len(rows[0]):
      score = None  # an unlabeled split: one column fewer
      if set_type != "test":
        raise ValueError("%s:1: expected %d columns (with the score), found %d" % (path, len(rows[0]) + 1,
                                                                                  len(rows[0])))
    first = 1 if score is not None and rows[0][score].strip().lower() in _HEADER_NAMES else 0
    return _pair_examples(path, set_type, rows, a, b, score, first=first, guid_column=guid)


register_processor(StsbProcessor, "sts-b")
register_processor(StsbProcessor, "stsb")
register_processor(ScorePairsProcessor, "score_pairs")
