"""SavedModel pieces every export shares, and the one encoder format (features, embeddings).

  export_encoder(encoder, "export/", vocab_file, do_lower_case=True, max_seq_length=128)

  # Any process with TensorFlow and tensorflow-text (whose ops the tokenizer uses):
  import tensorflow as tf, tensorflow_text  # noqa: F401
  enc = tf.saved_model.load("export/")
  enc.signatures["serve_embeddings"](text=tf.constant(["很好"]))["embeddings"]   # float32 [1, D]

`TextInputs` tokenizes raw strings in the graph (`bert_tf2.fast_tokenizer`), `save_module` writes a
module through a temporary directory, so a reader never sees half an export; each family's raw-text
export (`tasks/<family>/export.py`) is built from these. An encoder export (`export_encoder`, also
behind `embeddings.export_saved_model`) is `EncoderModule`: TF Hub's BERT encoder signature on ids
(input_word_ids, input_mask, input_type_ids -> pooled_output, sequence_output, encoder_outputs,
default), raw text in (serve_text, serve_embeddings), and the settings `encoder_settings` reads back.
"""

import os
import shutil

import tensorflow as tf

from bert_tf2 import checkpoints, modeling
from bert_tf2.core import checks, litert, text_model
from bert_tf2.core import precision as precisions
from bert_tf2.embeddings import pooling
from bert_tf2.fast_tokenizer import FastTokenizer, pack_inputs

_INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
# TF Hub's names for the same inputs (the BERT encoders on tfhub.dev / Kaggle Models).
HUB_INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")
# An int8 encoder export's LiteRT model (ids -> encoder_outputs), in assets/: what bert_tf2 runs.
INT8_ASSET = "encoder_int8.tflite"
IDS_SIGNATURE = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in _INPUT_NAMES}


class TextInputs(tf.Module):
  """Raw strings -> packed int32 inputs, in the graph."""

  def __init__(self, vocab_file, do_lower_case, max_seq_length):
    super().__init__()
    self.tokenizer = FastTokenizer(vocab_file, do_lower_case)
    self.max_seq_length = max_seq_length
    self.vocab_asset = tf.saved_model.Asset(vocab_file)

  def pack(self, text_a, text_b=None):
    ids = self.tokenizer.special_ids
    packed = pack_inputs(self.tokenizer(text_a), None if text_b is None else self.tokenizer(text_b),
                         self.max_seq_length, ids["[CLS]"], ids["[SEP]"])
    packed.pop("num_truncated")
    return packed


class TextModule(tf.Module):
  """A task model served on raw text: `serving_default(text_a[, text_b])` and `serve_ids(ids)`, both
  returning `self.outputs(inputs)`, which a family's export defines (probabilities, a score, ...)."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, is_pair):
    super().__init__()
    self.model = model
    self.text = TextInputs(vocab_file, do_lower_case, max_seq_length)
    self.is_pair = is_pair

  def outputs(self, inputs):
    raise NotImplementedError

  def text_function(self):
    """serving_default's function: text_a[, text_b] -> `outputs`."""
    text = tf.TensorSpec([None], tf.string, name="text_a")
    if self.is_pair:
      return tf.function(lambda text_a, text_b: self.outputs(self.text.pack(text_a, text_b)),
                         input_signature=[text, tf.TensorSpec([None], tf.string, name="text_b")])
    return tf.function(lambda text_a: self.outputs(self.text.pack(text_a)), input_signature=[text])

  def signatures(self):
    serve_text = self.serve_text = self.text_function()
    ids = tf.function(lambda input_ids, input_mask, segment_ids: self.outputs(
        {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}),
        input_signature=list(IDS_SIGNATURE.values()))
    return {"serving_default": serve_text.get_concrete_function(), "serve_ids": ids.get_concrete_function()}


class EncoderModule(tf.Module):
  """The one encoder SavedModel of bert_tf2: a bare `BertModel`, its tokenizer and its pooling settings.

  Signatures (the same in every encoder export; `serving_default` is one of them):
    serve_ids: TF Hub's BERT encoder interface: input_word_ids, input_mask, input_type_ids int32
      [B, T] -> pooled_output [B, D], sequence_output [B, T, D], encoder_outputs [B, L, T, D] (every
      layer, stacked), default (= pooled_output); all float32.
    serve_text: text_a string [B] -> sequence_output, pooled_output, input_mask [B, T] (tokenized in
      the graph as `FullTokenizer`, truncated to max_seq_length).
    serve_embeddings: text string [B] -> embeddings [B, dim]: pooled with `pooling_strategy` over
      `pooling_layer`, L2-normalized when `normalize`; `a ||| b` is a pair, as extract_features.
  Attributes `do_lower_case`, `max_seq_length`, `num_layers`, `pooling_strategy`, `pooling_layer`,
  `normalize` and the `vocab_file` asset let `encoder_settings` (and so
  `SentenceEncoder.from_pretrained`) load it back without guessing.
  TF Hub's Reusable SavedModel API (what `hub.KerasLayer(path, trainable=True)` calls and fine-tunes):
  the loaded object is callable, `encoder(inputs, training=False)` with `inputs` as serve_ids' ->
  pooled_output, sequence_output, default and encoder_outputs as a list of L [B, T, D]; and it has
  `variables`, `trainable_variables` and `regularization_losses` (empty).
  """

  variables = trainable_variables = None  # saved lists per instance (tf.Module's properties are not saved)

  def __init__(self, encoder, vocab_file, do_lower_case, max_seq_length, pooling_strategy="REDUCE_MEAN",
               pooling_layer=-1, normalize=False, precision="float32"):
    super().__init__()
    self.variables = list(encoder.variables)
    self.trainable_variables = list(encoder.trainable_variables)
    self.regularization_losses = []
    num_layers = encoder.config.num_hidden_layers
    self._options = (max_seq_length, pooling.check_options(pooling_strategy, pooling_layer, num_layers),
                     pooling_strategy, bool(normalize))
    self.encoder = encoder
    self.text = TextInputs(vocab_file, do_lower_case, max_seq_length)
    self.vocab_file = self.text.vocab_asset
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False)
    self.max_seq_length = tf.Variable(max_seq_length, trainable=False)
    self.num_layers = tf.Variable(num_layers, trainable=False)
    self.pooling_strategy = tf.Variable(pooling_strategy, trainable=False)
    self.pooling_layer = tf.Variable(self._options[1], trainable=False)
    self.normalize = tf.Variable(bool(normalize), trainable=False)
    self.precision = tf.Variable(precision, trainable=False)

  def _outputs(self, inputs):
    out = self.encoder(inputs, training=False)
    return {"sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "pooled_output": tf.cast(out["pooled_output"], tf.float32)}

  @tf.function(input_signature=[{name: tf.TensorSpec([None, None], tf.int32, name=name) for name in HUB_INPUT_NAMES}])
  def serve_ids(self, inputs):
    out = self.encoder({ours: inputs[hub] for ours, hub in zip(_INPUT_NAMES, HUB_INPUT_NAMES)}, training=False)
    pooled = tf.cast(out["pooled_output"], tf.float32)
    return {"pooled_output": pooled, "default": pooled, "sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "encoder_outputs": tf.cast(tf.stack(out["encoder_outputs"], axis=1), tf.float32)}  # (B, L, T, D)

  @tf.function
  def __call__(self, inputs, training=False):
    out = self.encoder({ours: inputs[hub] for ours, hub in zip(_INPUT_NAMES, HUB_INPUT_NAMES)}, training=training)
    pooled = tf.cast(out["pooled_output"], tf.float32)
    return {"pooled_output": pooled, "default": pooled, "sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "encoder_outputs": [tf.cast(layer, tf.float32) for layer in out["encoder_outputs"]]}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a")])
  def serve_text(self, text_a):
    inputs = self.text.pack(text_a)
    return dict(self._outputs(inputs), input_mask=inputs["input_mask"])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
  def serve_embeddings(self, text):
    _, pooling_layer, strategy, normalize = self._options
    # `a ||| b` is a pair, as in extract_features (the last " ||| " splits, after stripping).
    text = tf.strings.strip(text)
    pattern = r"^(.*) \|\|\| (.*)$"
    is_pair = tf.strings.regex_full_match(text, pattern)
    pair = self.text.pack(tf.where(is_pair, tf.strings.regex_replace(text, pattern, r"\1"), text),
                          tf.where(is_pair, tf.strings.regex_replace(text, pattern, r"\2"), ""))
    # A row without b (or with a b that tokenizes to nothing) packs as a single text, as the original.
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(pair["input_mask"], axis=1)), 1)  # trim padding
    batch = {k: pair[k][:, :length] for k in _INPUT_NAMES}
    layers = self.encoder(batch, training=False)["encoder_outputs"]
    pooled = pooling.pool_layers(layers, batch["input_mask"], pooling_layer, strategy, normalize)
    return {"embeddings": tf.cast(pooled, tf.float32)}

  def signatures(self, default="serve_ids"):
    hub_inputs = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in HUB_INPUT_NAMES}
    for training in (False, True):  # the two calls a restored object answers
      self.__call__.get_concrete_function(hub_inputs, training=training)
    functions = {"serve_ids": self.serve_ids, "serve_text": self.serve_text,
                 "serve_embeddings": self.serve_embeddings}
    return dict(functions, serving_default=functions[default])


def encoder_settings(loaded):
  """What an encoder SavedModel (`tf.saved_model.load` of `export_encoder`'s directory) records.

  Returns {vocab_file, do_lower_case, max_seq_length, num_layers, pooling_strategy, pooling_layer,
  normalize, precision} (precision float32 for exports older than it); ValueError when `loaded` is not one.
  """
  if "serve_ids" not in loaded.signatures or not hasattr(loaded, "num_layers"):
    raise ValueError("not an encoder SavedModel of bert_tf2 (export.export_encoder)")
  return {"vocab_file": loaded.vocab_file.asset_path.numpy().decode(),
          "do_lower_case": bool(loaded.do_lower_case.numpy()), "max_seq_length": int(loaded.max_seq_length.numpy()),
          "num_layers": int(loaded.num_layers.numpy()), "pooling_strategy": loaded.pooling_strategy.numpy().decode(),
          "pooling_layer": [int(i) for i in loaded.pooling_layer.numpy()], "normalize": bool(loaded.normalize.numpy()),
          "precision": loaded.precision.numpy().decode() if hasattr(loaded, "precision") else "float32"}


def replace_directory(tmp, directory):
  """Moves the finished directory `tmp` to `directory`, replacing (then removing) what was there, so a
  reader never sees half an export."""
  if os.path.exists(directory):
    old = directory + ".old-%d" % os.getpid()
    os.replace(directory, old)
    shutil.rmtree(old)
  os.replace(tmp, directory)


def save_module(module, export_dir, extra_assets=None, signatures=None, precision=None):
  """Saves `module` (with `signatures`, default `module.signatures()`) to a temporary directory beside
  `export_dir`, then swaps it in; `extra_assets` {name: text or bytes} are written into assets/. The
  helper every bert_tf2 export shares.

  `precision` (a task module's; an encoder records its own): recorded as `module.precision`; "int8"
  adds the module's model as LiteRT int8 and the signatures that run it (`core.text_model`).
  """
  export_dir = os.path.abspath(export_dir)
  tmp = export_dir + ".tmp-%d" % os.getpid()
  shutil.rmtree(tmp, ignore_errors=True)
  signatures = dict(signatures or module.signatures())
  if precision is not None:
    module.precision = tf.Variable(precisions.check_precision(precision), trainable=False)
  if precision == "int8":
    split, tflite = text_model.int8_split(module)
    signatures.update(split)
    extra_assets = dict(extra_assets or {}, **{text_model.INT8_MODEL: tflite})
  tf.saved_model.save(module, tmp, signatures=signatures)
  for name, content in (extra_assets or {}).items():
    if isinstance(content, bytes):
      with open(os.path.join(tmp, "assets", name), "wb") as f:
        f.write(content)
    else:
      with open(os.path.join(tmp, "assets", name), "w", encoding="utf-8") as f:
        f.write(content)
  replace_directory(tmp, export_dir)
  return export_dir


def export_encoder(encoder, export_dir, vocab_file, do_lower_case, max_seq_length, pooling_strategy="REDUCE_MEAN",
                   pooling_layer=-1, normalize=False, default_signature="serve_ids", precision="float32",
                   tflite=None):
  """Writes the encoder SavedModel (`EncoderModule`) of a bare `BertModel` to `export_dir`; returns the path.

  Args:
    encoder: a `BertModel`.
    vocab_file, do_lower_case: its tokenizer's; the vocab is copied into assets/.
    max_seq_length: int, what the text signatures truncate to.
    pooling_strategy, pooling_layer, normalize: what `serve_embeddings` computes (and the defaults
      `SentenceEncoder.from_pretrained` reads back); by default the masked mean of the last layer.
    default_signature: which signature is `serving_default`: "serve_ids" (TF Hub's encoder
      interface) or "serve_embeddings" (text in, one vector out: `embeddings.export_saved_model`).
    precision: "float32", "bfloat16" (the signatures compute in bfloat16) or "int8" (the signatures
      compute in float32, as TensorFlow's int8 matmul is slower than float32 on CPU; the LiteRT int8
      model of the layers, `tflite` or converted here, is written to assets/INT8_ASSET, and
      `SentenceEncoder.from_pretrained` and the server run that). Recorded in the export.
  """
  precisions.check_precision(precision)
  assets = None
  if precision == "int8":
    assets = {INT8_ASSET: tflite or litert.convert(litert.encoder_layers_function(encoder), "int8")}
  encoder = precisions.for_precision(encoder, precision)
  module = EncoderModule(encoder, vocab_file, do_lower_case, max_seq_length, pooling_strategy, pooling_layer,
                         normalize, precision)
  return save_module(module, export_dir, assets, signatures=module.signatures(default_signature))


def export_encoder_checkpoint(export_dir, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
                              max_seq_length=128, precision="float32"):
  """A pretrained encoder's files (Google prefix, bert_tf2 checkpoint or HF directory) -> `export_encoder`."""
  if not init_checkpoint:
    raise ValueError("exporting an encoder needs init_checkpoint (its weights)")
  config = checks.check_model_files(vocab_file, bert_config_file, init_checkpoint, max_seq_length)
  encoder = modeling.BertModel(config)
  checkpoints.load_checkpoint(encoder, init_checkpoint)
  return export_encoder(encoder, export_dir, vocab_file, do_lower_case, max_seq_length, precision=precision)
