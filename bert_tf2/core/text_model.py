"""Any family's raw-text SavedModel in Python, at its precision; and how an int8 one is written.

    predict = TextModel("export/")               # a classifier's, tagger's, SQuAD model's, ... export
    predict(text_a=["很好", "太差了"])["labels"]   # what serving_default returns, as numpy arrays
    TextModel("export/", precision="float32")    # an int8 export's float32 graph instead

A raw-text graph (tokenize -> windows -> model -> labels / CRF decode / best spans) cannot hold a
LiteRT model, and TensorFlow's own int8 matmul is slower than float32 on CPU (`core.precision`). So
an int8 export (`save_module(..., int8_model=True)`, behind every family's `--precision=int8`)
splits the family's text function at its one model call (`module.model(...)`), tracing it twice with
the model stood in for:
  int8_inputs(texts)                  -> the model's inputs (ids, masks, ...): tokenize, cut windows
  int8_outputs(texts, model outputs)  -> serving_default's outputs: tokenize again (cheap), then all
                                         that follows the model, as in serving_default
and writes the model alone (its inputs -> outputs, frozen) to assets/model_int8.tflite: LiteRT
dynamic-range int8 on XNNPACK (`core.litert`). serving_default and serve_ids stay as in a float32
export, so TF Serving and `tf.saved_model.load` users keep a float32 model; `TextModel` runs
int8_inputs -> LiteRT -> int8_outputs.
"""

import contextlib
import os

import numpy as np
import tensorflow as tf

from bert_tf2.core import litert
from bert_tf2.core import precision as precisions

INT8_MODEL = "model_int8.tflite"
_SINGLE_OUTPUT = "logits"  # a model that returns one Tensor: its LiteRT output's name


class _StandIn:
  """Takes the model's place while a text function is traced: records the call's inputs and outputs,
  or (`replay`) returns given outputs instead of computing them. Everything else (a tagger's CRF
  `decode`) is the model's."""

  def __init__(self, model, replay=None):
    self._model, self._replay = model, replay
    self.inputs = self.outputs = None

  def __call__(self, inputs, training=False):
    self.inputs = dict(inputs)
    self.outputs = self._model(inputs, training=training) if self._replay is None else self._replay
    return self.outputs

  def __getattr__(self, name):
    if name.startswith("_"):  # never let tracking or tracing mistake this for the (trackable) model
      raise AttributeError(name)
    return getattr(self._model, name)


@contextlib.contextmanager
def _model_replaced(module, stand_in):
  model = module.model
  object.__setattr__(module, "model", stand_in)  # untracked: the module keeps depending on `model`
  try:
    yield stand_in
  finally:
    object.__setattr__(module, "model", model)


def _named(outputs):
  """The model's outputs as {name: float32 Tensor} (a single Tensor is "logits")."""
  if isinstance(outputs, dict):
    return {name: tf.cast(t, tf.float32) for name, t in outputs.items()}
  return {_SINGLE_OUTPUT: tf.cast(outputs, tf.float32)}


def _any_shape(tensor, name, dtype=None):
  return tf.TensorSpec([None] * tensor.shape.rank, dtype or tensor.dtype, name=name)


def int8_split(module, precision="int8"):
  """({"int8_inputs", "int8_outputs": concrete functions}, LiteRT bytes) of a raw-text module.

  `module` has `model` (the Keras model its text function calls once, with a dict) and
  `text_function()` (serving_default's tf.function, with its input signature). `precision`: the
  LiteRT model's (`litert.PRECISIONS`; the tests pin the split itself with a float32 one).
  """
  text_function = module.text_function()
  text_specs, call_text = list(text_function.input_signature), text_function.python_function
  recorder = _StandIn(module.model)

  def model_inputs(*texts):
    with _model_replaced(module, recorder):
      call_text(*texts)
    return recorder.inputs  # what follows the model is pruned when this runs

  signatures = {"int8_inputs": tf.function(model_inputs, input_signature=text_specs).get_concrete_function()}
  structure = recorder.outputs
  output_specs = [_any_shape(t, name, tf.float32) for name, t in _named(structure).items()]

  def outputs_from_model(*args):
    named = {spec.name: t for spec, t in zip(output_specs, args[len(text_specs):])}
    replay = named if isinstance(structure, dict) else named[_SINGLE_OUTPUT]
    with _model_replaced(module, _StandIn(module.model, replay)):
      return call_text(*args[:len(text_specs)])

  signatures["int8_outputs"] = tf.function(outputs_from_model, input_signature=text_specs + output_specs
                                           ).get_concrete_function()
  model = module.model
  input_specs = {name: _any_shape(t, name) for name, t in recorder.inputs.items()}
  tflite = litert.convert(tf.function(lambda **inputs: _named(model(inputs, training=False))), precision,
                          input_specs)
  return signatures, tflite


class TextModel:
  """A bert_tf2 raw-text SavedModel called as its serving_default: keyword arguments (lists or
  arrays of str) -> {output name: np.ndarray}.

  `precision`: None runs what was exported (an int8 export: its LiteRT int8 model); "int8" needs an
  int8 export; "float32" / "bfloat16" the SavedModel's graph, which computes at its export precision
  (an int8 export's graph is float32). Calls may come from several threads.
  """

  def __init__(self, export_dir, precision=None, num_threads=None):
    import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (the tokenizer's ops)
    if not os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
      raise ValueError("%s: no saved_model.pb (export one with scripts/export_saved_model.py)" % export_dir)
    self.loaded = tf.saved_model.load(export_dir)
    int8_file = os.path.join(export_dir, "assets", INT8_MODEL)
    graph = self.loaded.precision.numpy().decode() if hasattr(self.loaded, "precision") else "float32"
    graph = "float32" if graph == "int8" else graph
    self.precision = precision or ("int8" if os.path.isfile(int8_file) else graph)
    precisions.check_precision(self.precision)
    if self.precision == "int8" and not os.path.isfile(int8_file):
      raise ValueError("%s has no int8 model: export it with --precision=int8" % export_dir)
    if self.precision not in ("int8", graph):
      raise ValueError("%s was exported at %s; it runs at %s%s, not %s" % (
          export_dir, graph, graph, " or int8" if os.path.isfile(int8_file) else "", self.precision))
    self.signature = self.loaded.signatures["serving_default"]
    self.runner = None
    if self.precision == "int8":
      self.runner = litert.Runner(model_path=int8_file, num_threads=num_threads or litert.default_threads())

  def __call__(self, **texts):
    feeds = {name: tf.constant(value, tf.string) for name, value in texts.items()}
    if self.runner is None:
      outputs = self.signature(**feeds)
    else:
      inputs = {name: t.numpy() for name, t in self.loaded.signatures["int8_inputs"](**feeds).items()}
      if min(t.shape[0] for t in inputs.values()) == 0:  # nothing to run (no text, or no pieces)
        model_outputs = self._empty_outputs(inputs)
      else:
        model_outputs = self.runner(inputs)
      outputs = self.loaded.signatures["int8_outputs"](
          **feeds, **{name: tf.constant(t, tf.float32) for name, t in model_outputs.items()})
    return {name: t.numpy() for name, t in outputs.items()}

  def _empty_outputs(self, inputs):
    """The LiteRT model's outputs for a batch of 0 rows (LiteRT runs none): each output's dynamic
    dimensions after the first are input_ids' (tokens, or choices), its static ones as declared."""
    ids_shape = inputs["input_ids"].shape
    details = self.runner.interpreter.get_signature_runner().get_output_details()
    return {name: np.zeros([0] + [ids_shape[i] if size < 0 else size
                                  for i, size in enumerate(d["shape_signature"]) if i > 0], np.float32)
            for name, d in details.items()}
