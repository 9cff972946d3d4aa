"""create_pretraining_data's sharded mode as an Apache Beam pipeline: the same records, any runner.

The local sharded mode's output depends only on the input, the vocab, the flags, the seed and
`docs_per_shard`; this pipeline computes the same function with no step holding the corpus or
all instances (what each step holds is in brackets; D documents, N records, F output files):

  1. Blocks:  input files cut into `block_bytes` ranges; each is read and tokenized on its own
     (`corpus_blocks.py`) into its documents, emitted one by one.             [one block]
  2. Numbers: document d of block b is global document offset(b) + d, offsets from the
     per-block counts (a side input of one int per block).                    [block counts]
  3. Shuffle: on one worker, the original's `random.Random(seed).shuffle(range(D))` gives each
     document its shard and its place in it (shard_bounds of the local mode). [4-8 bytes x D]
     This is the one step that does not scale out: it is the exact order of the original.
  4. Shards:  documents joined with their places and grouped by shard; each shard makes its
     instances exactly as the local mode does (`shard_instances`): records with 63-bit keys.
                                                                              [one shard]
  5. Sort:    records grouped into R = N / records_per_range ranges of the key space (keys are
     uniform), sorted by (key, shard, index) in each range; a range's first global rank is the
     sum of the earlier ranges' counts (side input, R ints). Rank k goes to file k mod F, place
     k div F: the local mode's order.                                           [one range]
  6. Write:   records grouped into pieces of `records_per_piece` consecutive places of one
     file, each written as a temporary file; each output is the concatenation of its pieces,
     written under a temporary name; when all are written, all are renamed.    [one piece]

Files go through Beam's `FileSystems` (local paths, gs://, hdfs://, s3://). The vocab and the
configuration travel inside the pipeline (construction values), not as worker-local files.
"""

import array
import dataclasses
import os
import tempfile
import time
import uuid

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from bert_tf2 import checks, tokenization
from data_prep import corpus_blocks
from data_prep import create_pretraining_data_lib as lib
from data_prep import documents as documents_lib
from data_prep import instances as instances_lib

NAMESPACE = "create_pretraining_data"
STEPS = ("read_blocks", "make_shards", "rank_ranges", "write_pieces", "concatenate")  # msec_<step> counters


def _timed(step, function):
  """`function` that adds its milliseconds to the counter msec_<step> (where the time goes)."""
  counter = Metrics.counter(NAMESPACE, "msec_" + step)

  def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
      result = function(*args, **kwargs)
      return list(result) if step in ("read_blocks", "rank_ranges", "make_shards") else result
    finally:
      counter.inc(int(1000 * (time.perf_counter() - start)))
  return timed


def open_file(path):
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def create_file(path):
  return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)


@dataclasses.dataclass
class Plan:
  """Everything the workers need, fixed when the pipeline is built."""
  paths: list
  sizes: list
  vocab_bytes: bytes
  do_lower_case: bool
  config: lib.InstanceConfig
  chinese_whole_word_mask: str
  errors: str
  docs_per_shard: int
  output_files: list
  temp_dir: str
  block_bytes: int = 32 << 20
  records_per_range: int = 1 << 16
  records_per_piece: int = 1 << 15


def make_plan(input_files, output_files, vocab_file, do_lower_case=True, config=lib.InstanceConfig(),
              chinese_whole_word_mask="none", errors="strict", docs_per_shard=256, **sizes):
  """Checks the inputs (one-line ValueErrors) and fixes what the pipeline needs.

  Args:
    input_files: list of str, paths or globs (any `FileSystems` scheme), matched in order.
    output_files: list of str; output file k gets the records of rank k mod F.
    vocab_file, do_lower_case, config, chinese_whole_word_mask, errors, docs_per_shard: as
      `create_pretraining_data_lib.create_pretraining_data`.
    **sizes: block_bytes, records_per_range, records_per_piece (memory per step).
  """
  paths, file_sizes = [], []
  for pattern in input_files:
    matches = sorted((m.path, m.size_in_bytes) for m in FileSystems.match([pattern])[0].metadata_list
                     if not m.path.endswith("/") and not ("://" not in m.path and os.path.isdir(m.path)))
    if not matches:
      raise ValueError("input file pattern %r matches no file" % pattern)
    paths += [path for path, _ in matches]
    file_sizes += [size for _, size in matches]
  if not FileSystems.exists(vocab_file):
    raise ValueError("vocab_file: no such file: %s" % vocab_file)
  with open_file(vocab_file) as f:
    vocab_bytes = f.read()
  _tokenizer(vocab_bytes, do_lower_case, vocab_file)  # checks the special tokens
  documents_lib.make_segmenter(chinese_whole_word_mask)  # checks that jieba is there if asked for
  checks.check_max_seq_length(config.max_seq_length, minimum=5)  # [CLS] A [SEP] B [SEP]
  if not output_files:
    raise ValueError("no output file")
  temp_dir = FileSystems.join(os.path.dirname(output_files[0]) or ".", ".bert_beam-" + uuid.uuid4().hex)
  for path in output_files:
    probe = path + ".tmp-probe-" + uuid.uuid4().hex
    try:
      create_file(probe).close()
      FileSystems.delete([probe])
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError("cannot write output file %s: %s" % (path, e)) from None
  return Plan(paths, file_sizes, vocab_bytes, do_lower_case, config, chinese_whole_word_mask, errors,
              docs_per_shard, list(output_files), temp_dir, **sizes)


def _tokenizer(vocab_bytes, do_lower_case, name="vocab"):
  """A `FullTokenizer` from the vocab file's bytes (read exactly as `load_vocab` reads the file)."""
  with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
    f.write(vocab_bytes)
  try:
    tokenizer = tokenization.FullTokenizer(f.name, do_lower_case)
  finally:
    os.remove(f.name)
  tokenization.check_special_tokens(tokenizer.vocab, name)
  return tokenizer


class _ReadBlock(beam.DoFn):
  """(block number, block) -> ((block number, document number in block), one-document `Documents`),
  and the block's document count on the output tagged "counts"."""

  def __init__(self, plan):
    self.plan = plan

  def setup(self):
    self.tokenizer = _tokenizer(self.plan.vocab_bytes, self.plan.do_lower_case)
    self.segmenter = documents_lib.make_segmenter(self.plan.chinese_whole_word_mask)
    self.counters = {name: Metrics.counter(NAMESPACE, name) for name in ("documents", "sentences", "input_tokens")}

  def process(self, element):
    return _timed("read_blocks", self._process)(element)

  def _process(self, element):
    number, block = element
    plan = self.plan
    lines = corpus_blocks.block_lines(open_file, plan.paths, plan.sizes, block, plan.errors)
    docs = documents_lib.tokenize_documents(lines, self.tokenizer, self.segmenter)
    self.counters["documents"].inc(len(docs))
    self.counters["sentences"].inc(docs.num_sentences)
    self.counters["input_tokens"].inc(docs.num_tokens)
    yield beam.pvalue.TaggedOutput("counts", (number, len(docs)))
    for d in range(len(docs)):
      yield (number, d), docs.subset([d])


def _offsets(counts):
  """[(block, count)] -> {block: number of its first document}."""
  offsets, total = {}, 0
  for block, count in sorted(counts):
    offsets[block] = total
    total += count
  return offsets


def _places(num_documents, plan):
  """The document shuffle: yields (document, (shard, place in shard)) for every document."""
  if num_documents == 0:
    raise ValueError("the input has no documents (empty corpus, or no line tokenizes to anything)")
  order = lib.shuffled_documents(num_documents, plan.config.random_seed)
  for shard, (first, end) in enumerate(lib.shard_bounds(num_documents, plan.docs_per_shard)):
    for place in range(first, end):
      yield order[place], (shard, place - first)


class _MakeShard(beam.DoFn):
  """(shard, [(place, document)]) -> (shard, int64 keys [n], n TFRecord-framed records)."""

  def __init__(self, plan):
    self.plan = plan

  def setup(self):
    self.vocab = instances_lib.MaskingVocab.from_vocab(_tokenizer(self.plan.vocab_bytes, self.plan.do_lower_case).vocab)
    self.counters = {name: Metrics.counter(NAMESPACE, name) for name in ("instances", "total_tokens", "masked_tokens")}

  def process(self, element):
    return _timed("make_shards", self._process)(element)

  def _process(self, element):
    shard, placed = element
    placed = sorted(placed, key=lambda item: item[0])
    # A new corpus: Beam may hand the same input objects to a retried bundle, so they are not changed.
    docs = documents_lib.Documents(with_joins=placed[0][1].joins is not None)
    docs.ids = array.array(placed[0][1].ids.typecode)
    for _, doc in placed:
      docs.extend(doc)
    records = _FramedRecords()
    keys, summary = lib.shard_instances(shard, docs, self.plan.config, self.vocab, records)
    for name in self.counters:
      self.counters[name].inc(getattr(summary, name))
    yield shard, keys, records


class _FramedRecords(list):
  """A list of TFRecord-framed records, filled by `shard_instances`."""

  def extend_framed(self, data, offsets):
    self.extend(data[start:end] for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist()))


def _num_ranges(num_records, plan):
  return max(1, -(-num_records // plan.records_per_range))


def _split_by_range(element, num_records, plan):
  """Shard records -> (range, [(key, shard, index, record)]) per key range they fall in."""
  shard, keys, records = element
  num_ranges = _num_ranges(num_records, plan)
  batches = {}
  for index, (key, record) in enumerate(zip(keys.tolist(), records)):
    batches.setdefault(key * num_ranges >> 63, []).append((key, shard, index, record))
  yield from batches.items()


def _range_starts(range_counts):
  """[(range, count)] -> {range: global rank of its first record}."""
  starts, total = {}, 0
  for r, count in sorted(range_counts):
    starts[r] = total
    total += count
  return starts


def _rank_range(element, starts, plan):
  """(range, batches) -> ((file, piece), [(place in file, record)]) in the local mode's order."""
  r, batches = element
  items = sorted((item for batch in batches for item in batch), key=lambda item: item[:3])
  num_files, pieces = len(plan.output_files), {}
  for rank, item in enumerate(items, starts[r]):
    place = rank // num_files
    pieces.setdefault((rank % num_files, place // plan.records_per_piece), []).append((place, item[3]))
  yield from pieces.items()


def _write_piece(element, plan):
  (file_number, piece), batches = element
  records = sorted(item for batch in batches for item in batch)
  path = FileSystems.join(plan.temp_dir, "%06d-%09d" % (file_number, piece))
  with create_file(path) as f:
    f.write(b"".join(record for _, record in records))
  return file_number, (piece, path)


def temporary_output(path, plan):
  return "%s.tmp-%s" % (path, os.path.basename(plan.temp_dir))


def _concatenate(element, plan):
  """(file, {"pieces": [(piece, path)]}) -> (file, temporary output path) with the pieces in order."""
  file_number, grouped = element
  path = temporary_output(plan.output_files[file_number], plan)
  with create_file(path) as out:
    for _, piece_path in sorted(grouped["pieces"]):
      with open_file(piece_path) as f:
        while True:
          chunk = f.read(1 << 22)
          if not chunk:
            break
          out.write(chunk)
  return file_number, path


def _publish(written, plan):
  """Renames every complete temporary output to its final name, then removes the pieces."""
  written = sorted(written)
  if [f for f, _ in written] != list(range(len(plan.output_files))):
    raise RuntimeError("not every output file was written: %s" % written)
  FileSystems.rename([path for _, path in written], plan.output_files)
  if FileSystems.exists(plan.temp_dir):
    FileSystems.delete([plan.temp_dir])
  return len(written)


def build(pipeline, plan):
  """Adds the whole job to `pipeline`; returns the PCollection of the number of files published."""
  blocks = pipeline | "Blocks" >> beam.Create(list(enumerate(corpus_blocks.plan_blocks(plan.sizes, plan.block_bytes))))
  read = (blocks | "SpreadBlocks" >> beam.Reshuffle()
          | "ReadBlocks" >> beam.ParDo(_ReadBlock(plan)).with_outputs("counts", main="documents"))
  offsets = beam.pvalue.AsSingleton(read.counts | "ListCounts" >> beam.combiners.ToList() | "BlockOffsets" >> beam.Map(_offsets))
  numbered = read.documents | "NumberDocuments" >> beam.Map(
      lambda kv, offsets: (offsets[kv[0][0]] + kv[0][1], kv[1]), offsets)
  num_documents = read.counts | "BlockCounts" >> beam.Map(lambda kv: kv[1]) | "CountDocuments" >> beam.CombineGlobally(sum)
  places = num_documents | "ShuffleDocuments" >> beam.FlatMap(_places, plan) | "SpreadPlaces" >> beam.Reshuffle()
  shards = (
      {"doc": numbered, "place": places} | "JoinPlaces" >> beam.CoGroupByKey()
      | "KeyByShard" >> beam.Map(lambda kv: (kv[1]["place"][0][0], (kv[1]["place"][0][1], kv[1]["doc"][0])))
      | "GroupShards" >> beam.GroupByKey()
      | "MakeShards" >> beam.ParDo(_MakeShard(plan)))
  num_records = beam.pvalue.AsSingleton(
      shards | "ShardCounts" >> beam.Map(lambda shard: len(shard[2])) | "CountRecords" >> beam.CombineGlobally(sum))
  ranged = shards | "SplitByRange" >> beam.FlatMap(_split_by_range, num_records, plan)
  starts = beam.pvalue.AsSingleton(
      ranged | "BatchCounts" >> beam.Map(lambda kv: (kv[0], len(kv[1]))) | "RangeCounts" >> beam.CombinePerKey(sum)
      | "ListRanges" >> beam.combiners.ToList() | "RangeStarts" >> beam.Map(_range_starts))
  pieces = (ranged | "GroupRanges" >> beam.GroupByKey()
            | "RankRanges" >> beam.FlatMap(_timed("rank_ranges", _rank_range), starts, plan)
            | "GroupPieces" >> beam.GroupByKey()
            | "WritePieces" >> beam.Map(_timed("write_pieces", _write_piece), plan))
  files = pipeline | "Files" >> beam.Create([(f, None) for f in range(len(plan.output_files))])
  written = ({"pieces": pieces, "file": files} | "JoinPieces" >> beam.CoGroupByKey()
             | "Concatenate" >> beam.Map(_timed("concatenate", _concatenate), plan))
  return written | "ListWritten" >> beam.combiners.ToList() | "Publish" >> beam.Map(_publish, plan)


def cleanup(plan):
  """Removes what a failed run left: the pieces and the temporary outputs (never final names)."""
  leftovers = [p for p in [plan.temp_dir] + [temporary_output(o, plan) for o in plan.output_files]
               if FileSystems.exists(p)]
  if leftovers:
    FileSystems.delete(leftovers)


def counters(result):
  """{counter name: value} of a finished pipeline (committed values where the runner has them)."""
  out = {}
  for counter in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(NAMESPACE))["counters"]:
    value = counter.committed if counter.committed is not None else counter.attempted
    out[counter.key.metric.name] = out.get(counter.key.metric.name, 0) + value
  return out


def run(plan, pipeline_options):
  """Runs the pipeline to the end; returns a `Summary`. Raises what the pipeline raised, after cleanup."""
  start = time.time()
  pipeline = beam.Pipeline(options=pipeline_options)
  build(pipeline, plan)
  try:
    result = pipeline.run()
    result.wait_until_finish()
  except BaseException:
    cleanup(plan)
    raise
  values = counters(result)
  summary = lib.Summary(**{name: values.get(name, 0) for name in (
      "documents", "sentences", "input_tokens", "instances", "total_tokens", "masked_tokens")})
  num_files = len(plan.output_files)
  summary.instances_per_file = [summary.instances // num_files + (k < summary.instances % num_files)
                                for k in range(num_files)]
  summary.seconds = time.time() - start
  summary.step_seconds = {step: values.get("msec_" + step, 0) / 1000 for step in STEPS}
  return summary
