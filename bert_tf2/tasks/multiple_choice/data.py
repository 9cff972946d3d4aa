"""Multiple-choice data: SWAG's CSV files and C3's JSON files -> examples -> [N, num_choices, T] arrays.

    examples = read_split("swag", "data/swag", "train")   # train.csv / val.csv / test.csv
    examples = read_split("c3", "data/c3", "dev")         # dev.json, else CLUE's d-dev.json + m-dev.json
    arrays, truncated = to_arrays(examples, tokenizer, max_seq_length=128, num_choices=4)

An example is a context, a question and 2..num_choices options. Each option becomes the pair
`[CLS] context [SEP] question option [SEP]` (as Hugging Face's run_swag: context = sent1, question =
sent2, option = sent2 + " " + ending_i), truncated as the original's `truncate_seq_pair`. Examples
with fewer options are padded with empty options, which `choice_mask` (0) leaves out of the softmax.
Bad input is a ValueError of one line naming the file and the line (SWAG) or the item (C3).
"""

import csv
import dataclasses
import io
import json
import os
import typing

import numpy as np

from bert_tf2.core import checks, features

TASKS = ("swag", "c3")
SWAG_COLUMNS = ("", "video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source", "ending0", "ending1",
                "ending2", "ending3")
# The split's files in data_dir, first match wins; a tuple is files read one after the other (CLUE's C3).
SPLIT_FILES = {
    "swag": {"train": ["train.csv"], "dev": ["val.csv"], "test": ["test.csv"]},
    "c3": {"train": ["train.json", ("d-train.json", "m-train.json")],
           "dev": ["dev.json", ("d-dev.json", "m-dev.json")],
           "test": ["test.json", "test1.1.json", "test1.0.json"]},
}


@dataclasses.dataclass
class MultipleChoiceExample:
  """One question: options are strings (2..num_choices); label the right option's index (None: test)."""
  guid: typing.Any
  context: str
  question: str
  options: list
  label: typing.Optional[int] = None
  source: str = ""  # "file:line" or "file: item N", for messages


def option_text(question, option):
  """The second segment of an option's pair: the question (SWAG's sent2) and the option, as run_swag."""
  return question + " " + option


def split_files(task_name, data_dir, split):
  """The existing files of `split` ("train", "dev", "test") of `task_name` in `data_dir`; ValueError if none."""
  if task_name not in SPLIT_FILES:
    raise ValueError("task_name: %r is not a multiple-choice task (%s)" % (task_name, ", ".join(TASKS)))
  candidates = SPLIT_FILES[task_name][split]
  for candidate in candidates:
    names = candidate if isinstance(candidate, tuple) else (candidate,)
    paths = [os.path.join(data_dir, name) for name in names if os.path.isfile(os.path.join(data_dir, name))]
    if paths:
      return paths
  described = " or ".join("/".join(c) if isinstance(c, tuple) else c for c in candidates)
  raise ValueError("%s: no %s file of %s (%s)" % (data_dir, split, task_name, described))


def read_split(task_name, data_dir, split, num_choices=4, errors="strict"):
  """[MultipleChoiceExample] of a split; test splits may have no labels."""
  read = read_swag if task_name == "swag" else read_c3
  return [e for path in split_files(task_name, data_dir, split) for e in read(path, num_choices, errors)]


def read_swag(path, num_choices=4, errors="strict"):
  """SWAG's CSV (header `,video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0..3[,label]`)."""
  reader = csv.reader(io.StringIO(checks.read_text(path, errors), newline=""))
  header = next(reader, None)
  if header is None:
    raise ValueError("%s: empty file, expected SWAG's header row" % path)
  has_label = len(header) == len(SWAG_COLUMNS) + 1 and header[-1] == "label"
  if tuple(header[:len(SWAG_COLUMNS)]) != SWAG_COLUMNS or len(header) != len(SWAG_COLUMNS) + has_label:
    raise ValueError("%s:1: not SWAG's header: expected %s[,label], got %s"
                     % (path, ",".join(SWAG_COLUMNS), ",".join(header)))
  endings = [header.index("ending%d" % i) for i in range(4)]
  if num_choices < 4:
    raise ValueError("num_choices: SWAG has 4 endings, got %d" % num_choices)
  examples = []
  for row in reader:
    where = "%s:%d" % (path, reader.line_num)
    if not row:
      continue
    if len(row) != len(header):
      raise ValueError("%s: %d columns, expected %d" % (where, len(row), len(header)))
    label = None
    if has_label:
      try:
        label = int(row[-1])
      except ValueError:
        raise ValueError("%s: label %r is not an integer" % (where, row[-1])) from None
      if not 0 <= label < 4:
        raise ValueError("%s: label %d out of range 0-3" % (where, label))
    examples.append(MultipleChoiceExample(row[0] or len(examples), row[4], row[5], [row[i] for i in endings],
                                          label, where))
  return examples


def _fail(path, index, message):
  raise ValueError("%s: item %d: %s" % (path, index, message))


def read_c3(path, num_choices=4, errors="strict"):
  """C3's JSON: [[[context sentences], [{"question", "choice": [...], "answer"?, "id"?}, ...], doc_id], ...].

  Items are numbered from 1 in messages. `answer` is the right option's text (test files have none).
  """
  text = checks.read_text(path, errors)
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError("%s:%d: malformed JSON: %s" % (path, e.lineno, e.msg)) from None
  if not isinstance(data, list):
    raise ValueError("%s: not a C3 file: expected a JSON list of [sentences, questions, id] items" % path)
  examples = []
  for n, item in enumerate(data, 1):
    if not (isinstance(item, list) and len(item) >= 2 and isinstance(item[0], list) and isinstance(item[1], list)
            and all(isinstance(s, str) for s in item[0])):
      _fail(path, n, "expected [[context sentences], [questions], id]")
    context = "\n".join(item[0])
    doc_id = item[2] if len(item) > 2 else n
    for q, question in enumerate(item[1]):
      if not (isinstance(question, dict) and isinstance(question.get("question"), str)
              and isinstance(question.get("choice"), list) and all(isinstance(c, str) for c in question["choice"])):
        _fail(path, n, "question %d: expected {\"question\": str, \"choice\": [str], \"answer\": str}" % (q + 1))
      options = question["choice"]
      if not 2 <= len(options) <= num_choices:
        _fail(path, n, "question %d: %d choices, expected 2 to num_choices=%d" % (q + 1, len(options), num_choices))
      label = None
      if "answer" in question:
        if question["answer"] not in options:
          _fail(path, n, "question %d: answer %r is not one of its choices" % (q + 1, question["answer"]))
        label = options.index(question["answer"])
      guid = question.get("id", "%s-%d" % (doc_id, q))
      examples.append(MultipleChoiceExample(guid, context, question["question"], list(options), label,
                                            "%s: item %d" % (path, n)))
  return examples


def _pack(tokens_a, tokens_b, max_seq_length, tokenizer):
  """`[CLS] a [SEP] b [SEP]` ids (b empty: `[CLS] a [SEP]`), as `features.convert_single_example`."""
  if tokens_b:
    features.truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  else:
    del tokens_a[max_seq_length - 2:]
  tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
  segments = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + ["[SEP]"]
    segments += [1] * (len(tokens_b) + 1)
  return tokenizer.convert_tokens_to_ids(tokens), segments


def to_arrays(examples, tokenizer, max_seq_length, num_choices):
  """({input_ids, input_mask, segment_ids: int32 [N, C, T], choice_mask: int32 [N, C], label_ids: int32 [N]},
  number of examples with a truncated option). Unlabelled examples get label 0, as the original's test sets."""
  features.check_max_seq_length(max_seq_length)
  n = len(examples)
  arrays = {name: np.zeros([n, num_choices, max_seq_length], np.int32) for name in features.INPUT_NAMES}
  arrays["choice_mask"] = np.zeros([n, num_choices], np.int32)
  arrays["label_ids"] = np.zeros([n], np.int32)
  truncated = 0
  for row, example in enumerate(examples):
    if len(example.options) > num_choices:
      raise ValueError("%s: %d options, more than num_choices=%d" % (example.source, len(example.options),
                                                                        num_choices))
    context = tokenizer.tokenize(example.context)
    cut = False
    for c in range(num_choices):
      option = example.options[c] if c < len(example.options) else ""
      tokens_b = tokenizer.tokenize(option_text(example.question, option))
      total = len(context) + len(tokens_b)
      ids, segments = _pack(list(context), tokens_b, max_seq_length, tokenizer)
      cut = cut or (c < len(example.options) and len(ids) - (3 if tokens_b else 2) < total)
      arrays["input_ids"][row, c, :len(ids)] = ids
      arrays["input_mask"][row, c, :len(ids)] = 1
      arrays["segment_ids"][row, c, :len(ids)] = segments
    arrays["choice_mask"][row, :len(example.options)] = 1
    arrays["label_ids"][row] = example.label or 0
    truncated += cut
  return arrays, truncated
