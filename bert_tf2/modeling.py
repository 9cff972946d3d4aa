"""`BertConfig` and the `BertModel` encoder: Google's modeling.py as a Keras 3 functional model.

    config = BertConfig.from_json_file("chinese_L-12_H-768_A-12/bert_config.json")
    model = BertModel(config)
    load_checkpoint(model, "chinese_L-12_H-768_A-12/bert_model.ckpt")   # bert_tf2.checkpoints
    out = model({"input_ids": ids, "input_mask": mask, "segment_ids": segments})
    out["sequence_output"]  # [B, T, D]; also pooled_output, encoder_outputs, embedding_output
"""

import copy
import dataclasses
import json
import os

from absl import logging
import keras
import tensorflow as tf

from bert_tf2 import checkpoints, layers, tokenization
# The original modeling.py's helper functions, under their names (they live in modeling_ops).
from bert_tf2.modeling_ops import (  # noqa: F401
    assert_rank, create_attention_mask_from_input_mask, create_initializer, dropout, gelu, get_activation,
    get_assignment_map_from_checkpoint, get_shape_list, layer_norm, layer_norm_and_dropout,
    reshape_from_matrix, reshape_to_matrix)

# Hugging Face config.json keys that say nothing about a BERT encoder's weights or numerics. Other
# unknown keys in a Hugging Face file are logged, not fatal: `PretrainedConfig` accepts any key, so
# real config.json files carry generation settings, token ids and the like that no list can foresee.
_HF_IGNORED_KEYS = {
    "_name_or_path", "architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
    "use_cache", "gradient_checkpointing", "pad_token_id", "bos_token_id", "eos_token_id",
    "classifier_dropout", "id2label", "label2id", "problem_type", "finetuning_task", "output_past",
    "is_decoder", "add_cross_attention", "tie_word_embeddings", "return_dict", "output_hidden_states",
    "output_attentions", "torchscript", "use_bfloat16", "pruned_heads", "chunk_size_feed_forward",
    "tokenizer_class", "prefix", "task_specific_params", "xla_device", "num_labels",
}
# Google's multilingual / Chinese bert_config.json carry unused pooler_* and directionality keys.
_GOOGLE_IGNORED_KEYS = {
    "directionality", "pooler_fc_size", "pooler_num_attention_heads", "pooler_num_fc_layers",
    "pooler_size_per_head", "pooler_type",
}
# Hugging Face activation names -> ours. HF's "gelu" is exact erf; Google's "gelu" is the tanh form.
_HF_ACTIVATIONS = {"gelu": "gelu_exact", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu",
                   "relu": "relu", "tanh": "tanh", "silu": "swish", "swish": "swish"}


@keras.saving.register_keras_serializable(package="bert_tf2")
@dataclasses.dataclass
class BertConfig:
  """The shape and numerics of a BERT encoder; the keys of Google's `bert_config.json`.

  `hidden_act` follows Google: "gelu" is the tanh approximation; "gelu_exact" is erf gelu (what a
  Hugging Face config calls "gelu"). `layer_norm_eps` is 1e-12 in Google's code (fixed there).
  """
  vocab_size: int
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  hidden_dropout_prob: float = 0.1
  attention_probs_dropout_prob: float = 0.1
  max_position_embeddings: int = 512
  type_vocab_size: int = 16
  initializer_range: float = 0.02
  layer_norm_eps: float = 1e-12

  @classmethod
  def from_dict(cls, json_object, source="<dict>"):
    """Builds a config from Google's or Hugging Face's JSON dict.

    Unknown keys are an error in a Google file (a typo would silently change the model) and a
    logged warning in a Hugging Face one.
    """
    d = dict(json_object)
    # Our own and Google's files have no model_type; every Hugging Face config.json has one.
    is_hf = "model_type" in d or "architectures" in d or "transformers_version" in d
    if is_hf:
      if d.get("model_type", "bert") != "bert":
        raise ValueError("%s: model_type %r is not a BERT config" % (source, d["model_type"]))
      if d.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("%s: only absolute position embeddings are supported" % source)
      d.pop("position_embedding_type", None)
      # Keys a Hugging Face file leaves out take transformers' BertConfig defaults, not Google's.
      d = {"vocab_size": 30522, "hidden_act": "gelu", "type_vocab_size": 2, **d}
      if d["hidden_act"] not in _HF_ACTIVATIONS:
        raise ValueError("%s: unsupported hidden_act %r" % (source, d["hidden_act"]))
      d["hidden_act"] = _HF_ACTIVATIONS[d["hidden_act"]]
      if d.get("is_decoder") or d.get("add_cross_attention"):
        raise ValueError("%s: a decoder BERT (is_decoder / add_cross_attention) is not a BERT encoder" % source)
    ignored = (_HF_IGNORED_KEYS if is_hf else set()) | _GOOGLE_IGNORED_KEYS
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in d if k not in fields and k not in ignored)
    if unknown and is_hf:
      logging.warning("%s: ignoring Hugging Face config keys %s", source, ", ".join(unknown))
    elif unknown:  # a Google or bert_tf2 file: an unknown key is most likely a typo
      raise ValueError("%s: unknown BERT config keys %s" % (source, ", ".join(unknown)))
    if "vocab_size" not in d:
      raise ValueError("%s: vocab_size is required" % source)
    config = cls(**{k: v for k, v in d.items() if k in fields})
    layers.get_activation(config.hidden_act)  # fail early on an unknown activation
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Reads a Google `bert_config.json` or a Hugging Face `config.json`."""
    with open(json_file, encoding="utf-8") as f:
      try:
        d = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError("%s: line %d: invalid JSON: %s" % (json_file, e.lineno, e.msg)) from None
    return cls.from_dict(d, source=str(json_file))

  def to_dict(self):
    return dataclasses.asdict(self)

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

  def to_json_file(self, json_file):
    with open(json_file, "w", encoding="utf-8") as f:
      f.write(self.to_json_string())

  def copy(self, **changes):
    return dataclasses.replace(copy.deepcopy(self), **changes)

  # Keras' names for to_dict/from_dict: layers' configs carry a serialized BertConfig.
  def get_config(self):
    return self.to_dict()

  @classmethod
  def from_config(cls, config):
    return cls.from_dict(config)


def attention_bias_from_mask(input_mask, dtype=tf.float32):
  """int [B, T] mask (1 = token, 0 = padding) -> [B, 1, 1, T] bias of 0 / -10000 (the original's)."""
  mask = tf.reshape(tf.cast(input_mask, dtype), [tf.shape(input_mask)[0], 1, 1, -1])  # (B, 1, 1, T); LiteRT-convertible
  return (1.0 - mask) * -10000.0


def apply_layers(embeddings, encoder_layers, inputs, last_layer_positions=None):
  """Runs the encoder's layers on a dict of int32 [B, T] `input_ids`, `input_mask`, `segment_ids`.

  Returns (embedding_output [B, T, D], encoder_outputs: one [B, T, D] per layer). With int32
  `last_layer_positions` [B, F], the last layer is computed at those positions only ([B, F, D];
  keys and values from all T): `BertPretrainer` uses this, its heads read the first token and
  the masked positions only.
  """
  embedding_output = embeddings((inputs["input_ids"], inputs["segment_ids"]))
  attention_bias = keras.layers.Lambda(attention_bias_from_mask, name="attention_bias")(inputs["input_mask"])
  x = embedding_output
  encoder_outputs = []
  for i, layer in enumerate(encoder_layers):
    last = i == len(encoder_layers) - 1
    x = layer((x, attention_bias, last_layer_positions) if last and last_layer_positions is not None
              else (x, attention_bias))
    encoder_outputs.append(x)
  return embedding_output, encoder_outputs


@keras.saving.register_keras_serializable(package="bert_tf2")
class BertModel(keras.Model):
  """BERT encoder: dict in (`input_ids`, `input_mask`, `segment_ids`, int32 [B, T]), dict out.

  Outputs:
    sequence_output: [B, T, D], the last layer.
    pooled_output: [B, D], tanh(dense(first token)).
    encoder_outputs: list of num_hidden_layers tensors [B, T, D], one per layer.
    embedding_output: [B, T, D], the embeddings after LayerNorm (and dropout in training).
  Dropout is active only when called with `training=True`.
  """

  def __init__(self, config, **kwargs):
    if isinstance(config, dict):
      config = BertConfig.from_dict(config)
    # === Layers ===
    embeddings = layers.BertEmbeddings(config, name="embeddings")
    encoder_layers = [layers.TransformerLayer(config, name="layer_%d" % i)
                      for i in range(config.num_hidden_layers)]
    pooler = keras.layers.Dense(config.hidden_size, activation="tanh",
                                kernel_initializer=layers.initializer(config), name="pooler")

    # === Functional Model ===
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("input_ids", "input_mask", "segment_ids")}
    embedding_output, encoder_outputs = apply_layers(embeddings, encoder_layers, inputs)
    x = encoder_outputs[-1]
    first_token = keras.layers.Lambda(lambda t: t[:, 0], name="first_token")(x)
    outputs = {
        "sequence_output": x,
        "pooled_output": pooler(first_token),
        "encoder_outputs": encoder_outputs,
        "embedding_output": embedding_output,
    }
    super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    # === Config ===
    self.config = config
    self.embeddings = embeddings
    self.encoder_layers = encoder_layers
    self.pooler = pooler

  def get_config(self):
    return {"config": self.config.to_dict(), "name": self.name}

  @classmethod
  def from_config(cls, config):
    return cls(BertConfig.from_dict(config["config"]), name=config.get("name"))


def from_pretrained(path, vocab_file=None, bert_config_file=None, do_lower_case=None):
  """A pretrained encoder and its tokenizer in one call, from a Google or Hugging Face directory.

      model, tokenizer, found = from_pretrained("chinese_L-12_H-768_A-12")   # or an HF directory
      model(tokenizer-made inputs)["sequence_output"]

  `path`: a Google model directory or checkpoint prefix (bert_config.json and vocab.txt beside it),
  a Hugging Face directory (config.json, tokenizer_config.json's casing), or one of our output dirs.
  Casing, when not given: HF's tokenizer_config.json, else Google's directory naming (`cased_` is
  cased, `uncased_` / `chinese_` lower-cased). Returns (`BertModel`, `FullTokenizer`, {vocab_file,
  do_lower_case, max_seq_length: a sentence-transformers directory's, else min(128, positions)}).
  """
  path = os.fspath(path)
  if os.path.exists(os.path.join(path, "bert_model.ckpt.index")):  # a Google model directory
    path = os.path.join(path, "bert_model.ckpt")
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  max_seq_length = None
  if not bert_config_file and os.path.exists(os.path.join(directory, "config.json")) and os.path.isdir(path):  # HF
    config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
    do_lower_case = _json_value(os.path.join(directory, "tokenizer_config.json"), "do_lower_case", do_lower_case)
    max_seq_length = _json_value(os.path.join(directory, "sentence_bert_config.json"), "max_seq_length", None)
  else:
    config_file = bert_config_file or os.path.join(directory, "bert_config.json")
    if not os.path.exists(config_file):
      raise ValueError("%s: no bert_config.json, config.json or saved_model.pb here" % path)
    config = BertConfig.from_json_file(config_file)
    if do_lower_case is None:  # Google's naming: cased_L-12_H-768_A-12 vs uncased_/chinese_
      name = os.path.basename(os.path.normpath(directory)).lower()
      do_lower_case = not ("cased" in name and "uncased" not in name)
  vocab_file = vocab_file or os.path.join(directory, "vocab.txt")
  if not os.path.isfile(vocab_file):
    raise ValueError("vocab_file: no such file: %s" % vocab_file)
  do_lower_case = True if do_lower_case is None else do_lower_case
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  if max(tokenizer.vocab.values(), default=-1) >= config.vocab_size:
    raise ValueError("%s has %d tokens but %s says vocab_size=%d: is the config for this vocab?"
                     % (vocab_file, max(tokenizer.vocab.values()) + 1, bert_config_file or directory,
                        config.vocab_size))
  model = BertModel(config)
  status = checkpoints.load_checkpoint(model, path)
  if not status.loaded or any(name.startswith(("bert/embeddings", "bert/encoder")) for name in status.missing):
    raise ValueError("%s: encoder variables missing from the checkpoint: %s" % (path, status.missing[:3]))
  return model, tokenizer, {"vocab_file": vocab_file, "do_lower_case": do_lower_case,
                            "max_seq_length": max_seq_length or min(128, config.max_position_embeddings)}


def _json_value(path, key, default):
  if default is not None or not os.path.exists(path):
    return default
  with open(path, encoding="utf-8") as f:
    return json.load(f).get(key, default)
