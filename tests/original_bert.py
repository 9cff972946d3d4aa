"""Google's original TF1 BERT code (`bert-tensorflow==1.0.4`), run under TF 2.x as the reference.

The original modules do `import tensorflow.compat.v1 as tf` and
`from tensorflow.contrib import layers`, then call `tf.layers.dense`,
`tf.contrib.layers.layer_norm` and `tf.flags`, which TF 2.x and Keras 3 removed.
`load()` imports them with a stand-in `tensorflow` in `sys.modules` (`tf.compat.v1`
plus re-implementations of those three) and puts the real module back right after;
each original module keeps the stand-in as its global `tf`. Nothing here switches
the process to TF1 behaviour for good: original graphs are built inside `tf1_graph()`
and run in a `tf.compat.v1.Session`, so TF2 eager code in the same process is unaffected.

Example:
    tokenization = original_bert.load("tokenization")
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    tokenizer.tokenize("unwanted,running")  # ['un', '##want', '##ed', ',', 'runn', '##ing']

    run_classifier = original_bert.load("run_classifier")
    with original_bert.tf1_graph(), tf.compat.v1.Session() as session:
        loss, per_example_loss, logits, probabilities = run_classifier.create_model(...)
"""

import contextlib
import functools
import importlib
import os
import sys
import types

import numpy as np
import tensorflow as tf
from absl import flags as absl_flags

_V1 = tf.compat.v1

_MODULES = (
    "modeling",
    "tokenization",
    "optimization",
    "create_pretraining_data",
    "run_pretraining",
    "run_classifier",
    "extract_features",
    "run_squad",
)

# Standard deviation of the noise added to every variable by make_google_checkpoint, so that
# biases, LayerNorm beta and gamma differ from their 0/1 initial values.
_PERTURBATION_STDDEV = 0.1


def _dense(inputs, units, activation=None, kernel_initializer=None, name=None):
  """`tf.layers.dense`, with TF1's variables `<scope>/kernel` [in, units] and `<scope>/bias` [units]."""
  with _V1.variable_scope(name, default_name="dense", values=[inputs]):
    kernel = _V1.get_variable(
        "kernel", [inputs.shape[-1], units], inputs.dtype, initializer=kernel_initializer
    )
    bias = _V1.get_variable("bias", [units], inputs.dtype, initializer=_V1.zeros_initializer())
    if inputs.shape.rank == 2:
      outputs = tf.matmul(inputs, kernel)
    else:
      outputs = tf.tensordot(inputs, kernel, [[inputs.shape.rank - 1], [0]])
    outputs = tf.nn.bias_add(outputs, bias)
    return outputs if activation is None else activation(outputs)


def _layer_norm(inputs, begin_norm_axis=-1, begin_params_axis=-1, scope=None):
  """`tf.contrib.layers.layer_norm` over the last axis: variables `LayerNorm/beta`, `LayerNorm/gamma`.

  As in contrib: moments over the normalized axis, then `tf.nn.batch_normalization`
  with variance_epsilon=1e-12 (contrib's value for every dtype but float16).
  """
  last_axis = inputs.shape.rank - 1
  if begin_norm_axis % inputs.shape.rank != last_axis or begin_params_axis % inputs.shape.rank != last_axis:
    raise NotImplementedError("only layer norm over the last axis is re-implemented")
  with _V1.variable_scope(scope, default_name="LayerNorm", values=[inputs]):
    params_shape = inputs.shape[-1:]
    beta = _V1.get_variable("beta", params_shape, inputs.dtype, initializer=_V1.zeros_initializer())
    gamma = _V1.get_variable("gamma", params_shape, inputs.dtype, initializer=_V1.ones_initializer())
    mean, variance = tf.nn.moments(inputs, [last_axis], keepdims=True)
    outputs = tf.nn.batch_normalization(
        inputs, mean, variance, offset=beta, scale=gamma, variance_epsilon=1e-12
    )
    outputs.set_shape(inputs.shape)
    return outputs


def _flags_namespace():
  """`tf.flags` for one module: absl's `DEFINE_*` bound to a fresh `FlagValues`.

  The original scripts define the same flag names (`bert_config_file`, `max_seq_length`, ...);
  one FlagValues each lets them all be imported into one process.
  """
  flag_values = absl_flags.FlagValues()
  namespace = types.SimpleNamespace(FLAGS=flag_values)
  for name in ("DEFINE_bool", "DEFINE_float", "DEFINE_integer", "DEFINE_string", "mark_flag_as_required"):
    setattr(namespace, name, functools.partial(getattr(absl_flags, name), flag_values=flag_values))
  return namespace


class _CompatV1(types.ModuleType):
  """Stand-in for `tensorflow`: `tf.compat.v1` plus the pieces TF 2.x and Keras 3 removed.

  `tf.gfile`, `tf.logging` and `tf.python_io` still live in `tf.compat.v1` and come through as is.
  """

  def __init__(self):
    super().__init__("tensorflow")
    self.compat = types.SimpleNamespace(v1=self)
    self.contrib = types.ModuleType("tensorflow.contrib")
    self.contrib.layers = types.SimpleNamespace(layer_norm=_layer_norm)
    self.layers = types.SimpleNamespace(dense=_dense)
    self.flags = _flags_namespace()

  def __getattr__(self, name):
    return getattr(_V1, name)


@functools.cache
def load(name):
  """Imports `bert.<name>` from the bert-tensorflow wheel through the TF1 stand-in, once.

  Args:
    name: str, one of "modeling", "tokenization", "optimization", "create_pretraining_data",
      "run_pretraining", "run_classifier", "extract_features", "run_squad".

  Returns:
    The original module. Its absl flags are marked parsed (defaults), so library code that
    reads them (tokenization's `preserve_unused_tokens`) works; a script's flags live in
    its own `module.FLAGS` and can be set there.
  """
  if name not in _MODULES:
    raise ValueError(f"unknown original module {name!r}; expected one of {_MODULES}")
  standin = _CompatV1()
  replaced = {
      "tensorflow": standin,
      "tensorflow.compat": standin.compat,
      "tensorflow.compat.v1": standin,
      "tensorflow.contrib": standin.contrib,
  }
  saved = {key: sys.modules.get(key) for key in replaced}
  sys.modules.update(replaced)
  try:
    module = importlib.import_module("bert." + name)
  finally:
    for key, original in saved.items():
      if original is None:
        sys.modules.pop(key, None)
      else:
        sys.modules[key] = original
  for flag_values in (absl_flags.FLAGS, getattr(module, "FLAGS", None)):
    if isinstance(flag_values, absl_flags.FlagValues) and not flag_values.is_parsed():
      flag_values.mark_as_parsed()
  return module


@contextlib.contextmanager
def tf1_graph():
  """A fresh default graph with TF1 `TensorShape` indexing, to build original code in.

  The original indexes shapes the TF1 way (`run_classifier.create_model` reads
  `shape[-1].value`); TF2 indexing returns ints. The switch is process-wide, so it is
  undone on exit: keep TF2 code out of the block.

  Yields:
    The new `tf.Graph`, installed as the default graph.
  """
  v2_shapes = isinstance(tf.TensorShape([1])[0], int)
  _V1.disable_v2_tensorshape()
  try:
    with tf.Graph().as_default() as graph:
      yield graph
  finally:
    if v2_shapes:
      _V1.enable_v2_tensorshape()


def _bert_model(bert_config_dict, input_ids, input_mask, segment_ids):
  """Builds the original `modeling.BertModel` (is_training=False) in the current graph."""
  modeling = load("modeling")
  return modeling.BertModel(
      config=modeling.BertConfig.from_dict(bert_config_dict),
      is_training=False,
      input_ids=tf.constant(input_ids, tf.int32),
      input_mask=tf.constant(input_mask, tf.int32),
      token_type_ids=tf.constant(segment_ids, tf.int32),
  )


def _pretraining_heads(bert_config_dict, model, masked_lm_positions, masked_lm_ids,
                       masked_lm_weights, next_sentence_labels):
  """Builds the original `cls/predictions` and `cls/seq_relationship` heads on `model`."""
  run_pretraining = load("run_pretraining")
  config = load("modeling").BertConfig.from_dict(bert_config_dict)
  masked_lm_loss, masked_lm_example_loss, masked_lm_log_probs = run_pretraining.get_masked_lm_output(
      config,
      model.get_sequence_output(),
      model.get_embedding_table(),
      tf.constant(masked_lm_positions, tf.int32),
      tf.constant(masked_lm_ids, tf.int32),
      tf.constant(masked_lm_weights, tf.float32),
  )
  next_sentence_loss, next_sentence_example_loss, next_sentence_log_probs = (
      run_pretraining.get_next_sentence_output(
          config, model.get_pooled_output(), tf.constant(next_sentence_labels, tf.int32)
      )
  )
  return {
      "masked_lm_logits": _log_softmax_input(masked_lm_log_probs),
      "masked_lm_log_probs": masked_lm_log_probs,
      "masked_lm_loss": masked_lm_loss,
      "masked_lm_example_loss": masked_lm_example_loss,
      "next_sentence_logits": _log_softmax_input(next_sentence_log_probs),
      "next_sentence_log_probs": next_sentence_log_probs,
      "next_sentence_loss": next_sentence_loss,
      "next_sentence_example_loss": next_sentence_example_loss,
      "total_loss": masked_lm_loss + next_sentence_loss,
  }


def _log_softmax_input(log_probs):
  """The logits tensor that `tf.nn.log_softmax` turned into `log_probs`."""
  assert log_probs.op.type == "LogSoftmax", log_probs.op.type
  return log_probs.op.inputs[0]


def _restore_and_run(ckpt_path, fetches):
  """Restores every variable of the current graph from `ckpt_path` and evaluates `fetches`."""
  with _V1.Session() as session:
    _V1.train.Saver().restore(session, ckpt_path)
    return session.run(fetches)


def make_google_checkpoint(bert_config_dict, path, seed=0, with_pretraining_heads=True):
  """Saves a randomly initialized original BERT as a TF1 checkpoint with Google's variable names.

  Every variable gets its original initial value plus N(0, 0.1) noise, so biases and
  LayerNorm beta/gamma are not 0/1 and swapped or missing variables show up in comparisons.

  Args:
    bert_config_dict: dict in Google's `bert_config.json` format.
    path: str, checkpoint prefix, e.g. `.../bert_model.ckpt` (its directory is created).
    seed: int, seeds both TF's initializers and the noise.
    with_pretraining_heads: bool, also create `cls/predictions/*` and `cls/seq_relationship/*`.

  Returns:
    `path`. Beside it: `path.index`, `path.data-00000-of-00001` and `bert_config.json`.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  config = load("modeling").BertConfig.from_dict(bert_config_dict)
  rng = np.random.default_rng(seed)
  with tf1_graph():
    _V1.set_random_seed(seed)
    ids = np.zeros([1, 2], np.int32)
    model = _bert_model(bert_config_dict, ids, ids + 1, ids)
    if with_pretraining_heads:
      _pretraining_heads(bert_config_dict, model, ids, ids, np.ones([1, 2], np.float32), [0])
    variables = _V1.global_variables()
    perturb = [
        variable.assign_add(rng.normal(0.0, _PERTURBATION_STDDEV, variable.shape.as_list()).astype(np.float32))
        for variable in variables
    ]
    with _V1.Session() as session:
      session.run(_V1.global_variables_initializer())
      session.run(perturb)
      _V1.train.Saver(variables).save(session, path, write_meta_graph=False, write_state=False)
  with open(os.path.join(directory, "bert_config.json"), "w") as writer:
    writer.write(config.to_json_string())
  return path


def run_original_model(bert_config_dict, ckpt_path, input_ids, input_mask, segment_ids):
  """Runs the original `modeling.BertModel` (is_training=False) restored from `ckpt_path`.

  Args:
    bert_config_dict: dict in Google's `bert_config.json` format.
    ckpt_path: str, TF1 checkpoint prefix holding at least the `bert/*` variables.
    input_ids: int array of shape [batch_size, seq_length].
    input_mask: int array of shape [batch_size, seq_length], 1 for real tokens.
    segment_ids: int array of shape [batch_size, seq_length].

  Returns:
    Dict of float32 numpy arrays: `embedding_output`, `sequence_output` and each of
    `encoder_outputs` (a list, one per layer) of shape [batch_size, seq_length, hidden_size];
    `pooled_output` of shape [batch_size, hidden_size].
  """
  with tf1_graph():
    model = _bert_model(bert_config_dict, input_ids, input_mask, segment_ids)
    return _restore_and_run(ckpt_path, {
        "embedding_output": model.get_embedding_output(),
        "encoder_outputs": model.get_all_encoder_layers(),
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output(),
    })


def run_original_pretraining_heads(bert_config_dict, ckpt_path, input_ids, input_mask, segment_ids,
                                   masked_lm_positions, masked_lm_ids, masked_lm_weights,
                                   next_sentence_labels):
  """Runs the original model plus `run_pretraining`'s masked-LM and next-sentence heads.

  Args:
    bert_config_dict: dict in Google's `bert_config.json` format.
    ckpt_path: str, TF1 checkpoint prefix with the `bert/*` and `cls/*` variables.
    input_ids, input_mask, segment_ids: int arrays of shape [batch_size, seq_length].
    masked_lm_positions, masked_lm_ids: int arrays of shape [batch_size, max_predictions].
    masked_lm_weights: float array of shape [batch_size, max_predictions], 0.0 for padding.
    next_sentence_labels: int array of shape [batch_size] (or [batch_size, 1]); 1 = random next.

  Returns:
    Dict of numpy arrays, with P = batch_size * max_predictions (the original flattens them):
    `masked_lm_logits`, `masked_lm_log_probs` [P, vocab_size]; `masked_lm_example_loss` [P];
    `next_sentence_logits`, `next_sentence_log_probs` [batch_size, 2];
    `next_sentence_example_loss` [batch_size]; scalars `masked_lm_loss`, `next_sentence_loss`
    and `total_loss` (their sum, as in the original `model_fn`).
  """
  with tf1_graph():
    model = _bert_model(bert_config_dict, input_ids, input_mask, segment_ids)
    heads = _pretraining_heads(bert_config_dict, model, masked_lm_positions, masked_lm_ids,
                               masked_lm_weights, next_sentence_labels)
    return _restore_and_run(ckpt_path, heads)


def run_original_pretraining_gradients(bert_config_dict, ckpt_path, **features):
  """Gradients of the original's total pretraining loss (MLM + NSP, no dropout) w.r.t. every variable.

  Args: as `run_original_pretraining_heads`.

  Returns:
    Dict of Google variable name (`bert/encoder/layer_0/attention/self/query/kernel`, ...) -> numpy
    gradient, dense (the embedding gathers' IndexedSlices are summed into the full table).
  """
  with tf1_graph():
    model = _bert_model(bert_config_dict, features["input_ids"], features["input_mask"], features["segment_ids"])
    heads = _pretraining_heads(bert_config_dict, model, features["masked_lm_positions"], features["masked_lm_ids"],
                               features["masked_lm_weights"], features["next_sentence_labels"])
    variables = _V1.trainable_variables()
    grads = [tf.convert_to_tensor(g) for g in tf.gradients(heads["total_loss"], variables)]
    values = _restore_and_run(ckpt_path, grads)
    return {v.op.name: g for v, g in zip(variables, values)}
