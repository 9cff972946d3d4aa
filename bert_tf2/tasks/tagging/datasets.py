"""Chinese NER sets in the layouts they are distributed in: character-per-line files and CLUENER2020.

    processor = get_processor("resume")                 # or msra, weibo, char, char_bmes, cluener, conll...
    train = processor.get_train_examples("ResumeNER")   # reads train.char.bmes (and checks dev/test)
    processor.scheme, processor.get_labels()            # "BMES", ["O", "B-CONT", "M-CONT", "E-CONT", ...]

Character-per-line files (MSRA, Resume and Weibo as the Lattice-LSTM-era repositories give them,
the BIO/BIOES/BMES files of other Chinese NER sets): one "char tag" a line, space- or tab-separated
(with more columns the first is the character and the last the tag, as Lattice-LSTM reads them), a
blank line between sentences; a line of spaces is blank too. Files per split, the first found of
`{split}.char.bmes`, `{split}.char.bioes`, `{split}.char.bio`, `{split}.bmes`, `{split}.bioes`,
`{split}.bio`, `{split}.txt`, `{split}.tsv`, `weiboNER_2nd_conll.{split}`, `msra_{split}_bio.txt`.
Weibo's `weiboNER_2nd_conll` files write each character with its position in its word ("口0"):
the `weibo` task drops the digits. The scheme is read from the tags of all the split files
(M- -> BMES; I- with E-/S- -> BIOES; I- alone -> BIO; B-/E-/S- only: the file name's .bmes/.bioes,
else BIOES, which reads the same) unless the task or `tag_scheme` fixes it; BIOES and BMES
sentences must be well formed (an I-/M-/E- continues a B- of its type, a B- is closed by an E-).
The tag set is every prefix of the scheme for every type found, so dev and test never hold a tag
the model lacks. Predictions: `test_predictions.txt`, "char gold predicted" lines.

CLUENER2020 (`cluener`): `bert_tf2.tasks.tagging.cluener`.

Every error is one ValueError "file:line: what", raised while reading, before anything is written.
"""

import dataclasses
import os
import re

from bert_tf2.core import checks
from bert_tf2.tasks.tagging import cluener, data

SCHEME_PREFIXES = {"BIO": "BI", "BIOES": "BIES", "BMES": "BMES"}
TAG = re.compile(r"^(O|([BIMES])-(.+))$")
SPLIT_PATTERNS = ("{}.char.bmes", "{}.char.bioes", "{}.char.bio", "{}.bmes", "{}.bioes", "{}.bio", "{}.txt",
                  "{}.tsv", "weiboNER_2nd_conll.{}", "msra_{}_bio.txt")


@dataclasses.dataclass
class CharExample(data.TaggingExample):
  """A sentence of a character-per-line file; `lines`: each character's line number (for errors)."""
  lines: list = dataclasses.field(default_factory=list)


def read_char_file(path, strip_word_index=False):
  """[CharExample] of a character-per-line file (module docstring); ValueError "file:line" on a bad line."""
  examples, words, tags, lines = [], [], [], []

  def close():
    if words:
      examples.append(CharExample("%s-%d" % (os.path.basename(path), len(examples)), list(words), list(tags),
                                  "%s:%d" % (path, lines[0]), list(lines)))
    words.clear(), tags.clear(), lines.clear()

  for number, line in enumerate(checks.read_text(path).split("\n"), 1):
    line = line.rstrip("\r")
    if not line.strip() or line.startswith("-DOCSTART-"):
      close()
      continue
    columns = [c.strip(" ") for c in line.split("\t")] if "\t" in line else line.split()
    columns = [c for c in columns if c]
    if len(columns) < 2:
      raise ValueError("%s:%d: expected 'char tag', found one column: %r" % (path, number, line))
    token, tag = columns[0], columns[-1]
    if not TAG.match(tag):
      raise ValueError("%s:%d: tag %r is not O or B-/I-/M-/E-/S-TYPE" % (path, number, tag))
    if strip_word_index and len(token) > 1 and token[1:].isdigit():
      token = token[0]  # weiboNER_2nd_conll: "口0" = the character and its position in its word
    words.append(token), tags.append(tag), lines.append(number)
  close()
  return examples


def detect_scheme(first_seen, path_hint=""):
  """BIO, BIOES or BMES from {prefix: "file:line" of its first tag}; ValueError when I- and M- mix."""
  if "I" in first_seen and "M" in first_seen:
    order = list(first_seen)  # in reading order: the later of the two is the odd one
    late, early = ("M", "I") if order.index("I") < order.index("M") else ("I", "M")
    raise ValueError("%s: %s- tag, but %s- tags before it (%s): mixed BIOES and BMES" % (
        first_seen[late], late, early, first_seen[early]))
  if "M" in first_seen:
    return "BMES"
  if "I" in first_seen:
    return "BIOES" if {"E", "S"} & set(first_seen) else "BIO"
  if {"E", "S"} & set(first_seen):
    return "BMES" if path_hint.endswith(".bmes") else "BIOES"
  return "BIO"


def check_chunks(example, scheme):
  """ValueError "file:line" at the first ill-formed tag of a BIOES / BMES sentence (BIO: any order)."""
  if scheme == "BIO":
    return
  path = example.source.rsplit(":", 1)[0]
  open_kind, open_line = None, None
  for tag, line in zip(example.tags + ["O"], example.lines + [example.lines[-1] + 1]):
    prefix, _, kind = tag.partition("-")
    if prefix in ("I", "M", "E"):
      if open_kind != kind:
        raise ValueError("%s:%d: %s with no B-%s before it" % (path, line, tag, kind))
      open_kind = None if prefix == "E" else kind
      continue
    if open_kind is not None:
      raise ValueError("%s:%d: the entity B-%s of line %d is not closed by an E-%s" % (path, open_line, open_kind,
                                                                                      open_line, open_kind))
    if prefix == "B":
      open_kind, open_line = kind, line


class CharNerProcessor(data.SplitReader):
  """Character-per-line NER files in data_dir (module docstring).

  Args:
    scheme: "auto" (read from the tags), "BIO", "BIOES" or "BMES"; `self.scheme` is the one in use.
    strip_word_index: drop the digits after each character (weiboNER_2nd_conll's "口0").
    labels: a trained model's tag list (fixes the scheme); default: read from the files.
    name: the task name, written to the model's settings.
  """

  def __init__(self, scheme="auto", strip_word_index=False, labels=None, name="char"):
    scheme = scheme.upper()
    if scheme != "AUTO" and scheme not in SCHEME_PREFIXES:
      raise ValueError("tag_scheme must be auto, bio, bioes or bmes, got %r" % (scheme,))
    self.scheme = None if scheme == "AUTO" else scheme
    self.strip_word_index, self.name = strip_word_index, name
    self._labels, self._label_source, self._examples = None, None, {}
    if labels:
      self.set_labels(labels, "the given labels")

  def split_file(self, data_dir, split):
    """The path of `split`'s file in data_dir (the first of SPLIT_PATTERNS found), or None."""
    for pattern in SPLIT_PATTERNS:
      path = os.path.join(data_dir, pattern.format(split))
      if os.path.isfile(path):
        return path
    return None

  def _load(self, data_dir):
    """Reads every split file present, resolves the scheme and the tag set, checks every sentence."""
    if self._examples.get("dir") == data_dir:
      return
    files = {s: self.split_file(data_dir, s) for s in ("train", "dev", "test")}
    examples = {s: read_char_file(p, self.strip_word_index) for s, p in files.items() if p}
    first_seen, kinds = {}, set()
    for split, rows in examples.items():
      for e in rows:
        for tag, line in zip(e.tags, e.lines):
          if tag != "O":
            first_seen.setdefault(tag[0], "%s:%d" % (files[split], line))
            kinds.add(tag[2:])
    scheme = self.scheme or detect_scheme(first_seen, files.get("train") or "")
    for prefix, where in sorted(first_seen.items()):
      if prefix not in SCHEME_PREFIXES[scheme]:
        raise ValueError("%s: %s- tag in a %s file (tags O, %s-TYPE)" % (where, prefix, scheme,
                                                                      "/".join(SCHEME_PREFIXES[scheme])))
    for rows in examples.values():
      for e in rows:
        check_chunks(e, scheme)
    self.scheme = scheme
    if self._labels is None:
      self._labels = ["O"] + ["%s-%s" % (p, k) for k in sorted(kinds) for p in SCHEME_PREFIXES[scheme]]
      self._label_source = "the tags of %s" % ", ".join(p for p in files.values() if p)
    self._examples = dict(examples, dir=data_dir, files=files)

  def _read(self, data_dir, split):
    """`split`'s examples; each tag must be one of the labels (a trained model's, when set)."""
    self._load(data_dir)
    if split not in self._examples:
      raise ValueError("%s: no %s file (one of %s)" % (data_dir, split, ", ".join(p.format(split) for p in SPLIT_PATTERNS)))
    known = set(self._labels)
    for e in self._examples[split]:
      for tag, line in zip(e.tags, e.lines):
        if tag not in known:
          raise ValueError("%s:%d: tag %r is not one of the model's tags (%s)" % (self._examples["files"][split], line,
                                                                                 tag, self._label_source))
    return self._examples[split]

  def set_labels(self, labels, source):
    """Uses a trained model's tags (their prefixes fix the scheme); `source` names them in errors."""
    self._labels, self._label_source = list(labels), source
    self.scheme = detect_scheme({t[0]: source for t in labels if t != "O"})
    self._examples = {}

  def get_labels(self):
    if self._labels is None:
      raise ValueError("the tag set is read from the data: call get_train_examples first")
    return list(self._labels)


CHAR_TASKS = {"char": ("auto", False), "char_bio": ("BIO", False), "char_bioes": ("BIOES", False),
              "char_bmes": ("BMES", False), "msra": ("auto", False), "msra_bmes": ("BMES", False),
              "resume": ("auto", False), "weibo": ("auto", True)}


def get_processor(task_name, tag_scheme=None):
  """run_ner.py's --task_name: the CoNLL ones (`data.TAGGING_PROCESSORS`), CHAR_TASKS, cluener.

  tag_scheme: None (the task's), or auto / bio / bioes / bmes for a character-per-line task.
  """
  name = task_name.lower()
  if name == "cluener" or name in data.TAGGING_PROCESSORS:
    if tag_scheme is not None:
      raise ValueError("tag_scheme is for the character-per-line tasks (%s), not %s" % (", ".join(CHAR_TASKS), name))
    return cluener.CluenerProcessor() if name == "cluener" else data.get_tagging_processor(name)
  if name not in CHAR_TASKS:
    names = sorted(set(data.TAGGING_PROCESSORS) | set(CHAR_TASKS) | {"cluener"})
    raise ValueError("unknown task_name %r; one of %s" % (task_name, ", ".join(names)))
  scheme, strip = CHAR_TASKS[name]
  return CharNerProcessor(tag_scheme or scheme, strip_word_index=strip, name=name)
