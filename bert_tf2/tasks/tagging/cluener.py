"""CLUENER2020 (Xu et al., 2020) as CLUE distributes it, and its leaderboard submission file.

    processor = CluenerProcessor()
    train = processor.get_train_examples("cluener_public")      # train.json -> BIOES-tagged examples
    processor.write_predictions("out/", test, predicted_tags)    # out/cluener_predict.json

run_ner.py's `--task_name=cluener`: `{train,dev,test}.json`, one JSON object a line, `{"text": ..., "label":
{"address": {"台湾": [[15, 16]]}, ...}}` with inclusive character offsets, ten types; test rows
have `id` and `text` only. Tagged BIOES; predictions: `cluener_predict.json`, the CLUE submission
file, `{"id": ..., "label": {type: {span text: [[start, end], ...]}}}` a line in test.json's order.

Every error is one ValueError "file:line: what", raised while reading, before anything is written.
"""

import dataclasses
import json
import os
import typing

from bert_tf2.core import checks
from bert_tf2.tasks.tagging import data, metrics

BIOES = "BIES"
CLUENER_TYPES = ("address", "book", "company", "game", "government", "movie", "name", "organization", "position",
                 "scene")


@dataclasses.dataclass
class CluenerExample(data.TaggingExample):
  """A CLUENER row; `row_id`: its "id" (test.json), else its 0-based row number."""
  row_id: typing.Any = None


def _fail(path, number, message):
  raise ValueError("%s:%d: %s" % (path, number, message))


def read_cluener(path, split):
  """[TaggingExample] of a CLUENER2020 JSON-lines file, BIOES tags (None for test rows without label)."""
  examples = []
  for number, line in enumerate(checks.read_text(path).split("\n"), 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      _fail(path, number, "not valid JSON (%s)" % e.msg)
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
      _fail(path, number, "expected an object with a \"text\" string")
    text, label = row["text"], row.get("label")
    tags = None
    if label is None and split != "test":
      _fail(path, number, "no \"label\" (only test.json rows may have none)")
    if label is not None:
      tags = _cluener_tags(path, number, text, label)
    row_id = row.get("id", len(examples))
    examples.append(CluenerExample(str(row_id), list(text), tags, "%s:%d" % (path, number), row_id))
  return examples


def _cluener_tags(path, number, text, label):
  """BIOES tags of `text` from a CLUENER label dict; ValueError on unknown types, bad or overlapping spans."""
  if not isinstance(label, dict):
    _fail(path, number, "\"label\" must be an object {type: {span text: [[start, end], ...]}}")
  tags = ["O"] * len(text)
  for kind, spans in label.items():
    if kind not in CLUENER_TYPES:
      _fail(path, number, "label type %r is not one of %s" % (kind, ", ".join(CLUENER_TYPES)))
    if not isinstance(spans, dict):
      _fail(path, number, "label %r must map span texts to [[start, end], ...]" % kind)
    for span, offsets in spans.items():
      if not isinstance(offsets, list) or not all(
          isinstance(o, list) and len(o) == 2 and all(type(i) is int for i in o) for o in offsets):
        _fail(path, number, "%s %r: offsets must be [[start, end], ...] integers" % (kind, span))
      for start, end in offsets:
        if not 0 <= start <= end < len(text):
          _fail(path, number, "%s %r at [%d, %d] is outside the text (%d characters)" % (kind, span, start, end,
                                                                                        len(text)))
        if text[start:end + 1] != span:
          _fail(path, number, "%s %r at [%d, %d] does not match the text there (%r)" % (
              kind, span, start, end, text[start:end + 1]))
        if any(t != "O" for t in tags[start:end + 1]):
          _fail(path, number, "%s %r at [%d, %d] overlaps another entity" % (kind, span, start, end))
        if start == end:
          tags[start] = "S-" + kind
        else:
          tags[start:end + 1] = ["B-" + kind] + ["I-" + kind] * (end - start - 1) + ["E-" + kind]
  return tags


def cluener_label(text, tags):
  """The CLUENER label dict of predicted tags: {type: {span text: [[start, end], ...]}}, inclusive ends."""
  label = {}
  for kind, start, end in metrics.entity_spans(tags):
    label.setdefault(kind, {}).setdefault(text[start:end], []).append([start, end - 1])
  return label


class CluenerProcessor(data.SplitReader):
  """CLUENER2020's train.json / dev.json / test.json; BIOES over its ten types."""

  name = "cluener"
  scheme = "BIOES"

  def __init__(self, labels=None):
    self._labels = ["O"] + ["%s-%s" % (p, k) for k in CLUENER_TYPES for p in BIOES]
    self._cache = {}

  def _read(self, data_dir, split):
    path = os.path.join(data_dir, split + ".json")
    if path not in self._cache:
      self._cache[path] = read_cluener(path, split)
    return self._cache[path]

  def set_labels(self, labels, source):
    if list(labels) != self._labels:
      raise ValueError("%s: its tags are not CLUENER's BIOES tags over %s" % (source, ", ".join(CLUENER_TYPES)))

  def get_labels(self):
    return list(self._labels)

  def write_predictions(self, output_dir, examples, predicted_tags):
    """cluener_predict.json (CLUE's submission layout), written to a temporary name then renamed."""
    path = os.path.join(output_dir, "cluener_predict.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      for example, tags in zip(examples, predicted_tags):
        row = {"id": example.row_id, "label": cluener_label("".join(example.words), tags)}
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)
    return path
