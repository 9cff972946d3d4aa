"""Data processors: a task's files -> `InputExample`s, by name as run_classifier.py's `--task_name`.

    processor = get_processor("mrpc")                   # the original's cola, mnli, mrpc, xnli
    processor = get_processor("csv", label_column="label", text_a_column="s1", text_b_column="s2")
    examples = processor.get_train_examples(data_dir)   # [InputExample]
    processor.get_labels()                              # ["0", "1"]

Generic processors need no code: "tsv"/"csv" read `{train,dev,test}.{tsv,csv}` with chosen columns
(indexes, or header names when `has_header`) and take the label set from the train file;
"jsonl_multilabel" reads `{"text": ..., "text_b": ..., "label": [...]}` lines.
Chinese benchmarks as distributed: CLUE's tnews, iflytek, afqmc, ocnli, cmnli, csl, wsc (`clue.py`,
which also writes CLUE's submission files) and lcqmc, bq, chnsenticorp, thucnews (`chinese_tsv.py`),
registered when those modules are imported (as `classification.task` does).
Your own processor: subclass `DataProcessor` in any module and pass `--processor_module=my.module`
(its processors are registered under their `name`, else the lower-cased class name without
"Processor"), or declare an entry point in the group "bert_tf2.tasks.classification.processors".
"""

import csv
import importlib
import io
import inspect
import json
import os

from bert_tf2.core.features import InputExample
from bert_tf2.core import checks
from bert_tf2.tasks.base import SplitReader
from bert_tf2.tokenization import convert_to_unicode

ENTRY_POINT_GROUP = "bert_tf2.tasks.classification.processors"
_REGISTRY = {}


class DataProcessor(SplitReader):
  """Base class: reads a task's train/dev/test files into InputExamples (`get_*_examples`, or `_read`)."""

  name = None
  family = "classifier"  # the task family that fine-tunes on these examples (`tasks.registry.FAMILIES`)
  is_multi_label = False
  errors = "strict"  # non-UTF-8 input: an error naming file and line, or "replace"/"ignore"

  def get_labels(self):
    raise NotImplementedError()

  def submission(self, examples, labels):
    """(file name, text) of the benchmark's submission file for `labels`, the predicted label
    strings of the test `examples` in order; None for a task without one (the default). The
    classification task writes it into output_dir beside test_results.tsv."""
    del examples, labels
    return None

  def _read_tsv(self, input_file, quotechar=None, delimiter="\t"):
    """Rows of a delimited UTF-8 file (row i is line i + 1 when quotechar is None).

    Raises ValueError naming the file when it is missing or has no rows, and naming the line of
    the first non-UTF-8 byte unless `self.errors` is "replace" or "ignore".
    """
    text = checks.read_text(input_file, self.errors)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar,
                           quoting=csv.QUOTE_NONE if quotechar is None else csv.QUOTE_MINIMAL))
    if not any(rows):
      raise ValueError("%s: the file is empty" % input_file)
    return rows


def cell(rows_path, row, index, line):
  """Cell `index` of a row read from line `line` of `rows_path`; ValueError naming both when it is missing."""
  if index >= len(row):
    raise ValueError("%s:%d: expected at least %d columns, found %d"
                     % (rows_path, line, index + 1, len(row)))
  return convert_to_unicode(row[index])


def _examples(path, set_type, rows, a, b=None, label=None, skip_header=True, fixed_label=None):
  """InputExamples from `rows` with text_a/text_b/label at column indexes a, b, label."""
  examples = []
  for i, row in enumerate(rows):
    if (skip_header and i == 0) or not row:
      continue
    line = i + 1
    examples.append(InputExample(
        guid="%s-%d" % (set_type, i), text_a=cell(path, row, a, line),
        text_b=None if b is None else cell(path, row, b, line),
        label=fixed_label if label is None else cell(path, row, label, line),
        source="%s:%d" % (path, line)))
  return examples


class ColaProcessor(DataProcessor):
  """CoLA: train/dev.tsv without header (label col 1, sentence col 3); test.tsv with header (col 1)."""
  name = "cola"

  def get_train_examples(self, data_dir):
    path = os.path.join(data_dir, "train.tsv")
    return _examples(path, "train", self._read_tsv(path), a=3, label=1, skip_header=False)

  def get_dev_examples(self, data_dir):
    path = os.path.join(data_dir, "dev.tsv")
    return _examples(path, "dev", self._read_tsv(path), a=3, label=1, skip_header=False)

  def get_test_examples(self, data_dir):
    path = os.path.join(data_dir, "test.tsv")
    return _examples(path, "test", self._read_tsv(path), a=1, fixed_label="0")

  def get_labels(self):
    return ["0", "1"]


class MrpcProcessor(DataProcessor):
  """MRPC: {train,dev,test}.tsv with header; label col 0, sentences cols 3 and 4."""
  name = "mrpc"

  def _read(self, data_dir, set_type):
    path = os.path.join(data_dir, set_type + ".tsv")
    label = None if set_type == "test" else 0
    return _examples(path, set_type, self._read_tsv(path), a=3, b=4, label=label, fixed_label="0")

  def get_labels(self):
    return ["0", "1"]


class MnliProcessor(DataProcessor):
  """MultiNLI: train.tsv, dev_matched.tsv, test_matched.tsv; sentences cols 8, 9; label last."""
  name = "mnli"

  def _get(self, path, set_type):
    rows = self._read_tsv(path)
    examples = _examples(path, set_type, rows, a=8, b=9, label=None, fixed_label="contradiction")
    for example, row in zip(examples, (r for i, r in enumerate(rows) if i and r)):
      example.guid = "%s-%s" % (set_type, convert_to_unicode(row[0]))
      if set_type != "test":
        example.label = convert_to_unicode(row[-1])
    return examples

  def get_train_examples(self, data_dir):
    return self._get(os.path.join(data_dir, "train.tsv"), "train")

  def get_dev_examples(self, data_dir):
    return self._get(os.path.join(data_dir, "dev_matched.tsv"), "dev_matched")

  def get_test_examples(self, data_dir):
    return self._get(os.path.join(data_dir, "test_matched.tsv"), "test")

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]


class XnliProcessor(DataProcessor):
  """XNLI: train from multinli/multinli.train.<language>.tsv, dev/test from xnli.{dev,test}.tsv."""
  name = "xnli"

  def __init__(self, language="zh"):
    self.language = language

  def get_train_examples(self, data_dir):
    path = os.path.join(data_dir, "multinli", "multinli.train.%s.tsv" % self.language)
    examples = _examples(path, "train", self._read_tsv(path), a=0, b=1, label=2)
    for example in examples:
      if example.label == "contradictory":
        example.label = "contradiction"
    return examples

  def _get(self, path, set_type):
    rows = self._read_tsv(path)
    examples = _examples(path, set_type, rows, a=6, b=7, label=1)
    return [e for e, row in zip(examples, (r for i, r in enumerate(rows) if i and r))
            if convert_to_unicode(row[0]) == self.language]

  def get_dev_examples(self, data_dir):
    return self._get(os.path.join(data_dir, "xnli.dev.tsv"), "dev")

  def get_test_examples(self, data_dir):
    return self._get(os.path.join(data_dir, "xnli.test.tsv"), "test")

  def get_labels(self):
    return ["contradiction", "entailment", "neutral"]


def _sorted_labels(labels):
  labels = set(labels)
  if all(label.lstrip("-").isdigit() for label in labels):
    return sorted(labels, key=int)
  return sorted(labels)


class _SplitFileProcessor(DataProcessor):
  """A processor reading `<split>` files with `_get(data_dir, split)`; labels default to train's."""

  def __init__(self, labels=None):
    self.labels = list(labels) if labels else None
    self._train_dir = None

  def _get(self, data_dir, set_type):
    raise NotImplementedError()

  def _example_labels(self, example):
    """The label strings of one example."""
    return [example.label]

  def _read(self, data_dir, set_type):
    examples = self._get(data_dir, set_type)
    if set_type == "train":
      self._train_dir = data_dir
    return examples

  def get_labels(self):
    if self.labels is None:
      if self._train_dir is None:
        raise ValueError("the label set comes from the train file: read it first or pass labels")
      examples = self.get_train_examples(self._train_dir)
      self.labels = _sorted_labels(label for e in examples for label in self._example_labels(e))
    return self.labels


_INDEX_COLUMNS = ("index", "id")  # the first column of GLUE's test files (QQP: "id")


class DelimitedProcessor(_SplitFileProcessor):
  """Any TSV/CSV: `{train,dev,test}.<extension>` with chosen label / text_a / text_b columns.

  Args:
    delimiter: "\\t" or "," (or any one character).
    has_header: bool, the first row names the columns (and is skipped).
    label_column, text_a_column, text_b_column: int indexes, or header names when has_header;
      text_b_column None for single-sentence tasks. A test file may lack the label column.
    labels: list of label strings; default: those of the train file, sorted (numerically if ints).
  """

  def __init__(self, delimiter="\t", has_header=True, label_column=0, text_a_column=1,
               text_b_column=None, labels=None, extension=None, quotechar='"'):
    self.delimiter = delimiter
    self.has_header = has_header
    super().__init__(labels)
    self.columns = {"label": label_column, "text_a": text_a_column, "text_b": text_b_column}
    self.extension = extension or ("csv" if delimiter == "," else "tsv")
    self.quotechar = quotechar

  def _index(self, path, header, key, set_type):
    column = self.columns[key]
    if column is None or isinstance(column, int) or str(column).lstrip("-").isdigit():
      return None if column is None else int(column)
    if header is None:
      raise ValueError("%s: column %r is a name but has_header is false" % (path, column))
    if column in header:
      return header.index(column)
    if key == "label" and set_type == "test":
      return None  # an unlabeled test file
    raise ValueError("%s:1: no column %r in the header (%s)" % (path, column, ", ".join(header)))

  def _has_glue_index_column(self, data_dir, first_row):
    """True when a test file starts with an `index` column that train's layout does not have."""
    if not first_row or first_row[0].strip().lower() not in _INDEX_COLUMNS:
      return False
    if not self.has_header:
      return True
    by_index = [c for c in self.columns.values() if c is not None and str(c).lstrip("-").isdigit()]
    if not by_index:
      return False  # columns chosen by name are found in any header
    train_path = os.path.join(data_dir, "train.%s" % self.extension)
    if not os.path.isfile(train_path):
      raise ValueError("%s:1: starts with an %r column; give the columns by name, or the train file "
                       "%s that the indexes refer to" % (os.path.join(data_dir, "test." + self.extension),
                                                         first_row[0], train_path))
    train_header = self._read_tsv(train_path, quotechar=self.quotechar, delimiter=self.delimiter)[0]
    return not train_header or train_header[0] != first_row[0]

  def _test_columns(self, data_dir, path, test_header):
    """Column indexes in a GLUE-style test file, whose `index` column shifts train's layout.

    GLUE test files put an `index` column first and drop the label: `index sentence` beside
    SST-2's train `sentence label`, `index #1 ID ...` beside MRPC's `Quality #1 ID ...`, and
    `index sentence` beside CoLA's header-less `source label mark sentence`. Indexes given for the
    train layout are mapped through the train header's names; with no train header, the text
    columns are the test header's columns after `index`, in order.
    """
    if not self.has_header:
      texts = [i for i, name in enumerate(test_header) if name.strip().lower() not in _INDEX_COLUMNS]
      wanted = ["text_a"] + (["text_b"] if self.columns["text_b"] is not None else [])
      if len(texts) < len(wanted):
        raise ValueError("%s:1: expected %d text columns after %r, found %d"
                         % (path, len(wanted), test_header[0], len(texts)))
      return dict(dict.fromkeys(self.columns), **dict(zip(wanted, texts)))
    train_path = os.path.join(data_dir, "train.%s" % self.extension)
    train_header = self._read_tsv(train_path, quotechar=self.quotechar, delimiter=self.delimiter)[0]
    cols = {}
    for key, column in self.columns.items():
      index = self._index(train_path, train_header, key, "train")
      if index is None:
        cols[key] = None
      elif index >= len(train_header):
        raise ValueError("%s:1: no column %d (the header has %d)" % (train_path, index, len(train_header)))
      elif train_header[index] in test_header:
        cols[key] = test_header.index(train_header[index])
      elif key == "label":
        cols[key] = None  # an unlabeled test file
      else:
        raise ValueError("%s:1: no column %r (column %d of %s) in the header (%s)"
                         % (path, train_header[index], index, train_path, ", ".join(test_header)))
    return cols

  def _get(self, data_dir, set_type):
    path = os.path.join(data_dir, "%s.%s" % (set_type, self.extension))
    rows = self._read_tsv(path, quotechar=self.quotechar, delimiter=self.delimiter)
    header = rows[0] if self.has_header else None
    skip_header = self.has_header
    if set_type == "test" and self._has_glue_index_column(data_dir, rows[0]):
      cols = self._test_columns(data_dir, path, rows[0])
      skip_header = True
    else:
      cols = {key: self._index(path, header, key, set_type) for key in self.columns}
    width = len(rows[0])
    for i, row in enumerate(rows):
      if row and len(row) != width:
        raise ValueError("%s:%d: expected %d columns (as line 1), found %d" % (path, i + 1, width, len(row)))
    label = cols["label"]
    if set_type == "test" and label is not None and label >= width:
      label = None  # an unlabeled test file
    examples = _examples(path, set_type, rows, a=cols["text_a"], b=cols["text_b"], label=label,
                         skip_header=skip_header)
    if not examples:
      raise ValueError("%s: no examples (only a header?)" % path)
    return examples


class CsvProcessor(DelimitedProcessor):
  name = "csv"

  def __init__(self, **kwargs):
    kwargs.setdefault("delimiter", ",")
    super().__init__(**kwargs)


class TsvProcessor(DelimitedProcessor):
  name = "tsv"


class JsonlMultiLabelProcessor(_SplitFileProcessor):
  """`{train,dev,test}.jsonl`: one `{"text": str, "label": [str, ...]}` (optional "text_b") a line."""
  name = "jsonl_multilabel"
  is_multi_label = True

  def _get(self, data_dir, set_type):
    path = os.path.join(data_dir, set_type + ".jsonl")
    examples = []
    for line_number, line in enumerate(checks.read_text(path, self.errors).split("\n"), 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError("%s:%d: invalid JSON: %s" % (path, line_number, e.msg)) from None
      if not isinstance(record, dict) or "text" not in record:
        raise ValueError("%s:%d: expected an object with a \"text\" key" % (path, line_number))
      label = record.get("label")
      if label is not None and not isinstance(label, list):
        raise ValueError("%s:%d: \"label\" must be a list, got %r" % (path, line_number, label))
      examples.append(InputExample(
          "%s-%d" % (set_type, line_number), record["text"], record.get("text_b"),
          None if label is None else [str(x) for x in label], "%s:%d" % (path, line_number)))
    if not examples:
      raise ValueError("%s: the file is empty" % path)
    return examples

  def _example_labels(self, example):
    return example.label or []


def register_processor(cls, name=None, replace=True):
  """Registers a DataProcessor subclass under `name` (default: its `name` or class name); with
  replace=False, a processor already registered under that name stays."""
  name = (name or cls.name or cls.__name__.lower().replace("processor", "")).lower()
  if replace or name not in _REGISTRY:
    _REGISTRY[name] = cls
  return cls


BUILTIN_PROCESSORS = (ColaProcessor, MnliProcessor, MrpcProcessor, XnliProcessor, TsvProcessor, CsvProcessor,
                      JsonlMultiLabelProcessor)


def load_processor_module(module_name):
  """Imports `module_name` and registers every DataProcessor subclass defined in it."""
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise ValueError("processor module %s: cannot import it: %s" % (module_name, e)) from None
  found = [obj for obj in vars(module).values() if inspect.isclass(obj)
           and issubclass(obj, DataProcessor) and obj.__module__ == module.__name__]
  for cls in found:
    register_processor(cls)
  return [c.name or c.__name__ for c in found]


def _load_entry_points():
  from importlib import metadata
  for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
    if entry.name.lower() not in _REGISTRY:
      register_processor(entry.load(), entry.name)


def known_tasks():
  """Sorted task names: the built-in processors, entry points and those registered so far.

  The registry is filled here, on first use, not when the module is imported.
  """
  for cls in BUILTIN_PROCESSORS:
    _REGISTRY.setdefault(cls.name, cls)  # a processor registered under a built-in name wins
  _load_entry_points()
  return sorted(_REGISTRY)


def get_processor(task_name, **options):
  """An instance of the processor registered as `task_name`; options go to its constructor.

  Options its constructor does not take are dropped (so the scripts can pass the generic flags).
  """
  known = known_tasks()
  cls = _REGISTRY.get(task_name.lower())
  if cls is None:
    raise ValueError("unknown task_name %r; known tasks: %s (add yours with load_processor_module or an "
                     "entry point in the group bert_tf2.tasks.classification.processors)"
                     % (task_name, ", ".join(known)))
  # The class's own signature: a processor without __init__ takes no options (its inherited
  # `object.__init__(self, *args, **kwargs)` would seem to take them all and then raise TypeError).
  accepted = inspect.signature(cls).parameters
  errors = options.pop("errors", None)
  if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
    options = {k: v for k, v in options.items() if k in accepted}
  processor = cls(**{k: v for k, v in options.items() if v is not None})
  if errors is not None:
    processor.errors = errors
  return processor

