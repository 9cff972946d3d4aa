"""LiteRT (`.tflite`) conversion of ids -> outputs functions, and a thread-safe runner for them.

    tflite = convert(fn, "int8")          # fn: tf.function over IDS_SPECS -> dict of float32 Tensors
    runner = Runner(tflite, num_threads=2)
    runner({"input_ids": ids, "input_mask": mask, "segment_ids": segments})  # {name: np.ndarray}

Precisions (LiteRT's post-training options):
  float32  no quantization.
  float16  weights stored as float16, dequantized to float32 at load (half the file, float32 speed).
  int8     dynamic-range quantization: int8 weights per output channel; XNNPACK quantizes the
           activations per call and runs int8 x int8 matmuls (VNNI on AVX512 CPUs).
The graph is frozen first (variables -> constants): LiteRT's resource variables would leave the
weights out of the file. Tokenization stays outside (LiteRT has no WordPiece op): ids in.
"""

import hashlib
import json
import os
import tempfile
import threading

import numpy as np
import tensorflow as tf

PRECISIONS = ("float32", "float16", "int8")
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
IDS_SPECS = [tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_NAMES]


def convert(fn, precision="float32", specs=None):
  """A tf.function of named int32 inputs -> dict of Tensors, as `.tflite` bytes at `precision` (see the
  module doc). `specs` {name: tf.TensorSpec}: its inputs, by default IDS_SPECS' [B, T] ids."""
  from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top
  if precision not in PRECISIONS:
    raise ValueError("LiteRT precision must be one of %s; got %r" % (", ".join(PRECISIONS), precision))
  specs = specs or {spec.name: spec for spec in IDS_SPECS}
  concrete = fn.get_concrete_function(**specs)
  keys = sorted(concrete.structured_outputs)  # the frozen function's flat outputs, in nest order
  frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
  names = [spec.name for spec in tf.nest.flatten(concrete.structured_input_signature)]  # the frozen order
  named = tf.function(lambda **inputs: dict(zip(keys, tf.nest.flatten(frozen(*[inputs[n] for n in names])))))
  # Through a variable-free SavedModel: the .tflite keeps a named `serving_default` signature.
  with tempfile.TemporaryDirectory(prefix="bert_tf2_litert_") as tmp:
    tf.saved_model.save(tf.Module(), tmp, signatures={"serving_default": named.get_concrete_function(**{
        name: tf.TensorSpec(specs[name].shape, specs[name].dtype, name=name) for name in names})},
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
    if precision != "float32":
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "float16":
      converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def encoder_layers_function(model):
  """ids -> {"encoder_outputs": float32 [B, L, T, D]} of a `BertModel` (every layer, stacked)."""
  def layers(input_ids, input_mask, segment_ids):
    out = model({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}, training=False)
    return {"encoder_outputs": tf.cast(tf.stack(out["encoder_outputs"], axis=1), tf.float32)}  # (B, L, T, D)
  return tf.function(layers)


def cache_dir():
  """Where converted models are kept: $BERT_TF2_CACHE, else ~/.cache/bert_tf2."""
  return os.environ.get("BERT_TF2_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bert_tf2")


def encoder_layers_int8(model):
  """`convert(encoder_layers_function(model), "int8")`, kept in cache_dir()/litert under a hash of the
  model's config and weights, TensorFlow's version and the source of the code that builds the graph:
  MiniLM takes ~10 s to convert, ~0.1 s to hash, and a server or `encode.py --precision=int8` converts
  the same weights at every start. Without a writable cache directory it converts every time."""
  digest = hashlib.sha256(json.dumps([tf.__version__, "encoder_layers", "int8", model.config.to_dict()],
                                     sort_keys=True).encode())
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for source in ("layers.py", "modeling.py", "modeling_ops.py", os.path.join("core", "litert.py")):
    with open(os.path.join(package, source), "rb") as f:
      digest.update(f.read())
  for weight in model.weights:
    digest.update(weight.path.encode())
    digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
  path = os.path.join(cache_dir(), "litert", digest.hexdigest() + ".tflite")
  if os.path.isfile(path):
    with open(path, "rb") as f:
      return f.read()
  tflite = convert(encoder_layers_function(model), "int8")
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
      f.write(tflite)
    os.replace(tmp, path)  # a reader never sees half a file
  except OSError:
    pass  # no cache: converted again next time
  return tflite


def default_threads():
  """TensorFlow's intra-op thread count when set (the benchmarks and servers set it), else every core."""
  return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()


def interpreter(model_content=None, model_path=None, num_threads=None):
  """ai-edge-litert's Interpreter (XNNPACK by default); TensorFlow's tf.lite one if it is not installed."""
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    Interpreter = tf.lite.Interpreter  # pylint: disable=invalid-name
  return Interpreter(model_content=model_content, model_path=model_path, num_threads=num_threads)


class Runner:
  """A `.tflite` model over int32 [B, T] ids (its serving signature), called with a dict of arrays,
  resized to each batch's shape; one call at a time (a lock), so it may be shared between threads."""

  def __init__(self, model_content=None, model_path=None, num_threads=None):
    self.interpreter = interpreter(model_content, model_path, num_threads)
    self._signature = self.interpreter.get_signature_runner()
    self.input_names = tuple(self._signature.get_input_details())
    self.output_names = tuple(self._signature.get_output_details())
    self._lock = threading.Lock()

  def __call__(self, batch):
    """batch {input_ids, input_mask, segment_ids: int32 [B, T]} -> {output name: np.ndarray}."""
    feeds = {name: np.asarray(batch[name], np.int32) for name in self.input_names}  # every input is int32
    with self._lock:
      return self._signature(**feeds)
