"""Weights out to keras-hub: a preset directory `keras_hub.models.BertBackbone.from_preset` loads.

    save_keras_hub_preset(encoder, "preset/", vocab_file="vocab.txt", do_lower_case=True)
    # then, with keras-hub (no bert_tf2 needed):
    backbone = keras_hub.models.BertBackbone.from_preset("preset/")
    backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    # -> {"sequence_output": [B, T, D], "pooled_output": [B, D]}, ours within 1e-5

A `BertClassifier` becomes a `BertTextClassifier` preset (backbone + `logits` Dense + a
`BertTextClassifierPreprocessor` at `max_seq_length`), which `BertTextClassifier.from_preset`
loads and calls on raw strings. The files are keras-hub's own (`save_to_preset`): config.json,
model.weights.h5, tokenizer.json, assets/tokenizer/vocabulary.txt, metadata.json (a classifier adds
task.json, task.weights.h5, preprocessor.json); written to a temporary directory, then swapped in.

gelu: keras-hub's BertBackbone hard-codes the tanh approximation, `gelu(x, approximate=True)`, which
is Google's gelu; a model with exact erf gelu (`hidden_act: "gelu_exact"`, e.g. one loaded from a
Hugging Face directory such as all-MiniLM-L6-v2) cannot be represented and is refused, unless
`allow_gelu_approximation=True`, which exports it anyway and logs the measured difference.
The tokenizer: keras-hub's BertTokenizer, `strip_accents` = do_lower_case, `lowercase` =
`tokenizer_lowercase` (default do_lower_case). keras-hub lower-cases by NFKC case folding, which also
folds full-width forms ("（" -> "(", "１" -> "1") that the original keeps: with MiniLM's vocab,
2,399 of 3,000 People's Daily lines tokenize differently from FullTokenizer (0 of 46 English lines).
`tokenizer_lowercase=False` keeps them (0 of 3,000) but leaves upper-case letters, so English text
differs (benchmarks/keras_hub_differences.py). Ids given to the backbone directly are unaffected.
"""

import os
import shutil
import unicodedata

import numpy as np
from absl import logging

from bert_tf2 import checkpoints, tokenization
from bert_tf2.core import export
from bert_tf2.interop import hf_export

PROBE_TOLERANCE = 1e-4  # an export whose backbone differs more than this on a probe batch is refused


def _vocabulary(vocab_file):
  """Tokens in id order, as `load_vocab` numbers them (a repeated line takes no id)."""
  vocab = tokenization.load_vocab(vocab_file)
  tokenization.check_special_tokens(vocab, vocab_file)
  return list(vocab)


def _unreachable_by_case_folding(tokens):
  """Vocab tokens that NFKC case folding changes ("（" -> "(", "１" -> "1"): keras-hub never emits their ids."""
  def fold(token):
    return unicodedata.normalize("NFKC", token).casefold()
  return sum(1 for t in tokens if not (t.startswith("[") and t.endswith("]")) and fold(t) != t)


def _assign(variable, value, name):
  value = np.asarray(value, np.float32)
  if tuple(variable.shape) != value.shape:
    raise ValueError("keras-hub variable for %s has shape %s, ours %s" % (name, tuple(variable.shape), value.shape))
  variable.assign(value)


def _port_weights(backbone, tensors, config):
  """Assigns transformers-named `tensors` of one encoder to a keras-hub BertBackbone's variables."""
  heads, size = config.num_attention_heads, config.hidden_size // config.num_attention_heads
  d = config.hidden_size
  linear = lambda name: tensors[name].T  # transformers' [out, in] -> Keras [in, out]
  _assign(backbone.token_embedding.embeddings, tensors["embeddings.word_embeddings.weight"], "word_embeddings")
  _assign(backbone.position_embedding.position_embeddings, tensors["embeddings.position_embeddings.weight"],
          "position_embeddings")
  _assign(backbone.segment_embedding.embeddings, tensors["embeddings.token_type_embeddings.weight"],
          "token_type_embeddings")
  norm = backbone.embeddings_layer_norm
  _assign(norm.gamma, tensors["embeddings.LayerNorm.weight"], "embeddings.LayerNorm")
  _assign(norm.beta, tensors["embeddings.LayerNorm.bias"], "embeddings.LayerNorm")
  for i, block in enumerate(backbone.transformer_layers):
    p = "encoder.layer.%d." % i
    attention = block._self_attention_layer  # pylint: disable=protected-access
    for part, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                        ("value", attention.value_dense)):
      name = p + "attention.self." + part
      _assign(dense.kernel, linear(name + ".weight").reshape(d, heads, size), name)  # (D, N, H)
      _assign(dense.bias, tensors[name + ".bias"].reshape(heads, size), name)
    name = p + "attention.output.dense"
    _assign(attention.output_dense.kernel, linear(name + ".weight").reshape(heads, size, d), name)  # (N, H, D)
    _assign(attention.output_dense.bias, tensors[name + ".bias"], name)
    pairs = ((block._self_attention_layer_norm, "attention.output.LayerNorm", True),  # pylint: disable=protected-access
             (block._feedforward_intermediate_dense, "intermediate.dense", False),
             (block._feedforward_output_dense, "output.dense", False),
             (block._feedforward_layer_norm, "output.LayerNorm", True))
    for layer, name, is_norm in pairs:
      if is_norm:
        _assign(layer.gamma, tensors[p + name + ".weight"], p + name)
        _assign(layer.beta, tensors[p + name + ".bias"], p + name)
      else:
        _assign(layer.kernel, linear(p + name + ".weight"), p + name)
        _assign(layer.bias, tensors[p + name + ".bias"], p + name)
  pooler = backbone.get_layer("pooled_dense")
  _assign(pooler.kernel, linear("pooler.dense.weight"), "pooler.dense")
  _assign(pooler.bias, tensors["pooler.dense.bias"], "pooler.dense")


def _probe_difference(encoder, backbone, seed=0):
  """Max |ours - keras-hub| of sequence and pooled outputs on a random padded batch of 2 x 12."""
  config = encoder.config
  rng = np.random.default_rng(seed)
  length = min(12, config.max_position_embeddings)
  ids = rng.integers(0, config.vocab_size, (2, length)).astype(np.int32)
  mask = np.ones_like(ids)
  mask[1, length // 2:] = 0
  segments = (np.arange(length) >= length // 3).astype(np.int32)[None].repeat(2, 0) % config.type_vocab_size
  ours = encoder({"input_ids": ids, "input_mask": mask, "segment_ids": segments}, training=False)
  theirs = backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask}, training=False)
  real = mask.astype(bool)
  return max(float(np.abs(np.asarray(ours["sequence_output"])[real] - np.asarray(theirs["sequence_output"])[real]).max()),
             float(np.abs(np.asarray(ours["pooled_output"]) - np.asarray(theirs["pooled_output"])).max()))


def save_keras_hub_preset(model, directory, vocab_file, do_lower_case, max_seq_length=128,
                          allow_gelu_approximation=False, tokenizer_lowercase=None):
  """Writes `model` (a BertModel, or a BertClassifier / BertPretrainer's encoder) as a keras-hub preset.

  Args:
    model: BertModel, BertClassifier (-> BertTextClassifier preset) or any other task model with
      `.encoder` (pretrainer, tagger, QA: its encoder is exported as a BertBackbone preset).
    directory: str, replaced as a whole.
    vocab_file, do_lower_case: the model's tokenizer, written as keras-hub's BertTokenizer.
    max_seq_length: int, the classifier preprocessor's sequence_length.
    allow_gelu_approximation: bool, export an exact-gelu model although keras-hub will run it with tanh gelu.
    tokenizer_lowercase: bool, keras-hub's `lowercase` (case folding); default do_lower_case. See above.
  Returns:
    (directory, the probe batch's max |ours - keras-hub| before saving).
  """
  import keras_hub  # pylint: disable=g-import-not-at-top
  encoder = getattr(model, "encoder", model)
  config = encoder.config
  if config.hidden_act != "gelu":
    if config.hidden_act != "gelu_exact" or not allow_gelu_approximation:
      raise ValueError("keras-hub's BertBackbone computes gelu with the tanh approximation (Google's gelu); this "
                       "model's hidden_act is %r, which it cannot represent (pass allow_gelu_approximation=True "
                       "to export exact gelu anyway)" % config.hidden_act)
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
      num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
      intermediate_dim=config.intermediate_size, dropout=config.hidden_dropout_prob,
      max_sequence_length=config.max_position_embeddings, num_segments=config.type_vocab_size, dtype="float32")
  if config.layer_norm_eps != 1e-12:
    raise ValueError("keras-hub's BertBackbone fixes layer_norm_eps at 1e-12; this model has %g" % config.layer_norm_eps)
  _port_weights(backbone, hf_export.hf_tensors(checkpoints.variable_table(encoder)), config)
  difference = _probe_difference(encoder, backbone)
  if difference > PROBE_TOLERANCE and not allow_gelu_approximation:
    raise ValueError("keras-hub backbone differs from ours by %.3g on a probe batch" % difference)
  if config.hidden_act == "gelu_exact":
    logging.warning("Exact gelu exported to keras-hub's tanh gelu: outputs differ by %.3g on a probe batch", difference)
  vocabulary = _vocabulary(vocab_file)
  lowercase = bool(do_lower_case if tokenizer_lowercase is None else tokenizer_lowercase)
  unreachable = _unreachable_by_case_folding(vocabulary) if lowercase else 0
  if unreachable:
    logging.warning("%s: keras-hub's case folding changes %d vocab tokens (full-width forms, ligatures, ...); text "
                    "with them tokenizes differently from FullTokenizer (tokenizer_lowercase=False keeps them)",
                    vocab_file, unreachable)
  tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase,
                                             strip_accents=bool(do_lower_case))
  directory = os.path.abspath(directory)
  tmp = directory + ".tmp-%d" % os.getpid()
  shutil.rmtree(tmp, ignore_errors=True)
  # A sequence classifier (BertClassifier) becomes keras-hub's BertTextClassifier; other models (a tagger has
  # no keras-hub task) the backbone only.
  if getattr(model, "hf_architecture", None) == "BertForSequenceClassification":
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=max_seq_length)
    dropout = model.dropout_rate if getattr(model, "dropout_rate", None) is not None else config.hidden_dropout_prob
    task = keras_hub.models.BertTextClassifier(backbone, model.num_labels, preprocessor=preprocessor,
                                               dropout=dropout)
    _assign(task.output_dense.kernel, np.asarray(model.output_weights).T, "output_weights")
    _assign(task.output_dense.bias, model.output_bias, "output_bias")
    task.save_to_preset(tmp)
  else:
    backbone.save_to_preset(tmp)
    tokenizer.save_to_preset(tmp)
  export.replace_directory(tmp, directory)
  logging.info("Wrote a keras-hub preset to %s (probe difference %.3g)", directory, difference)
  return directory, difference
