"""A corpus read in independent byte ranges, giving the documents one sequential read gives.

For readers that must not see the whole corpus (Beam workers): the input files are cut into
byte ranges ("blocks"), and each block yields the lines of the documents that *start* in it, in
the format `documents.tokenize_documents` reads. Reading rules are `documents.read_lines`'s
(`\\r` dropped, lines end at `\\n`, a whitespace-only line ends a document, documents continue
across files), so the concatenation of all blocks' documents, in block order, is the corpus's
document list, and block b's documents are numbered from the sum of the earlier blocks' counts.

Ownership: a document belongs to the block holding its first line. A block therefore
  * skips its leading lines if the line before its first line is text (that document began
    earlier: its owner reads it to the end), and
  * reads past its end, into later files if need be, to finish the last document it began.

Files are opened with a caller-given `open_file(path) -> seekable binary file` (Beam's
`FileSystems.open` on a cluster, `open(path, "rb")` here), so nothing here depends on Beam.
"""

_CHUNK = 1 << 20


def plan_blocks(sizes, block_bytes):
  """[(file_index, start, end)] byte ranges of at most `block_bytes`; empty files get none."""
  blocks = []
  for index, size in enumerate(sizes):
    blocks += [(index, start, min(size, start + block_bytes)) for start in range(0, size, block_bytes)]
  return blocks


def _decode(raw, path, offset, open_file, errors):
  """One raw line (no `\\n`) as the original reads it: `\\r` dropped, UTF-8 with `errors`."""
  try:
    return raw.replace(b"\r", b"").decode("utf-8", errors)
  except UnicodeDecodeError as e:
    with open_file(path) as f:  # error path only: count lines up to the bad one
      line = f.read(offset).count(b"\n") + 1
    raise ValueError("%s:%d: invalid UTF-8 (byte 0x%02x); rerun with --errors=replace to substitute"
                     % (path, line, e.object[e.start])) from None


def _lines(f, position):
  """Yields (offset, raw line) of the lines starting at or after `position` (a line start)."""
  f.seek(position)
  tail = b""
  while True:
    chunk = f.read(_CHUNK)
    if not chunk:
      break
    pieces = (tail + chunk).split(b"\n")
    tail = pieces.pop()
    for piece in pieces:
      yield position, piece
      position += len(piece) + 1
  if tail.replace(b"\r", b""):  # a last line of only `\r` is no line (it reads as the end of file)
    yield position, tail


def _first_line_start(f, start):
  """The offset of the first line that starts at or after `start` (maybe the file size)."""
  if start == 0:
    return 0
  f.seek(start - 1)
  position = start - 1
  while True:
    chunk = f.read(_CHUNK)
    if not chunk:
      return position
    newline = chunk.find(b"\n")
    if newline >= 0:
      return position + newline + 1
    position += len(chunk)


def _line_ending_at(f, end):
  """(start, raw bytes) of the line whose `\\n` (or the file's end) is at offset `end`."""
  start = end
  while start > 0:
    step = min(_CHUNK, start)
    f.seek(start - step)
    chunk = f.read(step)
    newline = chunk.rfind(b"\n")
    if newline >= 0:
      start = start - step + newline + 1
      break
    start -= step
  f.seek(start)
  return start, f.read(end - start)


def _last_line(f, size):
  """The raw bytes of a file's last line, or None if it has no line (empty, or only `\\r`s)."""
  start, tail = _line_ending_at(f, size)
  if tail.replace(b"\r", b""):
    return tail
  return _line_ending_at(f, start - 1)[1] if start > 0 else None


def _is_text(raw, errors):
  """Whether a raw line is not blank (`errors="strict"` judges with "replace": a bad line's owner raises)."""
  return bool(raw.replace(b"\r", b"").decode("utf-8", "replace" if errors == "strict" else errors).strip())


def _previous_line_is_text(open_file, paths, sizes, file_index, first, errors):
  """Whether the line before offset `first` of file `file_index` (maybe in an earlier file) is text."""
  if first > 0:
    with open_file(paths[file_index]) as f:
      return _is_text(_line_ending_at(f, first - 1)[1], errors)
  for index in range(file_index - 1, -1, -1):  # files without lines are skipped, as in one read
    if sizes[index]:
      with open_file(paths[index]) as f:
        last = _last_line(f, sizes[index])
      if last is not None:
        return _is_text(last, errors)
  return False


def block_lines(open_file, paths, sizes, block, errors="strict"):
  """Yields the lines (str) of the documents that start in `block`, blank lines between them.

  Args:
    open_file: function path -> seekable binary file object (a context manager).
    paths, sizes: list of str and list of int, all input files in order and their byte sizes.
    block: (file_index, start, end) from `plan_blocks`.
    errors: "strict" (ValueError naming file and line), "replace" or "ignore".
  """
  file_index, start, end = block
  path = paths[file_index]
  with open_file(path) as f:
    first = _first_line_start(f, start)
    if first >= min(end, sizes[file_index]):
      return
    skipping = _previous_line_is_text(open_file, paths, sizes, file_index, first, errors)
    in_document = False
    for offset, raw in _lines(f, first):
      if offset >= end and not in_document:
        return
      line = _decode(raw, path, offset, open_file, errors)
      blank = not line.strip()
      if skipping:
        skipping = not blank
        continue
      if offset >= end and blank:
        return
      in_document = not blank
      yield line
  if not in_document:
    return
  for index in range(file_index + 1, len(paths)):  # the last document goes on in the next file(s)
    with open_file(paths[index]) as f:
      for offset, raw in _lines(f, 0):
        line = _decode(raw, paths[index], offset, open_file, errors)
        if not line.strip():
          return
        yield line
