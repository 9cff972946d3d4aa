"""Writes the original's `tf.train.Example` TFRecords from spilled records, fast and safely.

Schema (Google's, all features fixed length; L = max_seq_length, P = max_predictions_per_seq):
  input_ids, input_mask, segment_ids                int64 [L]   (padded with 0)
  masked_lm_positions, masked_lm_ids                int64 [P]   (padded with 0)
  masked_lm_weights                                 float [P]   (1.0 real, 0.0 padding)
  next_sentence_labels                              int64 [1]   (1 = B is a random next)

Records are serialized and framed in compiled code (`example_jit.py`), appended to a spill file
(`SpillFile`), then copied in the final shuffled order by `write_instance_to_example_files`, so no
instance list is ever held in memory. Output files are written under a temporary name and renamed
when complete.
"""

import array
import os
import tempfile

from data_prep import tfrecord

FEATURE_KEYS = ("input_ids", "input_mask", "masked_lm_ids", "masked_lm_positions",
                "masked_lm_weights", "next_sentence_labels", "segment_ids")  # serialized order


class SpillFile:
  """TFRecord-framed records appended to a temporary file; only offsets stay in memory.

  Records are framed (length + CRC32C, see `tfrecord.py`) in batches, so reading one back gives
  bytes ready to copy into a TFRecord file.

  Args:
    directory: where to create the file.
  """

  _BATCH = 2048

  def __init__(self, directory=None):
    fd, self.path = tempfile.mkstemp(prefix="spill-", dir=directory)
    self._writer = os.fdopen(fd, "wb", buffering=1 << 20)
    self.offsets = array.array("q", [0])
    self._batch = []

  def __len__(self):
    return len(self.offsets) - 1 + len(self._batch)

  def append(self, record):
    self._batch.append(record)
    if len(self._batch) >= self._BATCH:
      self._flush()

  def extend(self, records):
    self._batch.extend(records)
    if len(self._batch) >= self._BATCH:
      self._flush()

  def _flush(self):
    if self._batch:
      self._writer.write(tfrecord.frame_records(self._batch))
      end = self.offsets[-1]
      for record in self._batch:
        end += len(record) + tfrecord.FRAME_BYTES
        self.offsets.append(end)
      self._batch = []

  def extend_framed(self, data, offsets):
    """Appends records already framed: bytes `data`, record k at offsets[k]..offsets[k + 1]."""
    self._flush()
    self._writer.write(data)
    self.offsets.extend((offsets[1:] + self.offsets[-1]).tolist())

  def flush(self):
    """Writes what is buffered, so the offsets so far can be read (by another process too)."""
    self._flush()
    self._writer.flush()

  def finish(self):
    """Writes what is left; returns (path, offsets) to hand to `SpilledRecords`, maybe in another process."""
    self._flush()
    self._writer.close()
    return self.path, self.offsets


class SpilledRecords:
  """Read access to the records of several finished spill files, numbered across all of them.

  Records are read with `os.pread`, not through a memory map: the records are read in a random
  order, and each page fault on a map maps up to 64 kB around it (the kernel's fault-around), so a
  map would grow the resident set to the whole spill, i.e. with dupe_factor. With pread the pages
  stay in the page cache, outside the process.

  Args:
    parts: list of (path, offsets) from `SpillFile.finish()` (or slices of a file's offsets).
  """

  def __init__(self, parts):
    self.paths = list(dict.fromkeys(path for path, _ in parts))  # a file may hold several parts
    number = {path: k for k, path in enumerate(self.paths)}
    self._fds = [os.open(path, os.O_RDONLY) for path in self.paths]
    # Record g is bytes [_starts[g], _ends[g]) of file _fds[_part[g]].
    self._part, self._starts, self._ends = array.array("I"), array.array("q"), array.array("q")
    for path, offsets in parts:
      self._part.extend([number[path]] * (len(offsets) - 1))
      self._starts.extend(offsets[:-1])
      self._ends.extend(offsets[1:])

  def __len__(self):
    return len(self._part)

  def __getitem__(self, index):
    start = self._starts[index]
    return os.pread(self._fds[self._part[index]], self._ends[index] - start, start)

  def close(self, remove=True):
    for fd in self._fds:
      os.close(fd)
    self._fds = []
    if remove:
      for path in self.paths:
        remove_quietly(path)


def remove_quietly(path):
  try:
    os.remove(path)
  except OSError:
    pass


def temporary_path(path):
  return "%s.tmp-%d" % (path, os.getpid())


def check_writable(output_files):
  """Raises ValueError (one line) unless each output's temporary file can be created."""
  for path in output_files:
    tmp = temporary_path(path)
    try:
      with open(tmp, "wb"):
        pass
    except OSError as e:
      raise ValueError("cannot write output file %s: %s" % (path, e.strerror)) from None
    remove_quietly(tmp)


def write_instance_to_example_files(records, order, output_files):
  """Writes records in `order`, round-robin across `output_files`, each renamed when complete.

  A crash or Ctrl-C leaves no file under a final name: files are written as `<name>.tmp-<pid>`
  and renamed once all are complete (the temporary files are removed on failure).

  Args:
    records: indexable of TFRecord-framed `tf.train.Example` bytes (`SpilledRecords`).
    order: iterable of record numbers, the final instance order.
    output_files: list of str paths.

  Returns:
    list of int, the number of records written to each output file.
  """
  temporary = [temporary_path(path) for path in output_files]
  writers = []
  try:
    writers = [open(path, "wb", buffering=1 << 20) for path in temporary]
    writes = [writer.write for writer in writers]
    counts = [0] * len(writers)
    num_writers = len(writers)
    for k, index in enumerate(order):
      writes[k % num_writers](records[index])
    for k in range(num_writers):
      counts[k] = len(order) // num_writers + (k < len(order) % num_writers)
    for writer in writers:
      writer.close()
    for tmp, path in zip(temporary, output_files):
      os.replace(tmp, path)
    return counts
  finally:
    for writer in writers:
      writer.close()
    for tmp in temporary:
      if os.path.exists(tmp):
        remove_quietly(tmp)
