"""The worker processes of create_pretraining_data: tokenizing, serializing, whole shards.

Worker state (tokenizer, vocab, config, spill directory, the worker's own spill file) lives in
module globals set by the pool initializer. `open_pool(1, ...)` runs the same tasks in this
process, so both modes have one code path for any `num_workers`.
"""

import collections
import contextlib
import multiprocessing
import os
import signal
import sys
import threading

import numpy as np

from data_prep import documents as documents_lib
from data_prep import example_jit
from data_prep import example_writer
from data_prep import instances as instances_lib

SERIALIZE_BATCH = 4096  # instances serialized together (one compiled call, see example_jit.py)

_worker = {}


@contextlib.contextmanager
def _sigint_blocked():
  """Holds SIGINT back in this thread (and in processes and threads started meanwhile), then lets
  a Ctrl-C that came in the meantime through: a worker is never stopped before `_init_worker`."""
  if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
  try:
    yield
  finally:
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(tokenizer, segmenter_name, config, spill_dir):
  # Ctrl-C reaches the whole process group: only the parent acts on it (it terminates the pool and
  # removes the spill directory); a worker stopped by it would print a traceback of its own.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  if hasattr(signal, "pthread_sigmask"):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
  _set_state(tokenizer, segmenter_name, config, spill_dir)


def _set_state(tokenizer, segmenter_name, config, spill_dir):
  vocab = instances_lib.MaskingVocab.from_vocab(tokenizer.vocab)
  _worker.clear()
  _worker.update(tokenizer=tokenizer, segmenter=documents_lib.make_segmenter(segmenter_name), config=config,
                 spill_dir=spill_dir, vocab=vocab)


class _Done:
  def __init__(self, value):
    self.value = value

  def get(self):
    return self.value


class _InlinePool:
  """`multiprocessing.Pool`'s apply_async, run at once in this process."""

  def apply_async(self, function, args):
    return _Done(function(*args))


@contextlib.contextmanager
def open_pool(num_workers, tokenizer, segmenter_name, config, spill_dir):
  """A pool of `num_workers` processes (1: this process) ready for the tasks below.

  `tokenizer` (a `FullTokenizer`) is handed to the workers as it is (inherited or pickled): the
  vocab file is parsed once, by the caller.
  """
  if num_workers <= 1:
    _set_state(tokenizer, segmenter_name, config, spill_dir)
    try:
      yield _InlinePool()
    finally:
      _close_spill()
    return
  # Fork is cheapest, but never fork a process that has started TensorFlow's threads.
  context = multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else "fork")
  with _sigint_blocked():  # workers start with Ctrl-C held back, then ignore it (_init_worker)
    pool = context.Pool(num_workers, _init_worker, (tokenizer, segmenter_name, config, spill_dir))
  with pool:  # on Ctrl-C (KeyboardInterrupt in this process) the pool is terminated here
    yield pool


def imap_bounded(pool, function, tasks, max_pending):
  """`pool.imap` that pulls at most `max_pending` tasks ahead, so the input is streamed."""
  pending = collections.deque()
  for task in tasks:
    pending.append(pool.apply_async(function, (task,)))
    if len(pending) >= max_pending:
      yield pending.popleft().get()
  while pending:
    yield pending.popleft().get()


def tokenize_block(lines):
  """Lines that end at a document boundary -> their `Documents`."""
  return documents_lib.tokenize_documents(lines, _worker["tokenizer"], _worker["segmenter"])


def _ids(path, typecode):
  """The corpus token ids, memory-mapped from the file the parent wrote (read once per worker)."""
  if _worker.get("ids_path") != path:
    _worker.update(ids_path=path, ids=np.memmap(path, np.dtype(typecode), mode="r"))
  return _worker["ids"]


def _close_spill():
  spill = _worker.pop("spill", None)
  if spill is not None:
    spill.finish()


def serialize_chunk(task):
  """(ids file, typecode, `instances.Columns`) -> ((spill path, offsets), (records, tokens, masked)).

  The records are appended to this worker's own spill file; (path, offsets) locates them."""
  ids_path, typecode, columns = task
  ids = _ids(ids_path, typecode)
  if "spill" not in _worker:
    _worker["spill"] = example_writer.SpillFile(_worker["spill_dir"])
  spill = _worker["spill"]
  first = len(spill)
  total_tokens = masked_tokens = 0
  config = _worker["config"]
  for start in range(0, len(columns), SERIALIZE_BATCH):
    data, offsets, tokens, masked = example_jit.serialize_framed(
        ids, columns.rows(start, start + SERIALIZE_BATCH), config.max_seq_length, config.max_predictions_per_seq,
        _worker["vocab"])
    spill.extend_framed(data, offsets)
    total_tokens += tokens
    masked_tokens += masked
  spill.flush()
  return (spill.path, spill.offsets[first:]), (len(columns), total_tokens, masked_tokens)


def make_shard(task):
  """(shard, its `Documents`, the instance maker: `create_pretraining_data_lib.shard_instances`)
  -> (shard, spill part, sort keys, Summary). The maker comes with the task, so this module does
  not import the library that drives it."""
  shard, shard_docs, shard_instances = task
  spill = example_writer.SpillFile(_worker["spill_dir"])
  keys, summary = shard_instances(shard, shard_docs, _worker["config"], _worker["vocab"], spill)
  return shard, spill.finish(), keys, summary


def write_ids(documents, directory):
  """Writes the corpus ids for the workers; returns (path, typecode)."""
  path = os.path.join(directory, "ids.bin")
  with open(path, "wb") as f:
    documents.ids.tofile(f)
  return path, documents.ids.typecode
