"""Index a corpus and search it: the library behind scripts/build_index.py, embed_corpus.py and search.py.

    texts, payloads = read_texts_with_payloads("faq.tsv")             # `question<TAB>answer` lines
    build_index(encoder, texts, payloads, "runs/idx", kind="milvus")  # or "flat" / "hnsw" (faiss)
    searcher = Searcher.load("runs/idx")                              # encoder + index, from meta.json
    searcher.search(["医疗保险怎么缴纳"], k=5, filter='source == "faq"')  # [[(score, payload), ...]]

The backends are `bert_tf2.retrieval.index` (faiss) and `bert_tf2.retrieval.milvus`.
"""

import os

import numpy as np

from bert_tf2.core import checks
from bert_tf2.embeddings import encoder as embeddings
from bert_tf2.retrieval.index import FaissIndex, read_meta

_ENCODER_OPTIONS = ("vocab_file", "do_lower_case", "max_seq_length", "pooling_strategy", "pooling_layer")


def read_texts_with_payloads(input_file, errors="strict"):
  """One item a line; a tab-separated line indexes its first field and keeps the rest (FAQ answers).

  Returns (texts, payloads): payloads are {"text": first field, "fields": [other fields]}.
  Blank lines are skipped. Non-UTF-8 input: see `checks.read_lines`.
  """
  return parse_lines(checks.read_lines(input_file, errors))


def parse_lines(lines):
  """[line] -> (texts, payloads) as `read_texts_with_payloads` reads them (blank lines skipped)."""
  texts, payloads = [], []
  for line in lines:
    if not line.strip():
      continue
    fields = line.split("\t")
    texts.append(fields[0].strip())
    payloads.append({"text": fields[0].strip(), "fields": fields[1:]})
  return texts, payloads


def encoder_meta(encoder, model_path=None):
  """What meta.json records of the encoder that made an index's vectors, so `Searcher.load` rebuilds it."""
  meta = {"model": os.path.abspath(model_path) if model_path else None, "normalize": encoder.normalize}
  meta.update({k: getattr(encoder, k) for k in _ENCODER_OPTIONS if hasattr(encoder, k)})
  meta["do_lower_case"] = encoder.tokenizer.do_lower_case
  return meta


def metadata_of(payloads, names):
  """Payloads' tab fields named: names ["answer", "source"] -> [{"answer": fields[0], "source": fields[1]}]."""
  if not names:
    return None
  return [{name: (p["fields"][i].strip() if i < len(p["fields"]) else "") for i, name in enumerate(names)}
          for p in payloads]


def open_index(kind, output_dir, dimension, milvus_uri=None, milvus_index="FLAT", collection=None,
               metadata_fields=(), expected_rows=0, overwrite=False):
  """An index to fill: None for faiss (built from the vectors at the end), a connected MilvusIndex for
  "milvus" (Milvus Lite in `output_dir/milvus.db` unless `milvus_uri`), so a bad URI or a dimension
  mismatch fails before any embedding."""
  if kind != "milvus":
    return None
  from bert_tf2.retrieval import milvus  # pylint: disable=g-import-not-at-top  (pymilvus only when used)
  os.makedirs(output_dir, exist_ok=True)
  return milvus.MilvusIndex.create(milvus_uri or os.path.join(output_dir, milvus.LITE_FILE), dimension,
                                   collection or milvus.DEFAULT_COLLECTION, milvus_index, metadata_fields,
                                   expected_rows, overwrite)


def fill_index(index, vectors, payloads, output_dir, meta, kind="flat", ids=None, metadata=None):
  """Puts the vectors into `index` (from `open_index`; None: a new FaissIndex) and writes meta.json."""
  if index is None:
    index = FaissIndex(vectors, payloads, kind=kind, ids=ids)
  else:
    index.upsert(np.arange(len(vectors)) if ids is None else ids, vectors, payloads, metadata)
    index.flush()
  index.save(output_dir, meta)
  return index


def build_index(encoder, texts, payloads, output_dir, kind="flat", model_path=None, metadata_fields=(), first_id=0,
                **milvus_options):
  """Embeds `texts` (normalized vectors, as the encoder is configured) and saves an index.

  kind: "flat" / "hnsw" (faiss, in memory) or "milvus" (`milvus_options`: `open_index`'s); ids are
  `first_id` + row numbers. The encoder's loading options go into meta.json so `Searcher.load`
  rebuilds it. An unwritable `output_dir`, an unreachable Milvus or a collection of another
  dimension fails before anything is embedded; a collection this call created is dropped if it fails.
  """
  checks.check_output_dir(output_dir)
  index = open_index(kind, output_dir, encoder.dimension, metadata_fields=metadata_fields,
                     expected_rows=len(texts), **milvus_options)
  return _fill(index, lambda: encoder.encode(texts, show_progress=len(texts) > 1000), payloads, output_dir,
               encoder_meta(encoder, model_path), kind, first_id + np.arange(len(texts)) if first_id else None,
               metadata_of(payloads, metadata_fields))


def index_vectors(vectors, payloads, output_dir, meta, kind="flat", ids=None, metadata_fields=(), **milvus_options):
  """`build_index` for vectors embedded already (scripts/embed_corpus.py's): `meta` names their encoder."""
  checks.check_output_dir(output_dir)
  index = open_index(kind, output_dir, vectors.shape[1], metadata_fields=metadata_fields,
                     expected_rows=len(vectors), **milvus_options)
  return _fill(index, lambda: vectors, payloads, output_dir, meta, kind, ids, metadata_of(payloads, metadata_fields))


def _fill(index, make_vectors, payloads, output_dir, meta, kind, ids, metadata):
  try:
    return fill_index(index, make_vectors(), payloads, output_dir, meta, kind, ids, metadata)
  except BaseException:
    if index is not None:
      if index.created:
        index.drop()
      index.close()
    raise


def load_index(directory):
  """Returns (index, meta) from an index directory: a FaissIndex or a MilvusIndex, as meta.json says."""
  meta = read_meta(directory)
  if meta.get("kind") == "milvus":
    from bert_tf2.retrieval import milvus  # pylint: disable=g-import-not-at-top  (pymilvus only when used)
    return milvus.MilvusIndex.from_meta(directory, meta), meta
  return FaissIndex.from_meta(directory, meta), meta


class Searcher:
  """An index plus the encoder that built it: queries (str) -> [(score, payload)] best first."""

  def __init__(self, encoder, index):
    self.encoder, self.index = encoder, index

  @classmethod
  def load(cls, index_dir, model=None):
    """Loads `build_index`'s directory (faiss or Milvus); the model is the one recorded there unless `model`."""
    meta = read_meta_checked(index_dir, model)
    index, meta = load_index(index_dir)
    options = {k: meta[k] for k in _ENCODER_OPTIONS if meta.get(k) is not None}
    if model:
      options.pop("vocab_file", None)
    try:
      encoder = embeddings.SentenceEncoder.from_pretrained(model or meta["model"], normalize=meta.get("normalize", True),
                                                           **options)
    except BaseException:
      index.close()
      raise
    return cls(encoder, index)

  def search(self, queries, k=10, filter=None):  # pylint: disable=redefined-builtin
    """[str] -> per query [(score, payload)], best first; `filter`: a Milvus expression (Milvus indexes)."""
    scores, ids = self.index.search(self.encoder.encode(list(queries)), k, filter=filter)
    found = sorted({int(i) for i in ids.ravel() if i >= 0})
    payloads = dict(zip(found, self.index.get_payloads(found)))
    return [[(float(s), payloads[int(i)]) for s, i in zip(row_s, row_i) if i >= 0]
            for row_s, row_i in zip(scores, ids)]

  def close(self):
    self.index.close()


def read_meta_checked(index_dir, model=None):
  """meta.json of `index_dir`, which must record a model unless `model` is given."""
  meta = read_meta(index_dir)
  if not (model or meta.get("model")):
    raise ValueError("%s/meta.json records no model; pass one" % index_dir)
  return meta
