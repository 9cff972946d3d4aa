"""Sentence embeddings from a BERT encoder, with bert-as-service's pooling options.

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2/", pooling_layer=-1, normalize=True)
    vectors = encoder.encode(["A man is playing a guitar.", "医疗保险怎么缴纳？"])  # float32 [2, 384]

`from_pretrained` reads a Google checkpoint (prefix or directory with `bert_config.json` and
`vocab.txt`), a Hugging Face directory (`config.json`, `vocab.txt`, `model.safetensors` or
`pytorch_model.bin`) or the encoder SavedModel of `bert_tf2.core.export` (written by `export_saved_model`
or `export.export_encoder`; its recorded casing, length and pooling are the defaults).

Pooling (bert-as-service's `-pooling_strategy`), over the layers in `pooling_layer` (indexes into
the encoder layers, -1 = last; bert-as-service's default -2; several are concatenated on the
feature axis before pooling). Padding never enters a pooled value:
  REDUCE_MEAN      masked mean over tokens                    [B, D]
  REDUCE_MAX       masked max over tokens                     [B, D]
  REDUCE_MEAN_MAX  [mean, max] concatenated                   [B, 2D]
  CLS_TOKEN        the first token ([CLS])                    [B, D]
  SEP_TOKEN        the last real token ([SEP])                [B, D]
  NONE             token vectors, zero on padding             [B, T, D]
`precision` ("float32", "bfloat16", "int8"; `bert_tf2.core.precision`) is how the encoder computes:
bfloat16 rebuilds the `BertModel` under `mixed_bfloat16`; int8 converts it to a LiteRT dynamic-range
int8 model (`bert_tf2.core.litert`, XNNPACK) that runs ids -> layers; pooling is the same for all (in
numpy after LiteRT: `pooling.pool_layers_numpy`).
An exported SavedModel records its precision, and `from_pretrained` runs it so (int8: the
`encoder_int8.tflite` in its assets).

Texts are tokenized as Google's `extract_features` (`a ||| b` is a pair), sorted by length and
batched so that short sentences are not padded to the longest one, then put back in input order.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf2 import modeling, tokenization
from bert_tf2.core import checks
from bert_tf2.core import export, litert
from bert_tf2.core import precision as precisions
from bert_tf2.core.features import (INPUT_NAMES, bucket_batches, check_max_seq_length, convert_examples_to_features,
                               lines_to_examples, pad_batch)
# POOLING_STRATEGIES: the pooling_strategy values, part of this module's interface.
from bert_tf2.embeddings.pooling import (POOLING_STRATEGIES, check_options, pool_layers,  # noqa: F401
                                       pool_layers_numpy)


def unk_share(features):
  """[InputFeatures] -> (number of [UNK] pieces, number of pieces), [CLS]/[SEP] not counted."""
  unknown = pieces = 0
  for f in features:
    pieces += sum(1 for t in f.tokens if t not in ("[CLS]", "[SEP]"))
    unknown += f.tokens.count("[UNK]")
  return unknown, pieces


class SentenceEncoder:
  """Texts -> vectors. Thread-safe: `encode` may be called from several threads at once.

  `encode` logs one warning (per encoder) when more than `unk_warning_threshold` (default 0.1)
  of a call's word pieces are [UNK].

  Args:
    model: a `BertModel`, or a callable batch dict -> list of L float Tensors [B, T, D].
    tokenizer: a `FullTokenizer`.
    num_layers: int, L (taken from `model.config` when it has one).
    max_seq_length: int, tokens per text including [CLS]/[SEP]; longer texts are truncated.
    pooling_strategy: str, one of POOLING_STRATEGIES.
    pooling_layer: int or list of int, encoder layer indexes (-1 = last).
    normalize: bool, L2-normalize each vector.
    batch_size: int, texts per model call.
    vocab_file: str or None, the tokenizer's file (kept for `export_saved_model`).
    precision: "float32", "bfloat16" or "int8" (module doc). With a `litert.Runner` as `model`
      (ids -> {"encoder_outputs": [B, L, T, D]}), that is what runs.
  """

  def __init__(self, model, tokenizer, num_layers=None, max_seq_length=128, pooling_strategy="REDUCE_MEAN",
               pooling_layer=-2, normalize=False, batch_size=64, vocab_file=None, precision="float32"):
    self.precision = precisions.check_precision(precision)
    config = getattr(model, "config", None)
    self.runner = model if isinstance(model, litert.Runner) else None
    if config is not None and precision == "bfloat16":
      model = precisions.for_precision(model, precision)
    elif config is not None and precision == "int8":
      self.tflite = litert.encoder_layers_int8(model)
      self.runner = litert.Runner(self.tflite, num_threads=litert.default_threads())
    self.num_layers = num_layers or config.num_hidden_layers
    self.pooling_layer = check_options(pooling_strategy, pooling_layer, self.num_layers)
    check_max_seq_length(max_seq_length, config.max_position_embeddings if config is not None else None)
    self.model, self.tokenizer = model, tokenizer
    self.max_seq_length, self.pooling_strategy = max_seq_length, pooling_strategy
    self.normalize, self.batch_size, self.vocab_file = normalize, batch_size, vocab_file
    self.unk_warning_threshold, self._warned_unk = 0.1, False
    spec = tf.TensorSpec([None, None], tf.int32)
    layers_fn = (lambda batch: model(batch, training=False)["encoder_outputs"]) if config is not None else model

    @tf.function(input_signature=[{"input_ids": spec, "input_mask": spec, "segment_ids": spec}])
    def run(batch):
      return pool_layers(layers_fn(batch), batch["input_mask"], self.pooling_layer, pooling_strategy, normalize)

    def run_litert(batch):  # LiteRT runs the layers; pooling as above, in numpy (eager TF ops cost more)
      layers = self.runner(batch)["encoder_outputs"]  # (B, L, T, D)
      return pool_layers_numpy(layers, batch["input_mask"], self.pooling_layer, pooling_strategy, normalize)
    self._run = (lambda batch: run(batch).numpy()) if self.runner is None else run_litert  # batch -> np.ndarray

  @property
  def dimension(self):
    """Width of one vector (of one token vector for NONE)."""
    config = getattr(self.model, "config", None)
    width = config.hidden_size if config is not None else self._probe_width()
    width *= len(self.pooling_layer)
    return 2 * width if self.pooling_strategy == "REDUCE_MEAN_MAX" else width

  def _probe_width(self):
    out = self._run(pad_batch(self.features([""])))
    return out.shape[-1] // len(self.pooling_layer) // (2 if self.pooling_strategy == "REDUCE_MEAN_MAX" else 1)

  def features(self, texts):
    """[str] -> [InputFeatures], `a ||| b` read as a pair, truncated to max_seq_length."""
    for i, text in enumerate(texts):
      if not isinstance(text, str):
        raise TypeError("texts[%d] is %s, not str" % (i, type(text).__name__))
    return convert_examples_to_features(lines_to_examples(texts), None, self.max_seq_length, self.tokenizer,
                                        pad=False)

  def encode(self, texts, batch_size=None, show_progress=None):
    """Embeds `texts` (list of str); a progress bar shows when asked, or by default above 10,000 texts.

    Returns:
      float32 np.ndarray [N, dimension]; for NONE [N, T, dimension] with T the longest text's
      token count and zeros on padding.
    """
    if isinstance(texts, str):
      raise TypeError("encode takes a list of strings, not one string")
    features = self.features(list(texts))
    unknown, pieces = unk_share(features)
    if pieces and unknown > self.unk_warning_threshold * pieces and not self._warned_unk:
      self._warned_unk = True  # once per encoder: the vocabulary does not fit the text
      logging.warning("%d of %d word pieces (%.0f%%) are [UNK]: this model's vocabulary does not cover the text "
                      "(e.g. an English vocab on Chinese), so its vectors say little", unknown, pieces,
                      100.0 * unknown / pieces)
    return self.encode_features(features, batch_size, show_progress)

  def encode_features(self, features, batch_size=None, show_progress=None):
    """Like `encode`, for [InputFeatures] already made (`features`, or from pre-tokenized input)."""
    if not features:
      return np.zeros([0, self.dimension], np.float32)
    batches = bucket_batches([len(f.input_ids) for f in features], batch_size or self.batch_size)
    if show_progress is None:
      show_progress = len(features) > 10000
    progress = keras.utils.Progbar(len(features), unit_name="text") if show_progress else None
    results = [None] * len(features)
    for indexes in batches:
      pooled = self._run(pad_batch([features[i] for i in indexes]))
      for row, i in enumerate(indexes):
        results[i] = pooled[row]
      if progress is not None:
        progress.add(len(indexes))
    if self.pooling_strategy == "NONE":
      length = max(r.shape[0] for r in results)
      results = [np.pad(r, [(0, length - r.shape[0]), (0, 0)]) for r in results]
    return np.stack(results).astype(np.float32)

  @classmethod
  def from_pretrained(cls, path, vocab_file=None, bert_config_file=None, do_lower_case=None, max_seq_length=None,
                      precision=None, **kwargs):
    """Loads a Google checkpoint, a Hugging Face directory or an exported SavedModel (see module doc).

    `vocab_file` and `bert_config_file` default to the files beside the checkpoint. `max_seq_length`
    defaults to the SavedModel's, a sentence-transformers directory's, or 128. `precision` defaults
    to the SavedModel's, else float32. Other kwargs go to the constructor.
    """
    path = os.fspath(path)
    if precision is not None:
      precisions.check_precision(precision)
    if os.path.exists(os.path.join(path, "saved_model.pb")):
      return _from_saved_model(path, max_seq_length=max_seq_length, do_lower_case=do_lower_case,
                               precision=precision, **kwargs)
    model, tokenizer, found = modeling.from_pretrained(path, vocab_file, bert_config_file, do_lower_case)
    return cls(model, tokenizer, max_seq_length=max_seq_length or found["max_seq_length"],  # checked, never clamped
               vocab_file=found["vocab_file"], precision=precision or "float32", **kwargs)


def encode_file(encoder, input_file, output_file, show_progress=False, errors="strict"):
  """Embeds each line of `input_file` (blank lines too, so row i is line i) into `output_file` (.npy).

  Returns (number of lines, array shape). Written under a temporary name, then renamed.
  `errors`: non-UTF-8 input is an error naming file and line ("strict"), or "replace"/"ignore".
  """
  vectors = encoder.encode(checks.read_lines(input_file, errors), show_progress=show_progress)
  tmp = "%s.tmp-%d" % (output_file, os.getpid())
  with open(tmp, "wb") as f:
    np.save(f, vectors)
  os.replace(tmp, output_file)
  return len(vectors), vectors.shape


def export_saved_model(encoder, export_dir, vocab_file, do_lower_case=True):
  """Writes `encoder` (over a `BertModel`) as the encoder SavedModel of `bert_tf2.core.export`, with
  `serving_default(text: string [B]) -> {"embeddings": float32 [B, dimension]}`.

  Tokenization runs in the graph (`bert_tf2.fast_tokenizer`, ids equal to `FullTokenizer`'s),
  with the encoder's max_seq_length, pooling and normalization, which are recorded so that
  `SentenceEncoder.from_pretrained(export_dir)` restores them (or re-pools with other options
  through the `serve_ids` signature), and its precision (`export.export_encoder`). Written to a
  temporary directory, then renamed.
  """
  if getattr(encoder.model, "config", None) is None:
    raise ValueError("only an encoder over a BertModel can be exported (this one runs a SavedModel)")
  return export.export_encoder(encoder.model, export_dir, vocab_file, do_lower_case, encoder.max_seq_length,
                               encoder.pooling_strategy, encoder.pooling_layer, encoder.normalize,
                               default_signature="serve_embeddings", precision=encoder.precision,
                               tflite=getattr(encoder, "tflite", None))


def _from_saved_model(export_dir, max_seq_length=None, do_lower_case=None, precision=None, **kwargs):
  """A SentenceEncoder over an encoder SavedModel (`export.export_encoder`, `export_saved_model`):
  its recorded casing, length, pooling and precision are the defaults; every layer is there to re-pool.
  int8 runs its `encoder_int8.tflite` asset (or, for another export, its serve_ids converted now);
  bfloat16 and float32 run its graph, which computes at the precision it was exported with."""
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (the tokenizer's ops)
  loaded = tf.saved_model.load(export_dir)
  try:
    settings = export.encoder_settings(loaded)
  except ValueError as e:
    raise ValueError("%s: %s" % (export_dir, e)) from None
  do_lower_case = settings["do_lower_case"] if do_lower_case is None else do_lower_case
  vocab_file = os.path.join(export_dir, "assets", os.path.basename(settings["vocab_file"]))
  for key in ("pooling_strategy", "pooling_layer", "normalize"):
    kwargs.setdefault(key, settings[key])
  serve_ids = loaded.signatures["serve_ids"]
  hub_names = dict(zip(INPUT_NAMES, export.HUB_INPUT_NAMES))
  recorded = settings["precision"]
  precision = precision or recorded
  graph_precision = "bfloat16" if recorded == "bfloat16" else "float32"  # what its graph computes in
  if precision != "int8" and precision != graph_precision:
    raise ValueError("%s was exported at %s; it runs at %s or int8, not %s (export again with --precision=%s)"
                     % (export_dir, recorded, graph_precision, precision, precision))

  def layers_fn(batch):
    out = serve_ids(**{hub_names[k]: v for k, v in batch.items()})["encoder_outputs"]  # (B, L, T, D)
    return tf.unstack(out, axis=1)
  model = layers_fn
  if precision == "int8":
    tflite_file = os.path.join(export_dir, "assets", export.INT8_ASSET)
    if os.path.exists(tflite_file):
      model = litert.Runner(model_path=tflite_file, num_threads=litert.default_threads())
    else:
      model = litert.Runner(litert.convert(tf.function(lambda input_ids, input_mask, segment_ids: {
          "encoder_outputs": serve_ids(input_word_ids=input_ids, input_mask=input_mask,
                                       input_type_ids=segment_ids)["encoder_outputs"]}), "int8"),
          num_threads=litert.default_threads())
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  encoder = SentenceEncoder(model, tokenizer, num_layers=settings["num_layers"],
                            max_seq_length=max_seq_length or settings["max_seq_length"], vocab_file=vocab_file,
                            precision=precision, **kwargs)
  encoder.saved_model = loaded  # keeps the restored variables alive
  return encoder
