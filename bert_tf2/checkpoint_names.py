"""Checkpoint names declared beside the variables: the Google TF1 and Hugging Face name of each weight.

A head layer lists its weights with `checkpoint_entries() -> [Entry]`; a task model lists its heads
with `checkpoint_heads() -> [layer]`. `bert_tf2.checkpoints.variable_table` joins them to the
encoder's names and refuses a model with a variable no entry covers, so a new head with a new
name only declares it in its own file, and a head that forgot to is an error, not a head that
silently keeps its initial values.

    class MyHead(keras.layers.Layer):
      def checkpoint_entries(self):
        return checkpoint_names.dense("cls/my_head/dense", "my_head.dense", self.dense)

An Entry's name is None where the weight has no name in that format: it is not written there
nor looked for there, and loads only from our own training checkpoints (by attribute path).
"""

import collections

# google: TF1 variable name ("cls/squad/output_weights") or None; hf: transformers state-dict name
# ("qa_outputs.weight") or None; variable: the model's variable; hf_transpose: transformers stores
# it transposed (a Dense kernel: [in, out] here, [out, in] there).
Entry = collections.namedtuple("Entry", ["google", "hf", "variable", "hf_transpose"])


def google_name(scope, name):
  """`scope/name`; just `name` at the top level (scope ""); None when scope is None (no such name)."""
  if scope is None:
    return None
  return scope + "/" + name if scope else name


def hf_name(module, name):
  """`module.name`, or None when module is None (no such name)."""
  return None if module is None else module + "." + name


def weight(google, hf, variable, hf_transpose=False):
  """[Entry] of one variable."""
  return [Entry(google, hf, variable, hf_transpose)]


def dense(google, hf, layer):
  """A keras Dense under Google scope `google` and HF module `hf`: kernel (transposed in HF), bias."""
  return [Entry(google_name(google, "kernel"), hf_name(hf, "weight"), layer.kernel, True),
          Entry(google_name(google, "bias"), hf_name(hf, "bias"), layer.bias, False)]


def layer_norm(google, hf, layer):
  """A LayerNormalization: Google's gamma / beta, HF's weight / bias."""
  return [Entry(google_name(google, "gamma"), hf_name(hf, "weight"), layer.gamma, False),
          Entry(google_name(google, "beta"), hf_name(hf, "bias"), layer.beta, False)]


def ours_only(*layers):
  """[Entry] with no Google or HF name for every weight of `layers` (None skipped): weights that
  only our training checkpoints hold, such as ELECTRA's generator."""
  return [Entry(None, None, v, False) for layer in layers if layer is not None for v in layer.weights]


class OursOnly:
  """A head of layers (transformer layers, projections) with no Google or HF names; see `ours_only`."""

  def __init__(self, *layers):
    self.layers = layers

  def checkpoint_entries(self):
    return ours_only(*self.layers)
