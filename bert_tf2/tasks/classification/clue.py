"""CLUE's classification tasks, read from the JSON-lines files CLUE distributes, and its submission files.

    processor = get_processor("tnews")                  # tnews_public/{train,dev,test}.json
    examples = processor.get_test_examples(data_dir)    # guid: the row's "id", else its 0-based row index
    name, text = processor.submission(examples, ["102", ...])   # "tnews11_predict.json", one JSON a line

Each task reads what CLUE's baselines read (CLUEbenchmark/CLUE baselines/models/classifier_utils.py),
with their label lists and inputs:

  task     fields read                                  text_a / text_b                 labels
  tnews    sentence, label (label_desc/label_des,       sentence                        100..116 but 105, 111
           keywords unused, as the baselines)
  iflytek  sentence, label (label_des unused)           sentence                        0..118
  afqmc    sentence1, sentence2, label                  sentence1 / sentence2           0, 1
  ocnli    sentence1, sentence2, label                  sentence1 / sentence2           contradiction, entailment,
  cmnli    (rows labelled "-" skipped, counted, logged)                                 neutral
  csl      keyword [list], abst, label                  " ".join(keyword) / abst        0, 1
  wsc      text, target {span1_text, span1_index,       text with _query_ and [pronoun] true, false
           span2_text, span2_index}                     marked, as the baselines

Test rows have no label. The submission file, in CLUE 1.1's names (tnews11_predict.json,
cluewsc11_predict.json, afqmc_predict.json, iflytek_predict.json, ocnli_50k_predict.json,
cmnli_predict.json, csl_predict.json), holds `{"id": ..., "label": ...}` a line in test.json's order
(TNEWS adds "label_desc"). OCNLI's train file is train.json, else train.50k.json (ocnli_public.zip).
Bad input is a ValueError "file:line: ..." (malformed JSON, a missing field, a label not in the list).
"""

import json
import os

from absl import logging

from bert_tf2.core import checks
from bert_tf2.core.features import InputExample
from bert_tf2.tasks.classification.processors import DataProcessor, register_processor

TNEWS_LABEL_DESC = {
    "100": "news_story", "101": "news_culture", "102": "news_entertainment", "103": "news_sports",
    "104": "news_finance", "106": "news_house", "107": "news_car", "108": "news_edu", "109": "news_tech",
    "110": "news_military", "112": "news_travel", "113": "news_world", "114": "news_stock",
    "115": "news_agriculture", "116": "news_game"}
NLI_LABELS = ("contradiction", "entailment", "neutral")
NO_MAJORITY = "-"  # OCNLI / CMNLI rows whose annotators did not agree


def read_json_lines(path, errors="strict"):
  """[(line number, dict)] of a JSON-lines file, blank lines skipped; ValueError "path:line: ..." on a
  line that is not a JSON object, "path: ... empty" when there is none."""
  rows = []
  for number, line in enumerate(checks.read_text(path, errors).split("\n"), 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      raise ValueError("%s:%d: malformed JSON: %s (column %d)" % (path, number, e.msg, e.colno)) from None
    if not isinstance(row, dict):
      raise ValueError("%s:%d: expected a JSON object, found %s" % (path, number, type(row).__name__))
    rows.append((number, row))
  if not rows:
    raise ValueError("%s: the file is empty" % path)
  return rows


def field(row, key, where, kind=str):
  """row[key], which must be a `kind`; ValueError naming `where` ("file:line") when it is missing or not."""
  if key not in row:
    raise ValueError("%s: no %r field (found: %s)" % (where, key, ", ".join(sorted(row))))
  value = row[key]
  if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
    raise ValueError("%s: %r must be a %s, found %r" % (where, key, getattr(kind, "__name__", kind), value))
  return value


def label_string(value, where):
  """A label cell as the baselines compare it: "102" for 102 or "102", "true" for true."""
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, (str, int)):
    return str(value)
  raise ValueError("%s: \"label\" must be a string, found %r" % (where, value))


def split_path(data_dir, names):
  """The first of the file `names` that exists in data_dir (the first when none does: reading it then
  fails as "file not found"); names after the first are the layouts other distributions use."""
  for name in names:
    if os.path.isfile(os.path.join(data_dir, name)):
      return os.path.join(data_dir, name)
  if len(names) > 1:
    raise ValueError("%s: file not found (nor %s)" % (os.path.join(data_dir, names[0]), ", ".join(names[1:])))
  return os.path.join(data_dir, names[0])


class ClueProcessor(DataProcessor):
  """A CLUE task's {train,dev,test}.json; a subclass says which fields make text_a / text_b."""

  labels = ()
  submission_file = None
  split_files = {"train": ("train.json",), "dev": ("dev.json",), "test": ("test.json",)}
  skips_no_majority = False  # OCNLI / CMNLI: rows labelled "-" are dropped, as the baselines

  def texts(self, row, where):
    """(text_a, text_b or None) of one row."""
    raise NotImplementedError()

  def get_labels(self):
    return list(self.labels)

  def path(self, data_dir, split):
    return split_path(data_dir, self.split_files[split])

  def _read(self, data_dir, split):
    path = self.path(data_dir, split)
    examples, skipped = [], 0
    for index, (line, row) in enumerate(read_json_lines(path, self.errors)):
      where = "%s:%d" % (path, line)
      label = None
      if split != "test":  # CLUE's test rows have no label; the baselines ignore one if there is
        label = label_string(field(row, "label", where, object), where)
        if self.skips_no_majority and label.strip() == NO_MAJORITY:
          skipped += 1
          continue
        if label not in self.labels:
          raise ValueError("%s: label %r is not one of %s's labels (%s)"
                           % (where, label, self.name, ", ".join(self.labels)))
      text_a, text_b = self.texts(row, where)
      examples.append(InputExample(guid=row.get("id", index), text_a=text_a, text_b=text_b, label=label,
                                   source=where))
    if skipped:
      logging.info("%s: skipped %d rows labelled %r (no majority label), as CLUE's baselines do",
                   path, skipped, NO_MAJORITY)
    if not examples:
      raise ValueError("%s: no examples (every row is labelled %r)" % (path, NO_MAJORITY))
    return examples

  def submission_row(self, example, label):
    return {"id": example.guid, "label": label}

  def submission(self, examples, labels):
    """(CLUE's submission file name, its text): one JSON object a line, in test.json's order."""
    if len(examples) != len(labels):
      raise ValueError("%d predictions for %d test examples" % (len(labels), len(examples)))
    return self.submission_file, "".join(json.dumps(self.submission_row(e, l), ensure_ascii=False) + "\n"
                                         for e, l in zip(examples, labels))


class _SentenceProcessor(ClueProcessor):
  def texts(self, row, where):
    return field(row, "sentence", where), None


class _PairProcessor(ClueProcessor):
  def texts(self, row, where):
    return field(row, "sentence1", where), field(row, "sentence2", where)


class TnewsProcessor(_SentenceProcessor):
  """TNEWS': news titles in 15 classes; the label description is `label_desc` (CLUE's README: `label_des`)."""
  name = "tnews"
  labels = tuple(TNEWS_LABEL_DESC)
  submission_file = "tnews11_predict.json"

  def submission_row(self, example, label):
    return {"id": example.guid, "label": label, "label_desc": TNEWS_LABEL_DESC[label]}


class IflytekProcessor(_SentenceProcessor):
  """IFLYTEK': app descriptions in 119 classes "0".."118"."""
  name = "iflytek"
  labels = tuple(str(i) for i in range(119))
  submission_file = "iflytek_predict.json"


class AfqmcProcessor(_PairProcessor):
  """AFQMC: question pairs, "1" when they mean the same."""
  name = "afqmc"
  labels = ("0", "1")
  submission_file = "afqmc_predict.json"


class OcnliProcessor(_PairProcessor):
  """OCNLI: premise / hypothesis; ocnli_public.zip's train file is train.50k.json."""
  name = "ocnli"
  labels = NLI_LABELS
  submission_file = "ocnli_50k_predict.json"
  split_files = dict(ClueProcessor.split_files, train=("train.json", "train.50k.json"))
  skips_no_majority = True


class CmnliProcessor(_PairProcessor):
  """CMNLI: XNLI + MNLI in Chinese."""
  name = "cmnli"
  labels = NLI_LABELS
  submission_file = "cmnli_predict.json"
  skips_no_majority = True


class CslProcessor(ClueProcessor):
  """CSL: are all keywords the abstract's own? text_a: the keywords joined by spaces; text_b: the abstract."""
  name = "csl"
  labels = ("0", "1")
  submission_file = "csl_predict.json"

  def texts(self, row, where):
    keywords = field(row, "keyword", where, list)
    if not all(isinstance(k, str) for k in keywords):
      raise ValueError("%s: \"keyword\" must be a list of strings, found %r" % (where, keywords))
    return " ".join(keywords), field(row, "abst", where)


class WscProcessor(ClueProcessor):
  """CLUEWSC2020: does the pronoun (span2) refer to the noun (span1)?

  As the baselines: the text with the noun between underscores and the pronoun between square
  brackets, `这时候放在_床_上枕头旁边的手机响了，……现在[它]突然响了。`; a span whose text is not at
  its index is a ValueError naming the line.
  """
  name = "wsc"
  labels = ("true", "false")
  submission_file = "cluewsc11_predict.json"

  def texts(self, row, where):
    text = field(row, "text", where)
    target = field(row, "target", where, dict)
    spans = []
    for span in ("span1", "span2"):
      span_text, index = field(target, span + "_text", where), field(target, span + "_index", where, int)
      if text[index:index + len(span_text)] != span_text:
        raise ValueError("%s: target %s_text %r is not at %s_index %d of the text (found %r)"
                         % (where, span, span_text, span, index, text[index:index + len(span_text)]))
      spans.append((index, span_text))
    (query_index, query), (pronoun_index, pronoun) = spans
    chars = list(text)
    if pronoun_index > query_index:  # the baselines' four insertions, each index shifted by the earlier ones
      inserts = [(query_index, "_"), (query_index + len(query) + 1, "_"), (pronoun_index + 2, "["),
                 (pronoun_index + len(pronoun) + 3, "]")]
    else:
      inserts = [(pronoun_index, "["), (pronoun_index + len(pronoun) + 1, "]"), (query_index + 2, "_"),
                 (query_index + len(query) + 3, "_")]
    for index, mark in inserts:
      chars.insert(index, mark)
    return "".join(chars), None


PROCESSORS = (TnewsProcessor, IflytekProcessor, AfqmcProcessor, OcnliProcessor, CmnliProcessor, CslProcessor,
              WscProcessor)
for _cls in PROCESSORS:
  register_processor(_cls, replace=False)  # a processor registered before under the same name stays
