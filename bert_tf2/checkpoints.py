"""Weights in and out: Google TF1 checkpoints, Hugging Face directories, our TF2 checkpoints.

One table maps each model variable to its Google name and its Hugging Face name: the encoder's
names are here, the task heads' are declared beside their variables (the model's
`checkpoint_heads()`, each head's `checkpoint_entries()`; `bert_tf2.checkpoint_names`). A variable
no name covers is an error. Loading and saving both read that table, so the two directions cannot
drift apart.

    load_checkpoint(model, "chinese_L-12_H-768_A-12/bert_model.ckpt")  # Google prefix
    load_checkpoint(model, "all-MiniLM-L6-v2/")      # HF dir: model.safetensors or pytorch_model.bin
    save_google_checkpoint(model, "out/bert_model.ckpt")
    save_hf_checkpoint(model, "out_hf/", vocab_file="vocab.txt", do_lower_case=True)
"""

import collections
import os
import re

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import trackable_object_graph_pb2

from bert_tf2 import checkpoint_names
from bert_tf2 import tokenization
from bert_tf2.interop import hf_export
from bert_tf2.interop import hf_weights

# A checkpoint variable that is a training artefact, not a weight: never reported as unused.
_OPTIMIZER_MARKERS = ("adam_m", "adam_v", "global_step", "Momentum", "lamb_m", "lamb_v", "_CHECKPOINTABLE_OBJECT_GRAPH")

_LAYER = re.compile(r"layer_(\d+)/")
LoadStatus = collections.namedtuple("LoadStatus", ["loaded", "missing", "unused"])
_Entry = checkpoint_names.Entry
_dense = checkpoint_names.dense
_layer_norm = checkpoint_names.layer_norm


def _encoder_entries(encoder):
  """Google and HF names of every `BertModel` variable (HF names without the `bert.` prefix)."""
  emb = encoder.embeddings
  entries = [
      _Entry("bert/embeddings/word_embeddings", "embeddings.word_embeddings.weight",
             emb.word_embeddings.embeddings, False),
      _Entry("bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings.weight",
             emb.token_type_embeddings.embeddings, False),
      _Entry("bert/embeddings/position_embeddings", "embeddings.position_embeddings.weight",
             emb.position_embeddings, False),
  ] + _layer_norm("bert/embeddings/LayerNorm", "embeddings.LayerNorm", emb.layer_norm)
  for i, layer in enumerate(encoder.encoder_layers):
    g, h = "bert/encoder/layer_%d" % i, "encoder.layer.%d" % i
    for part in ("query", "key", "value"):
      entries += _dense("%s/attention/self/%s" % (g, part), "%s.attention.self.%s" % (h, part),
                        getattr(layer.attention, part))
    entries += _dense(g + "/attention/output/dense", h + ".attention.output.dense", layer.attention_output)
    entries += _layer_norm(g + "/attention/output/LayerNorm", h + ".attention.output.LayerNorm",
                           layer.attention_layer_norm)
    entries += _dense(g + "/intermediate/dense", h + ".intermediate.dense", layer.intermediate)
    entries += _dense(g + "/output/dense", h + ".output.dense", layer.output_dense)
    entries += _layer_norm(g + "/output/LayerNorm", h + ".output.LayerNorm", layer.output_layer_norm)
  entries += _dense("bert/pooler/dense", "pooler.dense", encoder.pooler)
  return entries


def _tables(model):
  """(encoder entries, head entries) of `model`; raises ValueError unless they cover `model.weights`.

  The heads are those `model.checkpoint_heads()` lists (none without it), each naming its own
  variables in `checkpoint_entries()`. `model.weights` holds no seed-generator state (Dropout's
  RNG is in `model.variables` only), so nothing that is not a weight needs a name.
  """
  encoder = getattr(model, "encoder", model)
  encoder_entries = _encoder_entries(encoder)
  if encoder is not model:
    encoder_entries = [e._replace(hf="bert." + e.hf) for e in encoder_entries]
  head_entries = []
  for head in model.checkpoint_heads() if hasattr(model, "checkpoint_heads") else ():
    if not hasattr(head, "checkpoint_entries"):
      raise ValueError("%s.checkpoint_heads(): %s has no checkpoint_entries()"
                       % (type(model).__name__, getattr(head, "name", type(head).__name__)))
    head_entries += head.checkpoint_entries()
  entries = encoder_entries + head_entries
  covered = {id(e.variable) for e in entries}
  uncovered = [v.path for v in model.weights if id(v) not in covered]
  if uncovered:
    raise ValueError("%s: no checkpoint name for %s (a head declares its variables' names in "
                     "checkpoint_entries() and the model lists the head in checkpoint_heads(); "
                     "see bert_tf2.checkpoint_names)" % (type(model).__name__, ", ".join(uncovered)))
  for field in ("google", "hf"):
    counts = collections.Counter(getattr(e, field) for e in entries if getattr(e, field) is not None)
    twice = sorted(name for name, n in counts.items() if n > 1)
    if twice:
      raise ValueError("%s: checkpoint name declared twice: %s" % (type(model).__name__, ", ".join(twice)))
  return encoder_entries, head_entries


def variable_table(model):
  """[Entry(google, hf, variable, hf_transpose)] of a `BertModel` or a task model wrapping one as
  `.encoder`: the encoder's, then the declared heads'. A name is None where the variable has none
  in that format (ELECTRA's generator: our checkpoints only). Raises ValueError naming each variable
  of `model.weights` that no entry covers (an undeclared head would otherwise never load).
  """
  encoder_entries, head_entries = _tables(model)
  return encoder_entries + head_entries


def _table_with_heads(model):
  """[(entry, is_head)]: `variable_table` with the head entries told apart from the encoder's."""
  encoder_entries, head_entries = _tables(model)
  return [(e, False) for e in encoder_entries] + [(e, True) for e in head_entries]


def _assign(entry, value, name, source):
  expected = tuple(entry.variable.shape)
  if tuple(value.shape) != expected:
    raise ValueError("%s: variable %s has shape %s but the model expects %s"
                     % (source, name, tuple(value.shape), expected))
  entry.variable.assign(value.astype(entry.variable.dtype))


def _report(status, source):
  logging.info("Loaded %d variables from %s; missing %d; unused %d",
               len(status.loaded), source, len(status.missing), len(status.unused))
  for name in status.missing:
    logging.info("  missing (left as initialized): %s", name)
  for name in status.unused:
    logging.info("  unused in checkpoint: %s", name)
  return status


def _is_training_artefact(name):
  return any(marker in name for marker in _OPTIMIZER_MARKERS)


def _is_other_tasks_head(entry, is_head, shape):
  """A task head whose checkpoint shape differs: e.g. MNLI's 3 labels into MRPC's 2."""
  return is_head and tuple(shape) != tuple(entry.variable.shape)


def load_google_checkpoint(model, ckpt_prefix, checkpoint_name=None, transform=None):
  """Loads a TF1 name-based checkpoint (`.../bert_model.ckpt`) into `model`.

  `checkpoint_name(google_name) -> name in the checkpoint` reads a variable from another name
  (identity by default; `load_stacked_checkpoint` maps deeper layers onto shallower ones).
  `transform(name, array) -> array` rewrites a value before it is assigned (vocabulary transplant).
  """
  reader = tf.train.load_checkpoint(ckpt_prefix)
  available = reader.get_variable_to_shape_map()
  loaded, missing, used = [], [], set()
  for entry, is_head in _table_with_heads(model):
    if entry.google is None:  # not in Google checkpoints (ELECTRA's generator)
      continue
    name = checkpoint_name(entry.google) if checkpoint_name else entry.google
    if name in available and _is_other_tasks_head(entry, is_head, available[name]):
      logging.warning("%s: %s has shape %s, the model's %s; left as initialized (a head of another task)",
                      ckpt_prefix, name, tuple(available[name]), tuple(entry.variable.shape))
      missing.append(entry.google)
    elif name in available:
      value = reader.get_tensor(name)
      _assign(entry, transform(name, value) if transform else value, name, ckpt_prefix)
      loaded.append(entry.google)
      used.add(name)
    else:
      missing.append(entry.google)
  unused = sorted(n for n in available if n not in used and not _is_training_artefact(n))
  return _report(LoadStatus(loaded, missing, unused), ckpt_prefix)


def load_stacked_checkpoint(model, ckpt_prefix):
  """Progressive stacking (Gong et al., 2019): a shallower BERT's Google checkpoint into a deeper `model`.

  Encoder layer i of `model` gets the checkpoint's layer i mod L (L = the checkpoint's layer count, which
  must divide the model's); everything else loads by name. A deeper model started this way begins past
  the masked-LM plateau its shallower self has left, instead of from scratch.
  """
  available = tf.train.load_checkpoint(ckpt_prefix).get_variable_to_shape_map()
  num_layers = len({m.group(1) for m in map(_LAYER.search, available) if m})
  target_layers = getattr(model, "encoder", model).config.num_hidden_layers
  if not num_layers or target_layers % num_layers:
    raise ValueError("%s: %d encoder layers, which does not divide the model's %d"
                     % (ckpt_prefix, num_layers, target_layers))
  return load_google_checkpoint(model, ckpt_prefix, lambda name: _LAYER.sub(
      lambda m: "layer_%d/" % (int(m.group(1)) % num_layers), name))


def load_hf_checkpoint(model, directory, transform=None):
  """Loads a Hugging Face BERT directory (safetensors or pytorch_model.bin, sharded or not).

  `transform(name, array) -> array` rewrites a value before it is assigned (vocabulary transplant).
  """
  path = os.fspath(directory)
  tensors = hf_weights.read_hf_tensors(path)
  if transform:
    tensors = {name: transform(name, value) for name, value in tensors.items()}
  # Checkpoints of BertModel have no "bert." prefix; those of BertForPreTraining etc. have it.
  has_prefix = any(k.startswith("bert.") for k in tensors)
  loaded, missing, used = [], [], set()
  for entry, is_head in _table_with_heads(model):
    name = entry.hf
    if name is None:  # not in Hugging Face checkpoints (ELECTRA's generator)
      continue
    if not is_head:  # the encoder's names follow the file's prefix; a head's are the same either way
      if has_prefix and not name.startswith("bert."):
        name = "bert." + name
      elif not has_prefix and name.startswith("bert."):
        name = name[len("bert."):]
    candidates = [name]
    if name.endswith("LayerNorm.weight") or name.endswith("LayerNorm.bias"):  # old HF names
      candidates.append(name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"))
    found = next((c for c in candidates if c in tensors), None)
    if found is None:
      missing.append(name)
      continue
    value = tensors[found]
    _assign(entry, value.T if entry.hf_transpose else value, found, path)
    loaded.append(found)
    used.add(found)
  # position_ids is a buffer; the decoder weight is tied to the word embeddings.
  benign = ("position_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
  unused = sorted(k for k in tensors if k not in used and not k.endswith(benign))
  return _report(LoadStatus(loaded, missing, unused), path)


# Keras bookkeeping edges of the object graph. "_operations"/"_layers" list a functional model's
# layers by position: index 7 is the classifier's output layer in one task model and the masked-LM
# head in another, so outside the encoder (whose class fixes its structure) such a path names nothing.
_BOOKKEEPING = frozenset(("_tracked", "_inbound_nodes", "_outbound_nodes", "_losses", "_losses_override",
                          "call_signature_parameters", "_call_has_context_arg"))
_POSITIONAL = frozenset(("_operations", "_layers", "_self_tracked_trackables"))
_MAX_PATH_DEPTH = 12


def _variable_paths(root, encoder, children, leaf_key):
  """{leaf key: set of attribute paths from `root`}, the encoder's subtree always as "encoder/...".

  `children(node) -> {name: child}`; `leaf_key(node)` is the key of a variable node, else None.
  Paths go through named attributes only (positional lists only inside the encoder), so two task
  models share a path exactly where they share a part: `encoder/...` always, `masked_lm/...`,
  `next_sentence/...`, `output_weights` only in models that have that head.
  """
  found = {}

  def walk(node, path, in_encoder, on_path):
    key = leaf_key(node)
    if key is not None:
      found.setdefault(key, set()).add(path)
      return
    if path.count("/") >= _MAX_PATH_DEPTH:
      return
    for name, child in children(node).items():
      if name in _BOOKKEEPING or (name in _POSITIONAL and not in_encoder) or id(child) in on_path:
        continue
      if child is encoder:
        walk(child, "encoder", True, on_path | {id(child)})
      else:
        walk(child, path + "/" + name if path else name, in_encoder, on_path | {id(child)})

  walk(root, "encoder" if root is encoder else "", root is encoder, {id(root)})
  return found


def _path_rank(path):
  """Sort key: named paths before positional ones, then shorter first (the name shown in messages)."""
  parts = path.split("/")
  return sum(p in _POSITIONAL for p in parts), len(parts), path


class _GraphNode(int):
  """A node id of a checkpoint's object graph (ints are interned: give each node its own identity)."""


def _checkpoint_paths(reader):
  """{checkpoint key: set of paths} of the variables under the checkpoint's `model` object."""
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
  nodes = [_GraphNode(i) for i in range(len(graph.nodes))]

  def children(node):
    return {c.local_name: nodes[c.node_id] for c in graph.nodes[node].children}

  def leaf_key(node):
    return next((a.checkpoint_key for a in graph.nodes[node].attributes if a.name == "VARIABLE_VALUE"), None)

  model = children(nodes[0]).get("model")
  if model is None:
    return {}
  parts = children(model)
  encoder = parts.get("encoder", model if {"embeddings", "pooler"} <= set(parts) else None)
  return _variable_paths(model, encoder, children, leaf_key)


def load_tf2_checkpoint(model, ckpt_prefix):
  """Loads one of our training checkpoints (`model.ckpt-N` of any job) into any of our models.

  Variables are matched by their attribute path (`encoder/...`, `masked_lm/output_bias`,
  `output_bias`): the encoder always, a head only when both models have it; a head whose shape
  differs (another label count) is left as initialized and reported missing.
  """
  reader = tf.train.load_checkpoint(ckpt_prefix)
  by_path = {path: key for key, paths in _checkpoint_paths(reader).items() for path in paths}
  weights = {id(v): v for v in model.weights}
  encoder = getattr(model, "encoder", model)
  model_paths = _variable_paths(model, encoder, tf.train.TrackableView.children,
                                lambda node: id(node) if id(node) in weights else None)
  shapes = reader.get_variable_to_shape_map()
  loaded, missing, used = [], [], set()
  for entry, is_head in _table_with_heads(model):
    paths = sorted(model_paths.get(id(entry.variable), ()), key=_path_rank)
    path = next((p for p in paths if p in by_path), None)
    key = by_path.get(path)
    name = entry.google or path or (paths[0] if paths else entry.variable.path)  # ours-only: its path
    if key is not None and _is_other_tasks_head(entry, is_head, shapes[key]):
      logging.warning("%s: %s has shape %s, the model's %s; left as initialized (a head of another task)",
                      ckpt_prefix, path, tuple(shapes[key]), tuple(entry.variable.shape))
      key = None
    if key is None:
      missing.append(name)
      continue
    _assign(entry, reader.get_tensor(key), path, ckpt_prefix)
    loaded.append(name)
    used.add(key)
  unused = sorted(k for k in by_path.values() if k not in used)
  return _report(LoadStatus(loaded, missing, sorted(set(unused))), ckpt_prefix)


_OURS_OLD_NAME = re.compile(r"^model\.ckpt-(\d+)$")


def resolve_checkpoint(path):
  """("hf", directory) or ("prefix", checkpoint prefix) for what users pass as a checkpoint.

  Accepts a Google or TF prefix (`bert_model.ckpt`, `out/model.ckpt-20`, also given with its
  `.index` suffix), a training output directory (its newest checkpoint, by the `checkpoint` state
  file, else its `bert_model.ckpt`), a Google model directory and a Hugging Face directory.
  `out/model.ckpt-N` also finds `out/ckpt-N` (what training wrote before taking TF1's names).
  Raises ValueError (one line) when nothing is there.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    if any(os.path.exists(os.path.join(path, name)) for name in hf_weights.WEIGHT_FILES + ("config.json",)):
      return "hf", path
    latest = tf.train.latest_checkpoint(path)
    if latest is None and os.path.exists(os.path.join(path, "bert_model.ckpt.index")):
      latest = os.path.join(path, "bert_model.ckpt")
    if latest is None:
      raise ValueError("%s: no checkpoint in this directory (no `checkpoint` state file, bert_model.ckpt "
                       "or Hugging Face weights)" % path)
    return "prefix", latest
  for suffix in (".index", ".data-00000-of-00001", ".meta"):
    if path.endswith(suffix) and os.path.exists(path[:-len(suffix)] + ".index"):
      return "prefix", path[:-len(suffix)]
  if not tf.io.gfile.exists(path + ".index"):
    match = _OURS_OLD_NAME.match(os.path.basename(path))
    old = match and os.path.join(os.path.dirname(path), "ckpt-" + match.group(1))
    if old and tf.io.gfile.exists(old + ".index"):
      return "prefix", old
    raise ValueError("%s: no checkpoint at this prefix (expected %s.index)" % (path, path))
  return "prefix", path


def load_checkpoint(model, path, transform=None):
  """Loads weights into `model` from a Google checkpoint prefix, an HF directory or our checkpoint.

  `path` is anything `resolve_checkpoint` accepts. Our training checkpoints (`model.ckpt-N` of
  pretraining, fine-tuning, ...) load into any of our models by variable path (`load_tf2_checkpoint`).
  Returns LoadStatus(loaded, missing, unused) names; a shape mismatch raises ValueError naming the
  variable and both shapes. Optimizer slots (adam_m, adam_v, global_step) are ignored.
  `transform(name, array) -> array` rewrites values of Google and HF checkpoints before assignment.
  """
  kind, path = resolve_checkpoint(path)
  if kind == "hf":
    return load_hf_checkpoint(model, path, transform)
  keys = tf.train.load_checkpoint(path).get_variable_to_shape_map()
  if "_CHECKPOINTABLE_OBJECT_GRAPH" in keys and not any(k.startswith("bert/") for k in keys):
    if transform:
      raise ValueError("%s: a bert_tf2 training checkpoint; transplant from its bert_model.ckpt instead" % path)
    return load_tf2_checkpoint(model, path)
  return load_google_checkpoint(model, path, transform=transform)


# Checkpoint values with one row per vocabulary token that the model loads (Google and Hugging Face
# names; HF's tied cls.predictions.decoder copy is never loaded, so it is left alone).
_VOCAB_ROWS = re.compile(r"word_embeddings|cls/predictions/output_bias|cls\.predictions\.bias")


def load_transplanted_checkpoint(model, path, source_vocab_file, vocab_file, seed=0):
  """A BERT pretrained with another vocabulary into `model`, whose vocabulary is `vocab_file`.

  Cross-lingual transfer (Artetxe et al., 2020, "On the Cross-lingual Transferability of Monolingual
  Representations"): the encoder layers carry over and only the token embeddings are new, to be
  learned with the layers frozen first (`run_pretraining(..., freeze_encoder=True)`), which costs far
  less than pretraining from scratch. Rows of tokens both vocabularies have (specials, digits, Latin
  letters, punctuation, shared characters) are copied; the others are drawn from N(0, std of the
  source table); the masked-LM output bias gets the source mean there. Returns (LoadStatus, copied rows).
  """
  source = tokenization.load_vocab(source_vocab_file)
  target = list(tokenization.load_vocab(vocab_file))
  vocab_size = getattr(model, "encoder", model).config.vocab_size
  if len(target) != vocab_size:
    raise ValueError("%s: %d tokens but the model's vocab_size is %d" % (vocab_file, len(target), vocab_size))
  rows = np.array([source.get(token, -1) for token in target])
  copied = rows >= 0
  rng = np.random.default_rng(seed)

  def transform(name, value):
    if not _VOCAB_ROWS.search(name):
      return value
    if value.shape[0] != len(source):
      raise ValueError("%s: %s has %d rows but %s has %d tokens"
                       % (path, name, value.shape[0], source_vocab_file, len(source)))
    if value.ndim == 2:
      new = rng.normal(0.0, value.std(), (len(target),) + value.shape[1:])
    else:
      new = np.full((len(target),), value.mean())
    new = new.astype(value.dtype)
    new[copied] = value[rows[copied]]
    return new

  return load_checkpoint(model, path, transform), int(copied.sum())


def save_google_checkpoint(model, ckpt_prefix, config=None):
  """Writes `model`'s weights under Google's names at `ckpt_prefix` (+ `bert_config.json` beside it).

  The files are written under a temporary prefix and renamed, so a crash leaves no partial checkpoint.
  """
  entries = [e for e in variable_table(model) if e.google is not None]
  directory = os.path.dirname(os.path.abspath(ckpt_prefix))
  os.makedirs(directory, exist_ok=True)
  tmp_prefix = ckpt_prefix + ".tmp-%d" % os.getpid()
  tf.raw_ops.SaveV2(
      prefix=tmp_prefix,
      tensor_names=[e.google for e in entries],
      shape_and_slices=[""] * len(entries),
      tensors=[tf.convert_to_tensor(e.variable) for e in entries])
  for suffix in (".index", ".data-00000-of-00001"):
    os.replace(tmp_prefix + suffix, ckpt_prefix + suffix)
  config = config or getattr(getattr(model, "encoder", model), "config", None)
  if config is not None:
    config.to_json_file(os.path.join(directory, "bert_config.json"))
  return ckpt_prefix


def save_hf_checkpoint(model, directory, vocab_file=None, do_lower_case=None, label_list=None):
  """Writes `model` as a Hugging Face directory (config.json, model.safetensors, tokenizer files).

  `transformers.BertModel` / `BertForPreTraining` / `BertForSequenceClassification.from_pretrained`
  load it as it is; `load_checkpoint` loads it back. Details in `bert_tf2.interop.hf_export`.
  """
  return hf_export.write_hf_directory(model, variable_table(model), directory, vocab_file=vocab_file,
                                      do_lower_case=do_lower_case, label_list=label_list)


def google_checkpoint_arrays(ckpt_prefix):
  """{name: np.ndarray} of a name-based checkpoint; handy for tests and debugging."""
  reader = tf.train.load_checkpoint(ckpt_prefix)
  return {n: np.asarray(reader.get_tensor(n)) for n in reader.get_variable_to_shape_map()}
