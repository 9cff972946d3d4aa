"""Checks every job runs before any work, and strict UTF-8 text reading: bad input is one line.

    text = checks.read_text("train.tsv")                        # ValueError "train.tsv:7: invalid UTF-8 ..."
    checks.check_input_files(vocab_file="vocab.txt", bert_config_file="bert_config.json")
    checks.check_vocab_size("vocab.txt", config.vocab_size, "bert_config.json")
    checks.check_output_dir("runs/out")                        # writable, or creatable, before training

Each check raises ValueError with one line naming the file (and line) and the flag; the scripts
print it with `bert_tf2.core.cli.fail` and exit 1. Nothing here creates a file or directory: output
directories are made only after every check has passed (see `cli.run`, which also removes what a
failed or interrupted run created).
"""

import numbers
import os

from bert_tf2 import tokenization

ERRORS = ("strict", "replace", "ignore")  # what --errors takes, as Python's codecs
MIN_SEQ_LENGTH = 3  # [CLS] x [SEP]


def decode_utf8(data, path, errors="strict", first_line=1):
  """bytes -> str; with errors="strict", invalid UTF-8 raises ValueError naming file and line.

  Args:
    data: bytes, the file's content (or a part of it starting at line `first_line`).
    path: str, named in the message.
    errors: "strict", "replace" (U+FFFD, which the tokenizer drops) or "ignore" (bytes dropped).
  """
  try:
    return data.decode("utf-8", errors)
  except UnicodeDecodeError as e:
    line = first_line + data[:e.start].count(b"\n")
    raise ValueError("%s:%d: invalid UTF-8 (byte 0x%02x); read with errors=replace to substitute"
                     % (path, line, data[e.start])) from None


def read_text(path, errors="strict"):
  """The whole of a UTF-8 text file as str (a leading BOM dropped); ValueError naming file and line."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise ValueError("%s: file not found" % path) from None
  except IsADirectoryError:
    raise ValueError("%s: is a directory, not a file" % path) from None
  text = decode_utf8(data, path, errors)
  return text[1:] if text.startswith("\ufeff") else text


def read_lines(path, errors="strict"):
  """Lines of a UTF-8 file as the original's `tf.gfile` `readline()` sees them: split on `\\n` only,
  every `\\r` dropped (`"a\\rb"` is one line `"ab"`), a last line without `\\n` counted.

  The input of extract_features, the embedding tools and the retrieval scripts; ValueError naming
  file and line on non-UTF-8 bytes unless `errors` is "replace" or "ignore".
  """
  lines = read_text(path, errors).replace("\r", "").split("\n")
  if lines[-1] == "":
    lines.pop()
  return lines


def _flag(name):
  """`name: `, the argument a message is about (scripts show it as `--name: `, see `cli.fail`)."""
  return "%s: " % name if name else ""


def check_input_files(**paths):
  """Every `flag=path` given (None skipped) is an existing file: `--flag: no such file: path`."""
  for name, path in paths.items():
    if path is not None and not os.path.isfile(path):
      what = "is a directory, not a file" if os.path.isdir(path) else "no such file"
      raise ValueError("%s%s: %s" % (_flag(name), what, path))


def check_input_dirs(**paths):
  """Every `flag=path` given (None skipped) is an existing directory."""
  for name, path in paths.items():
    if path is not None and not os.path.isdir(path):
      raise ValueError("%sno such directory: %s" % (_flag(name), path))


def check_checkpoint(path, flag="init_checkpoint"):
  """`path` names a checkpoint `checkpoints.load_checkpoint` can read (prefix, output dir, HF dir)."""
  if path:
    from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top  (TensorFlow)
    try:
      checkpoints.resolve_checkpoint(path)
    except ValueError as e:
      raise ValueError("%s%s" % (_flag(flag), e)) from None


def check_model_path(path, flag="model"):
  """`path` is a model to load: a directory (Google, Hugging Face, SavedModel) or a checkpoint prefix."""
  if not (os.path.isdir(path) or os.path.exists(path + ".index") or os.path.isfile(path)):
    raise ValueError("%sno model directory or checkpoint at %s" % (_flag(flag), path))


def _existing_ancestor(path):
  path = os.path.abspath(path)
  while not os.path.exists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def check_output_dir(path, flag="output_dir"):
  """`path` is a writable directory, or can be created as one; nothing is created."""
  if not path:
    raise ValueError("%sis required" % _flag(flag))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ValueError("%s%s exists and is not a directory" % (_flag(flag), path))
  existing = _existing_ancestor(path)
  if not os.path.isdir(existing):
    raise ValueError("%scannot create %s: %s is not a directory" % (_flag(flag), path, existing))
  if not os.access(existing, os.W_OK | os.X_OK):
    what = "write to" if existing == os.path.abspath(path) else "create it in"
    raise ValueError("%scannot %s %s: permission denied" % (_flag(flag), what, existing))


def check_output_file(path, flag="output_file"):
  """`path` can be written: not a directory, in an existing writable directory (as the original)."""
  if not path:
    raise ValueError("%sis required" % _flag(flag))
  if os.path.isdir(path):
    raise ValueError("%s%s is a directory" % (_flag(flag), path))
  if os.path.exists(path) and not os.access(path, os.W_OK):
    raise ValueError("%scannot write %s: permission denied" % (_flag(flag), path))
  directory = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(directory):
    raise ValueError("%scannot write %s: no such directory %s" % (_flag(flag), path, directory))
  check_output_dir(directory, flag)


def check_vocab_size(vocab_file, vocab_size, config_file="bert_config.json"):
  """Every id of `vocab_file` indexes the embedding table of `vocab_size` rows (bert_config.json).

  A vocab longer than the config's `vocab_size` would fail deep in the first embedding lookup.
  """
  num_ids = max(tokenization.load_vocab(vocab_file).values(), default=-1) + 1
  if num_ids > vocab_size:
    raise ValueError("%s has %d tokens but %s says vocab_size=%d: is the config for this vocab?"
                     % (vocab_file, num_ids, config_file, vocab_size))


def check_model_files(vocab_file, bert_config_file, init_checkpoint=None, max_seq_length=None):
  """The pretrained model's files: present, a readable config, a vocab it covers, a checkpoint.

  Returns the `BertConfig`. `max_seq_length`, when given, must fit max_position_embeddings.
  """
  from bert_tf2 import modeling  # pylint: disable=g-import-not-at-top  (TensorFlow)
  check_input_files(vocab_file=vocab_file, bert_config_file=bert_config_file)
  config = modeling.BertConfig.from_json_file(bert_config_file)
  check_vocab_size(vocab_file, config.vocab_size, bert_config_file)
  tokenization.check_special_tokens(tokenization.load_vocab(vocab_file), vocab_file)
  if max_seq_length is not None:
    check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  check_checkpoint(init_checkpoint)
  return config


def check_max_seq_length(max_seq_length, max_position_embeddings=None, config_file=None, minimum=MIN_SEQ_LENGTH):
  """The one rule for max_seq_length: an int, at least `minimum`, at most max_position_embeddings.

  `minimum` is 3 (`[CLS] x [SEP]`) for text features; pretraining records, which always hold two
  non-empty segments (`[CLS] A [SEP] B [SEP]`), need 5. Never clamped: a ValueError otherwise.
  Returns max_seq_length as an int.
  """
  if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, numbers.Integral):
    raise ValueError("max_seq_length must be an integer, got %r" % (max_seq_length,))
  if max_seq_length < minimum:
    raise ValueError("max_seq_length must be at least %d, got %d" % (minimum, max_seq_length))
  if max_position_embeddings is not None and max_seq_length > max_position_embeddings:
    raise ValueError("max_seq_length %d exceeds max_position_embeddings %d%s"
                     % (max_seq_length, max_position_embeddings, " of %s" % config_file if config_file else ""))
  return int(max_seq_length)
