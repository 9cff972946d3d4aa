"""Inference precision by name: one option on export, `encode` and the server.

    check_precision("int8")                       # -> "int8"; ValueError naming the choices otherwise
    with build_scope("bfloat16"):                  # models built here compute in bfloat16
      model = BertModel(config)
    model = for_precision(model, "bfloat16")      # a float32 BertModel rebuilt in bfloat16, same weights

  float32   the reference.
  bfloat16  Keras' `mixed_bfloat16` policy: matmuls and activations in bfloat16, variables, softmax
            and LayerNorm statistics in float32; runs in any TensorFlow graph (SavedModel signatures
            included), fast on CPUs with AVX512-BF16 or AMX.
  int8      LiteRT dynamic-range quantization: int8 weights (per output channel), activations
            quantized per call, XNNPACK's int8 kernels (VNNI); the encoder's ids -> layers part only
            (`bert_tf2.core.litert`), the tokenizer and pooling stay in Python / TensorFlow.
            TensorFlow's own int8 matmul (what Keras' `model.quantize("int8")` calls on this
            backend) is slower than float32 on CPU, so int8 is never run inside a TF graph here.
"""

import contextlib

import keras

PRECISIONS = ("float32", "bfloat16", "int8")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "int8": "float32"}


def check_precision(precision, choices=PRECISIONS):
  """Returns `precision` if it is one of `choices`, else ValueError (one line)."""
  if precision not in choices:
    raise ValueError("precision must be one of %s; got %r" % (", ".join(choices), precision))
  return precision


@contextlib.contextmanager
def build_scope(precision):
  """Keras layers created inside compute at `precision` (bfloat16: `mixed_bfloat16`); restores the
  global policy after."""
  old = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(_POLICIES[check_precision(precision)])
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(old)


def for_precision(model, precision):
  """`model` (a built Keras model with `from_config`/`get_config`) rebuilt under `precision`'s policy
  with the same weights; `model` itself when it already computes so (float32 and int8: float32)."""
  policy = _POLICIES[check_precision(precision)]
  if model.dtype_policy.name == policy:
    return model
  with build_scope(precision):
    rebuilt = model.__class__.from_config(model.get_config())
  rebuilt.set_weights(model.get_weights())
  return rebuilt
