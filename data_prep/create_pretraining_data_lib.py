"""Text files -> pretraining TFRecords: the original's records (default), or sharded for scale.

Two modes, one algorithm (Google's, compiled with the same random draws: `instances.py`):

* identical (default): one `random.Random(random_seed)` drives everything in the original's
  order, so the records equal those of Google's `create_pretraining_data.py` one for one. Only
  the draws are sequential (one process, compiled); reading and tokenizing (blocks of lines),
  serializing (chunks of instances) and writing use `num_workers` processes.
* sharded (`sharded=True`): documents are shuffled as in identical mode, then cut into shards of
  about `docs_per_shard` consecutive shuffled documents. Shard s is processed on its own, with
  `random.Random("<seed>:<s>")` and random-next sentences drawn from the shard's documents, and
  gives each of its records a 63-bit sort key from `random.Random("<seed>:<s>:order")`. The
  output is ordered by key. Nothing depends on which process ran a shard, so the output is the
  same for any `num_workers`, and the same on Apache Beam (`beam_pipeline.py`).

Either way instances are streamed: serialized as they are made into spill files next to the
output, then copied in the final order into the TFRecords (see `example_writer.py`).
"""

import array
import dataclasses
import os
import random
import shutil
import tempfile
import time

from absl import logging
import numpy as np

from bert_tf2 import tokenization
from bert_tf2.core import checks
from data_prep import documents as documents_lib
from data_prep.documents import make_segmenter
from data_prep import example_jit
from data_prep import example_writer
from data_prep import instances as instances_lib
from data_prep import prep_pool

_TOKENIZE_BLOCK_LINES = 2000  # small enough that every worker gets a fair share of the tokenizing
_CHUNK_INSTANCES = 16384  # instances drawn per compiled call and serialized by one worker task


@dataclasses.dataclass
class InstanceConfig:
  """The original's flags that shape instances (same names, same defaults)."""
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  random_seed: int = 12345
  dupe_factor: int = 10
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  do_whole_word_mask: bool = False

  @classmethod
  def from_flags(cls, values):
    """From parsed flags (`absl.flags.FLAGS`) defined by `data_prep.common_flags.define_flags`."""
    return cls(**{field.name: getattr(values, field.name) for field in dataclasses.fields(cls)})


@dataclasses.dataclass
class Summary:
  """What a run produced."""
  documents: int = 0
  sentences: int = 0
  input_tokens: int = 0
  instances: int = 0
  total_tokens: int = 0  # non-padding tokens over all instances, [CLS]/[SEP] included
  masked_tokens: int = 0
  instances_per_file: list = dataclasses.field(default_factory=list)
  seconds: float = 0.0

  def add(self, instances, total_tokens, masked_tokens):
    self.instances += instances
    self.total_tokens += total_tokens
    self.masked_tokens += masked_tokens

  def merge(self, other):
    self.instances += other.instances
    self.total_tokens += other.total_tokens
    self.masked_tokens += other.masked_tokens

  def line(self):
    files = ", ".join(str(n) for n in self.instances_per_file)
    return ("%d documents, %d sentences, %d input tokens -> %d instances (per output file: %s), "
            "%d tokens, mean masked fraction %.4f, %.1f s, %.0f instances/s" % (
                self.documents, self.sentences, self.input_tokens, self.instances, files,
                self.total_tokens, self.masked_tokens / max(1, self.total_tokens), self.seconds,
                self.instances / max(1e-9, self.seconds)))


class _Progress:
  """Logs documents/s and instances/s every `every_seconds`."""

  def __init__(self, total_documents, every_seconds):
    self.total, self.every = total_documents, every_seconds
    self.start = self.last = time.time()

  def update(self, documents, instances):
    """documents: done so far, or None where only instances are counted."""
    now = time.time()
    if now - self.last >= self.every:
      self.last = now
      elapsed = now - self.start
      if documents is None:
        logging.info("%d instances (%.0f/s)", instances, instances / elapsed)
        return
      logging.info("%d/%d documents (%.0f/s), %d instances (%.0f/s)", documents, self.total,
                   documents / elapsed, instances, instances / elapsed)


def create_pretraining_data(input_files, output_files, vocab_file, do_lower_case=True,
                            config=InstanceConfig(), num_workers=1, chinese_whole_word_mask="none",
                            errors="strict", docs_per_shard=256, progress_seconds=10.0, sharded=False):
  """Writes pretraining TFRecords for text files and returns a `Summary`.

  Args:
    input_files: list of str, text in BERT's format (a sentence a line, blank line between docs).
    output_files: list of str; records go round-robin across them.
    vocab_file: str, WordPiece vocab with [PAD] [UNK] [CLS] [SEP] [MASK].
    do_lower_case: bool.
    config: `InstanceConfig`.
    num_workers: int, processes (1: all in this one); the records do not depend on it.
    chinese_whole_word_mask: "none", "pre_segmented" (words separated by spaces in the input)
      or "jieba": mask whole Chinese words while the model still sees characters.
    errors: "strict" (non-UTF-8 input is an error naming file and line), "replace" or "ignore".
    docs_per_shard: int, shard size in sharded mode.
    progress_seconds: float, interval of progress log lines.
    sharded: bool, False for the original's exact records, True for the sharded mode.

  Raises:
    ValueError: with a one-line message, for bad input, vocab or output paths.
  """
  start = time.time()
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  make_segmenter(chinese_whole_word_mask)
  checks.check_max_seq_length(config.max_seq_length, minimum=5)  # [CLS] A [SEP] B [SEP]
  example_writer.check_writable(output_files)
  vocab = instances_lib.MaskingVocab.from_vocab(tokenizer.vocab)
  _warm_up(config, vocab, chinese_whole_word_mask != "none")
  logging.info("compiled code loaded at %.2f s", time.time() - start)
  # Spill files go to a hidden directory beside the first output (same disk), removed at the end
  # (made right before the `try`, so a Ctrl-C while compiling leaves none behind).
  spill_dir = tempfile.mkdtemp(prefix=".bert_spill-", dir=os.path.dirname(os.path.abspath(output_files[0])))
  try:
    with prep_pool.open_pool(num_workers, tokenizer, chinese_whole_word_mask, config, spill_dir) as pool:
      docs = documents_lib.Documents(with_joins=chinese_whole_word_mask != "none", vocab_size=len(tokenizer.vocab))
      blocks = _blocks(documents_lib.read_lines(input_files, errors), _TOKENIZE_BLOCK_LINES)
      for block_docs in prep_pool.imap_bounded(pool, prep_pool.tokenize_block, blocks, 2 * num_workers):
        docs.extend(block_docs)
      summary = _corpus_summary(docs)
      logging.info("read and tokenized %d documents in %.2f s", len(docs), time.time() - start)
      progress = _Progress(len(docs) * (1 if sharded else config.dupe_factor), progress_seconds)
      if sharded:
        parts, order = _run_sharded(docs, pool, config, num_workers, docs_per_shard, summary, progress)
      else:
        parts, order = _run_identical(docs, pool, config, vocab, num_workers, spill_dir, summary, progress)
    logging.info("%d instances made and serialized at %.2f s", summary.instances, time.time() - start)
    records = example_writer.SpilledRecords(parts)
    try:
      summary.instances_per_file = example_writer.write_instance_to_example_files(records, order, output_files)
    finally:
      records.close(remove=False)
  finally:
    shutil.rmtree(spill_dir, ignore_errors=True)
  summary.seconds = time.time() - start
  return summary


def _warm_up(config, vocab, with_joins):
  """Loads the compiled code here, before the workers fork (they inherit it instead of each loading it)."""
  docs = documents_lib.Documents(with_joins=with_joins, vocab_size=vocab.size)
  for length in (3, 2):
    docs.add_sentence([vocab.mask_id] * length)
  docs.end_document()
  for columns in instances_lib.create_training_instances(docs, dataclasses.replace(config, dupe_factor=1), vocab,
                                                         random.Random(0)):
    example_jit.serialize_framed(np.frombuffer(docs.ids, docs.ids.typecode), columns, config.max_seq_length,
                                 config.max_predictions_per_seq, vocab)
  final_order(2, random.Random(0))


def _corpus_summary(docs):
  if not len(docs):
    raise ValueError("the input has no documents (empty corpus, or no line tokenizes to anything)")
  return Summary(documents=len(docs), sentences=docs.num_sentences, input_tokens=docs.num_tokens)


def _blocks(lines, block_lines):
  """Groups lines into lists of >= block_lines lines that end at a document boundary."""
  block = []
  for line in lines:
    block.append(line)
    if len(block) >= block_lines and not line.strip():
      yield block
      block = []
  if block:
    yield block


def final_order(num_instances, rng):
  """The original's final `rng.shuffle(instances)` as a permutation: record order[k] is written k-th.

  A shuffle's draws depend only on the list's length, so shuffling indices gives the same order
  as shuffling the instances themselves, in 8 bytes per instance.
  """
  return array.array("q", instances_lib.shuffled_order(num_instances, rng).tobytes())


def _run_identical(docs, pool, config, vocab, num_workers, spill_dir, summary, progress):
  """The original's single RNG stream, drawn here; chunks serialized by the pool.
  Returns (spill parts in instance order, final order)."""
  rng = random.Random(config.random_seed)
  ids_path, typecode = prep_pool.write_ids(docs, spill_dir)
  tasks = ((ids_path, typecode, columns) for columns in instances_lib.create_training_instances(
      docs, config, vocab, rng, _CHUNK_INSTANCES))
  parts = []
  for part, counts in prep_pool.imap_bounded(pool, prep_pool.serialize_chunk, tasks, 2 * num_workers):
    parts.append(part)
    summary.add(*counts)
    progress.update(None, summary.instances)
  return parts, final_order(summary.instances, rng)


def _write_instances(docs, config, vocab, rng, sink, summary):
  """Makes the instances of `docs` with `rng` and serializes them in batches into `sink`
  (`sink.extend_framed(data, offsets)`, see `example_writer.SpillFile`)."""
  ids = np.frombuffer(docs.ids, docs.ids.typecode)
  for columns in instances_lib.create_training_instances(docs, config, vocab, rng, _CHUNK_INSTANCES):
    for start in range(0, len(columns), prep_pool.SERIALIZE_BATCH):
      data, offsets, total_tokens, masked_tokens = example_jit.serialize_framed(
          ids, columns.rows(start, start + prep_pool.SERIALIZE_BATCH), config.max_seq_length,
          config.max_predictions_per_seq, vocab)
      sink.extend_framed(data, offsets)
      summary.add(len(offsets) - 1, total_tokens, masked_tokens)


def shard_instances(shard, shard_docs, config, vocab, sink):
  """Serializes the instances of shard number `shard` into `sink` (`.extend_framed(data, offsets)`).

  What a shard gives depends only on its number, its documents (in shuffled order) and `config`:
  instances from `random.Random("<seed>:<shard>")`, sort keys from `random.Random("<seed>:<shard>:order")`.

  Returns:
    (int64 array [instances] of 63-bit sort keys, `Summary` of the shard).
  """
  rng = random.Random("%d:%d" % (config.random_seed, shard))
  key_rng = random.Random("%d:%d:order" % (config.random_seed, shard))
  summary = Summary(documents=len(shard_docs))
  _write_instances(shard_docs, config, vocab, rng, sink, summary)
  keys = np.array([key_rng.getrandbits(63) for _ in range(summary.instances)], np.int64)
  return keys, summary


def shuffled_documents(num_documents, random_seed):
  """The original's document shuffle, `random.Random(seed).shuffle(range(D))`, as a list."""
  return final_order(num_documents, random.Random(random_seed)).tolist()


def shard_bounds(num_documents, docs_per_shard):
  """[(first, end)] document ranges: max(1, D // docs_per_shard) shards of near-equal size."""
  num_shards = max(1, num_documents // max(1, docs_per_shard))
  return [(s * num_documents // num_shards, (s + 1) * num_documents // num_shards) for s in range(num_shards)]


def _run_sharded(docs, pool, config, num_workers, docs_per_shard, summary, progress):
  """Sharded mode; returns (spill parts in shard order, final order)."""
  order = shuffled_documents(len(docs), config.random_seed)
  bounds = shard_bounds(len(docs), docs_per_shard)
  tasks = ((s, docs.subset(order[first:end]), shard_instances) for s, (first, end) in enumerate(bounds))
  results = [None] * len(bounds)
  done_docs = 0
  for shard, part, keys, shard_summary in prep_pool.imap_bounded(pool, prep_pool.make_shard, tasks, 2 * num_workers):
    results[shard] = (part, keys)
    summary.merge(shard_summary)
    done_docs += shard_summary.documents
    progress.update(done_docs, summary.instances)
  parts = [part for part, _ in results]
  order = np.argsort(np.concatenate([keys for _, keys in results]), kind="stable")
  return parts, array.array("q", order.astype(np.int64).tobytes())
