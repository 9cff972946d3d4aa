"""Corpus embedding on Apache Beam: a text file -> sharded vectors + ids + payloads, any runner.

    shards = plan_shards("corpus.tsv", rows_per_shard=50000)           # byte ranges, checked UTF-8
    summary = run(shards, "corpus.tsv", "runs/emb", "model_dir", options, PipelineOptions([...]))
    vectors, ids, payloads = read_embeddings("runs/emb")               # what build_index.py indexes

Input: `searcher.read_texts_with_payloads`' format (one item a line, `text<TAB>field...`, blank lines
skipped); ids are the row numbers among the non-blank lines, as build_index.py gives them. The
launcher reads the file once (UTF-8 errors name the line, an empty corpus is refused: nothing is
written) and cuts it into shards of `rows_per_shard` rows at line starts. The pipeline:

  Create(shards) -> Reshuffle -> read the shard's byte range -> RunInference(SentenceEncoderHandler)
    -> group by shard -> write shard-SSSSS-of-NNNNN.npz (temporary name, then renamed)

`SentenceEncoderHandler` is a RunInference model handler: Beam loads the encoder once per worker
process (`load_model`) and hands it batches of `window` texts; each batch is sorted by token count
and cut every `batch_size` texts, as `SentenceEncoder.encode` does, so the vectors are the local
encoder's to float32 rounding. A shard file holds `vectors` float32 [n, D], `ids` int64 [n] and
`payloads` (UTF-8 JSON lines as uint8 bytes); `embeddings.json`, written last, lists the shards
and the encoder's options. An interrupted run leaves only `*.tmp-*` files, never a partial shard.
"""

import glob
import io
import json
import logging
import os
import re
import time
import uuid

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from bert_tf2.core import checks
from bert_tf2.retrieval import searcher

SUMMARY_FILE = "embeddings.json"
SHARD_PATTERN = "shard-%05d-of-%05d.npz"
_log = logging.getLogger("bert_tf2.retrieval.corpus_beam")


def plan_shards(input_file, rows_per_shard, errors="strict"):
  """Cuts `input_file` into shards of `rows_per_shard` non-blank lines.

  Returns [{"shard", "start", "end" (bytes), "first_id", "rows", "first_line"}]. ValueError naming
  file and line on invalid UTF-8 (errors="strict"), or when the file has no non-blank line.
  """
  checks.check_input_files(input_file=input_file)
  with open(input_file, "rb") as f:
    data = f.read()
  shards, offset, rows, line_number = [], 0, 0, 1
  start = first_line = None
  for line in data.split(b"\n"):
    text = checks.decode_utf8(line, input_file, errors, line_number)
    if line_number == 1 and text.startswith("\ufeff"):
      text = text[1:]
    if text.replace("\r", "").strip():
      if start is None:
        start, first_line = offset, line_number
      rows += 1
      if rows % rows_per_shard == 0:
        shards.append(_shard(len(shards), start, offset + len(line) + 1, rows, rows_per_shard, first_line))
        start = None
    offset += len(line) + 1
    line_number += 1
  if start is not None:
    shards.append(_shard(len(shards), start, len(data), rows, rows - len(shards) * rows_per_shard, first_line))
  if not shards:
    raise ValueError("input_file: %s: no non-blank lines" % input_file)
  return shards


def _shard(index, start, end, rows_so_far, rows, first_line):
  return {"shard": index, "start": start, "end": end, "first_id": rows_so_far - rows, "rows": rows,
          "first_line": first_line}


def read_shard(shard, input_file, errors="strict"):
  """One shard's rows: yields ((shard index, id, payload JSON), text), ids from the shard's first_id."""
  with FileSystems.open(input_file) as f:
    f.seek(shard["start"])
    data = f.read(shard["end"] - shard["start"])
  text = checks.decode_utf8(data, input_file, errors, shard["first_line"])
  if shard["start"] == 0 and text.startswith("\ufeff"):
    text = text[1:]
  texts, payloads = searcher.parse_lines(text.replace("\r", "").split("\n"))
  if len(texts) != shard["rows"]:
    raise ValueError("%s changed while it was read (shard %d: %d rows, planned %d)"
                     % (input_file, shard["shard"], len(texts), shard["rows"]))
  for i, (item, payload) in enumerate(zip(texts, payloads)):
    yield (shard["shard"], shard["first_id"] + i, json.dumps(payload, ensure_ascii=False)), item


class SentenceEncoderHandler(ModelHandler):
  """RunInference's handler for `SentenceEncoder.from_pretrained(model, **options)`: texts -> vectors."""

  def __init__(self, model, options, batch_size=64, window=1024):
    super().__init__(min_batch_size=window, max_batch_size=window)
    self.model, self.options, self.batch_size = model, dict(options), batch_size
    self._done, self._started = 0, None

  def load_model(self):
    from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
    started = time.time()
    encoder = embeddings.SentenceEncoder.from_pretrained(self.model, **self.options)
    _log.info("embed_corpus: worker %d loaded %s in %.1f s", os.getpid(), self.model, time.time() - started)
    return encoder

  def run_inference(self, batch, model, inference_args=None):
    self._started = self._started or time.time()
    vectors = model.encode(list(batch), batch_size=self.batch_size)
    self._done += len(batch)
    _log.info("embed_corpus: worker %d: %d texts, %.1f texts/s", os.getpid(), self._done,
              self._done / max(time.time() - self._started, 1e-9))
    return [PredictionResult(text, vector) for text, vector in zip(batch, vectors)]

  def get_metrics_namespace(self):
    return "embed_corpus"


def write_shard(item, output_dir, num_shards):
  """(shard index, [(id, payload JSON, vector)]) -> its .npz written atomically; returns its summary."""
  index, rows = item
  rows = sorted(rows)
  payloads = "".join(payload + "\n" for _, payload, _ in rows).encode("utf-8")
  buffer = io.BytesIO()
  np.savez(buffer, vectors=np.stack([v for _, _, v in rows]).astype(np.float32),
           ids=np.array([i for i, _, _ in rows], np.int64), payloads=np.frombuffer(payloads, np.uint8))
  final = FileSystems.join(output_dir, SHARD_PATTERN % (index, num_shards))
  tmp = "%s.tmp-%s" % (final, uuid.uuid4().hex)
  if FileSystems.get_scheme(output_dir) is None:  # local: never re-creates a directory a Ctrl-C removed
    with open(tmp, "wb") as f:
      f.write(buffer.getvalue())
    os.replace(tmp, final)
  else:
    with FileSystems.create(tmp) as f:
      f.write(buffer.getvalue())
    FileSystems.rename([tmp], [final])
  _log.info("embed_corpus: wrote %s (%d vectors)", final, len(rows))
  return {"shard": index, "file": os.path.basename(final), "rows": len(rows), "first_id": rows[0][0],
          "last_id": rows[-1][0], "bytes": len(buffer.getvalue())}


def run(shards, input_file, output_dir, model, options, pipeline_options, batch_size=64, window=1024,
        errors="strict", meta=None):
  """Runs the pipeline (see the module doc); writes embeddings.json last and returns it as a dict."""
  num_shards = len(shards)
  handler = KeyedModelHandler(SentenceEncoderHandler(model, options, batch_size, window))
  started, written = time.time(), []
  with beam.Pipeline(options=pipeline_options) as pipeline:
    summaries = (pipeline
                 | "Shards" >> beam.Create(shards)
                 | "Spread" >> beam.Reshuffle()
                 | "Read" >> beam.FlatMap(read_shard, input_file, errors)
                 | "Embed" >> RunInference(handler)
                 | "ByShard" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[0][2], kv[1].inference)))
                 | "Group" >> beam.GroupByKey()
                 | "Write" >> beam.Map(write_shard, output_dir, num_shards))
    if FileSystems.get_scheme(output_dir) is None:  # local: the summary comes back through a file
      summaries | "Collect" >> beam.combiners.ToList() | beam.Map(_write_json, os.path.join(
          output_dir, ".shards.json.tmp-%d" % os.getpid()))
  listing = os.path.join(output_dir, ".shards.json.tmp-%d" % os.getpid())
  if os.path.exists(listing):
    with open(listing, encoding="utf-8") as f:
      written = sorted(json.load(f), key=lambda s: s["shard"])
    os.remove(listing)
  summary = dict(meta or {}, input_file=os.path.abspath(input_file), rows=sum(s["rows"] for s in shards),
                 seconds=round(time.time() - started, 1), shards=written or [
                     {"shard": s["shard"], "file": SHARD_PATTERN % (s["shard"], num_shards), "rows": s["rows"],
                      "first_id": s["first_id"], "last_id": s["first_id"] + s["rows"] - 1} for s in shards])
  _write_json(summary, FileSystems.join(output_dir, SUMMARY_FILE), atomic=True)
  return summary


def _write_json(value, path, atomic=False):
  data = json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")
  tmp = "%s.tmp-%s" % (path, uuid.uuid4().hex) if atomic else path
  with FileSystems.create(tmp) as f:
    f.write(data)
  if atomic:
    FileSystems.rename([tmp], [path])


def remove_temporaries(output_dir):
  """Deletes the `*.tmp-*` files a failed or interrupted run left in a local `output_dir`."""
  for path in glob.glob(os.path.join(glob.escape(output_dir), "*.tmp-*")):
    os.remove(path)
  for path in glob.glob(os.path.join(glob.escape(output_dir), ".*.tmp-*")):
    os.remove(path)


def read_embeddings(directory):
  """embed_corpus's output -> (vectors float32 [N, D], ids int64 [N], payloads [dict], summary dict), by id."""
  path = os.path.join(directory, SUMMARY_FILE)
  if not os.path.isfile(path):
    raise ValueError("embeddings_dir: no %s in %s (written last by embed_corpus.py: did it finish?)"
                     % (SUMMARY_FILE, directory))
  with open(path, encoding="utf-8") as f:
    summary = json.load(f)
  vectors, ids, payloads = [], [], []
  for shard in summary["shards"]:
    shard_path = os.path.join(directory, shard["file"])
    if not os.path.isfile(shard_path):
      raise ValueError("embeddings_dir: %s lists %s, which is missing" % (path, shard_path))
    with np.load(shard_path) as data:
      vectors.append(data["vectors"])
      ids.append(data["ids"])
      payloads += [json.loads(line) for line in data["payloads"].tobytes().decode("utf-8").splitlines()]
  vectors, ids = np.concatenate(vectors), np.concatenate(ids)
  order = np.argsort(ids, kind="stable")
  return vectors[order], ids[order], [payloads[i] for i in order], summary


def one_line_error(error):
  """The message of the ValueError/OSError a step raised, also when the runner wrapped it in its own."""
  text = str(error).strip()
  if isinstance(error, (ValueError, OSError)) and "\n" not in text:
    return re.sub(r"\s*\[while running .*\]\s*$", "", text)
  found = re.findall(r"(?:ValueError|OSError|FileNotFoundError): (.+)", text)
  message = found[-1] if found else "%s: %s" % (type(error).__name__, (text.splitlines() or [""])[0])
  return re.sub(r"\s*\[while running .*\]\s*$", "", message.strip())
