"""The original modeling.py's module-level helpers, for TF2: shapes, masks, activations, norms.

`bert_tf2.modeling` re-exports each under the original's name, so code written against Google's
`modeling.py` finds them there:

    from bert_tf2 import modeling
    mask = modeling.create_attention_mask_from_input_mask(input_ids, input_mask)  # float32 [B, F, T]
    batch_size, seq_length, width = modeling.get_shape_list(sequence_output, expected_rank=3)

They are stateless functions (eager or inside `tf.function`). The original's helpers that create
variables (`embedding_lookup`, `attention_layer`, `transformer_model`, ...) are Keras layers here;
README.md, "The original's API in bert_tf2", names each replacement.
"""

import collections

import keras
import tensorflow as tf

from bert_tf2 import checkpoints, layers

gelu = layers.gelu_tanh  # Google's gelu: the tanh approximation


def get_activation(activation_string):
  """Maps an activation name to a function, as the original: "relu" -> relu, "gelu" -> tanh gelu.

  None, "" and "linear" give None; a non-string (already a function) is returned as is; names are
  case-insensitive. Beyond the original's relu/gelu/tanh, "gelu_exact" and "swish" are known.
  """
  if not isinstance(activation_string, str):
    return activation_string
  name = activation_string.lower()
  if name in ("", "linear"):
    return None
  return layers.get_activation(name)


def dropout(input_tensor, dropout_prob):
  """`input_tensor` with each value dropped with probability `dropout_prob` (None or 0: unchanged)."""
  if not dropout_prob:
    return input_tensor
  return tf.nn.dropout(input_tensor, rate=dropout_prob)


def layer_norm(input_tensor, name=None):
  """Layer normalization over the last axis, epsilon 1e-12, with gamma 1 and beta 0.

  The original's output at initialization (it creates `LayerNorm/gamma` and `/beta` variables,
  starting at 1 and 0); for learned ones use `bert_tf2.layers.LayerNorm`. `name` is accepted for
  the original's signature and names the op.
  """
  with tf.name_scope(name or "LayerNorm"):
    mean, variance = tf.nn.moments(input_tensor, [-1], keepdims=True)
    return (input_tensor - mean) * tf.math.rsqrt(variance + 1e-12)


def layer_norm_and_dropout(input_tensor, dropout_prob, name=None):
  """`dropout(layer_norm(input_tensor), dropout_prob)`."""
  return dropout(layer_norm(input_tensor, name), dropout_prob)


def create_initializer(initializer_range=0.02):
  """A truncated normal initializer (cut at 2 standard deviations) of stddev `initializer_range`."""
  return keras.initializers.TruncatedNormal(stddev=initializer_range)


def assert_rank(tensor, expected_rank, name=None):
  """Raises ValueError unless `tensor`'s rank is `expected_rank` (an int or a list of ints)."""
  expected = [expected_rank] if isinstance(expected_rank, int) else list(expected_rank)
  shape = tf.TensorShape(tensor.shape)  # also for NumPy arrays and Keras symbolic tensors
  rank = shape.rank
  if rank not in expected:
    if name is None:
      name = "tensor" if tf.executing_eagerly() else tensor.name  # eager tensors have no name
    raise ValueError("%s has rank %s (shape %s), expected rank %s" % (name, rank, shape, expected_rank))


def get_shape_list(tensor, expected_rank=None, name=None):
  """The shape of `tensor` as a list: Python ints where static, scalar int32 tensors where not.

  Example: for x of static shape [None, 128, 768] inside a tf.function,
  get_shape_list(x) -> [<tf.Tensor: batch size>, 128, 768].
  """
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)
  shape = tf.TensorShape(tensor.shape).as_list()
  if None not in shape:
    return shape
  dynamic = tf.shape(tensor)
  return [dynamic[i] if dim is None else dim for i, dim in enumerate(shape)]


def reshape_to_matrix(input_tensor):
  """[..., W] (rank >= 2) -> [N, W]: every leading axis folded into one."""
  rank = input_tensor.shape.rank
  if rank < 2:
    raise ValueError("reshape_to_matrix needs a tensor of rank >= 2, got shape %s" % (input_tensor.shape,))
  if rank == 2:
    return input_tensor
  return tf.reshape(input_tensor, [-1, input_tensor.shape[-1]])


def reshape_from_matrix(output_tensor, orig_shape_list):
  """[N, W'] -> orig_shape_list[:-1] + [W']: undoes `reshape_to_matrix` (the width may differ)."""
  if len(orig_shape_list) == 2:
    return output_tensor
  width = get_shape_list(output_tensor)[-1]
  return tf.reshape(output_tensor, list(orig_shape_list[:-1]) + [width])


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """The original's 3-D attention mask: float32 [B, F, T], row b, f = to_mask[b].

  Args:
    from_tensor: a [B, F] or [B, F, ...] tensor (only its shape is read).
    to_mask: int [B, T], 1 for tokens, 0 for padding.
  BertModel uses the equivalent additive bias ([B, 1, 1, T], `modeling.attention_bias_from_mask`).
  """
  batch_size, from_length = get_shape_list(from_tensor, expected_rank=[2, 3])[:2]
  to_length = get_shape_list(to_mask, expected_rank=2)[1]
  to_mask = tf.cast(tf.reshape(to_mask, [batch_size, 1, to_length]), tf.float32)  # (B, 1, T)
  return tf.ones([batch_size, from_length, 1], tf.float32) * to_mask  # (B, F, T)


def get_assignment_map_from_checkpoint(model, init_checkpoint):
  """Which variables of `model` a Google TF1 checkpoint holds, by the original's names.

  The original takes the graph's variables (named as the checkpoint) and returns
  {name: name}; Keras variables carry their own paths, so here the map goes from checkpoint
  name to the variable itself (through `bert_tf2.checkpoints`' name table):

      assignment_map, initialized = get_assignment_map_from_checkpoint(classifier, "uncased/bert_model.ckpt")
      for name, variable in assignment_map.items():
        variable.assign(tf.train.load_variable("uncased/bert_model.ckpt", name))

  Args:
    model: a `BertModel`, or a task model holding one as `.encoder` (its heads are mapped too).
    init_checkpoint: str, a TF1 checkpoint prefix.

  Returns:
    (assignment_map: OrderedDict {checkpoint name: tf.Variable}, in checkpoint order;
     initialized_variable_names: {name: 1, name + ":0": 1} for every mapped name, as the original).
  """
  variables = {entry.google: entry.variable for entry in checkpoints.variable_table(model) if entry.google}
  assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for name, _ in tf.train.list_variables(init_checkpoint):
    if name in variables:
      assignment_map[name] = variables[name]
      initialized_variable_names[name] = 1
      initialized_variable_names[name + ":0"] = 1
  return assignment_map, initialized_variable_names
