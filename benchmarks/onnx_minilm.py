r"""ONNX Runtime's side of benchmarks/embedding_speed.py: all-MiniLM-L6-v2 exported with torch.onnx, timed.

Runs in the separate benchmark venv (torch, transformers, onnxruntime, onnx; never the project's .venv):

  /work/venv-torch/bin/python benchmarks/onnx_minilm.py --model_dir=DIR --onnx_dir=/tmp/minilm_onnx \
      --threads=2 --batch_size=64 --variant=fused < sentences.json

What a user of sentence-transformers' `backend="onnx"` gets, built by hand because its Optimum export
fails under transformers 5.x: the Hugging Face `BertModel` exported by `torch.onnx.export` (eager
attention, opset 17, dynamic batch and sequence axes; cached in --onnx_dir), run by an
`onnxruntime.InferenceSession` with `ORT_ENABLE_ALL` graph optimisations, `--threads` intra-op threads
and one inter-op thread. `--variant=fused` first runs `onnxruntime.transformers.optimizer` (model_type
bert: fused Attention, EmbedLayerNormalization, SkipLayerNormalization, BiasGelu), as Optimum's
highest optimisation level does. The encode loop is sentence-transformers': sentences sorted by
character length (longest first), the fast tokenizer per batch (padding to the batch's longest,
truncation at max_seq_length 256), mean pooling over the attention mask, L2 normalisation; or, with
--sort_by=tokens, all sentences tokenized first and sorted by token count (bert_tf2's bucketing:
on the benchmark's mixed Chinese/English lines 51,200 padded tokens instead of 81,016).

`--variant=fused_int8`: the fused model after ONNX Runtime's dynamic quantization with the settings
sentence-transformers' `export_dynamic_quantized_onnx_model(model, "avx512_vnni")` passes through
Optimum (`AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)`: int8 weights per
channel, uint8 activations quantized per call, reduce_range off, its operator list). `--runtime=openvino`
compiles the plain ONNX model with OpenVINO's CPU plugin instead (its default precision hint: bf16 on
AVX512-BF16 CPUs). `--latency_sentences=K`: also the p50 of K single-sentence calls (batch 1).

Reads the sentences as a JSON list on stdin; prints one JSON line per timed run ({"seconds": ...});
with --vectors_out writes the last run's float32 [N, 384] vectors there (.npy).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export(model_dir, path):
  """torch.onnx export of transformers' BertModel -> last_hidden_state float32 [B, T, D]."""
  import torch  # pylint: disable=g-import-not-at-top
  from transformers import AutoModel  # pylint: disable=g-import-not-at-top

  class LastHiddenState(torch.nn.Module):
    def __init__(self, model):
      super().__init__()
      self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):  # keywords: transformers 5 moved positionals
      return self.model(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids).last_hidden_state

  model = LastHiddenState(AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval())
  ids = torch.ones(2, 16, dtype=torch.int64)
  axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS + ("last_hidden_state",)}
  tmp = path + ".tmp-%d" % os.getpid()
  torch.onnx.export(model, (ids, ids, torch.zeros_like(ids)), tmp, input_names=list(INPUTS),
                    output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
  os.replace(tmp, path)


def fuse(path, fused_path, num_heads, hidden_size):
  from onnxruntime.transformers import optimizer  # pylint: disable=g-import-not-at-top
  model = optimizer.optimize_model(path, model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
  fused = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
  tmp = fused_path + ".tmp-%d.onnx" % os.getpid()
  model.save_model_to_file(tmp)
  os.replace(tmp, fused_path)
  return fused


# Optimum's ORTConfig default operators_to_quantize (what its avx512_vnni config quantizes).
QUANTIZED_OPERATORS = ["Conv", "MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization"]


def quantize(fused_path, int8_path):
  import onnx  # pylint: disable=g-import-not-at-top
  from onnxruntime.quantization import QuantType, quantize_dynamic  # pylint: disable=g-import-not-at-top
  tmp = int8_path + ".tmp-%d.onnx" % os.getpid()
  # DefaultTensorType: the fused contrib ops' outputs have no inferred type (Optimum sets the same).
  quantize_dynamic(fused_path, tmp, weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
                   op_types_to_quantize=QUANTIZED_OPERATORS,
                   extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
  os.replace(tmp, int8_path)


def model_file(model_dir, onnx_dir, variant):
  """The ONNX file for `variant` ("plain", "fused" or "fused_int8"), exported (fused, quantized) once, then cached."""
  os.makedirs(onnx_dir, exist_ok=True)
  plain = os.path.join(onnx_dir, "model.onnx")
  if not os.path.exists(plain):
    export(model_dir, plain)
  if variant == "plain":
    return plain, None
  fused_path = os.path.join(onnx_dir, "model_fused.onnx")
  fused = None
  if not os.path.exists(fused_path):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
      config = json.load(f)
    fused = fuse(plain, fused_path, config["num_attention_heads"], config["hidden_size"])
  if variant == "fused_int8":
    int8_path = os.path.join(onnx_dir, "model_fused_qint8_avx512_vnni.onnx")
    if not os.path.exists(int8_path):
      quantize(fused_path, int8_path)
    return int8_path, fused
  return fused_path, fused


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--onnx_dir", required=True)
  parser.add_argument("--variant", choices=["plain", "fused", "fused_int8"], default="fused")
  parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="onnxruntime")
  parser.add_argument("--latency_sentences", type=int, default=0)
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--max_seq_length", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--vectors_out", default=None)
  parser.add_argument("--sort_by", choices=["characters", "tokens"], default="characters",
                      help="characters: sentence-transformers' encode loop; tokens: sorted by token count")
  args = parser.parse_args()
  from transformers import AutoTokenizer  # pylint: disable=g-import-not-at-top
  path, fused = model_file(args.model_dir, args.onnx_dir, args.variant)
  if args.runtime == "openvino":
    import openvino as ov  # pylint: disable=g-import-not-at-top
    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": args.threads,
                                                     "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    run = lambda feeds: [request.infer(feeds)[compiled.output(0)]]
    version = "openvino " + ov.__version__
  else:
    import onnxruntime as ort  # pylint: disable=g-import-not-at-top
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    run = lambda feeds: session.run(None, feeds)
    version = "onnxruntime " + ort.__version__
  tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
  sentences = json.load(sys.stdin)

  def batches_by_characters(texts):
    """sentence-transformers' order: by character length, the fast tokenizer per batch."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), args.batch_size):
      rows = order[start:start + args.batch_size]
      batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=args.max_seq_length,
                        return_tensors="np")
      yield rows, {name: batch[name].astype(np.int64) for name in INPUTS}

  def batches_by_tokens(texts):
    """All texts tokenized at once, sorted by token count (as bert_tf2 does): less padding."""
    ids = tokenizer(texts, truncation=True, max_length=args.max_seq_length)["input_ids"]
    order = np.argsort([-len(x) for x in ids], kind="stable")
    for start in range(0, len(texts), args.batch_size):
      rows = order[start:start + args.batch_size]
      width = len(ids[rows[0]])
      input_ids = np.zeros([len(rows), width], np.int64)
      mask = np.zeros([len(rows), width], np.int64)
      for r, i in enumerate(rows):
        input_ids[r, :len(ids[i])] = ids[i]
        mask[r, :len(ids[i])] = 1
      yield rows, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}

  def encode(texts):
    vectors = None
    batches = batches_by_tokens if args.sort_by == "tokens" else batches_by_characters
    for rows, feeds in batches(texts):
      hidden = run(feeds)[0]  # (B, T, D)
      mask = feeds["attention_mask"][:, :, None].astype(np.float32)
      pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
      if vectors is None:
        vectors = np.empty([len(texts), pooled.shape[1]], np.float32)
      vectors[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return vectors

  encode(sentences[:args.batch_size])  # warm-up
  for _ in range(args.repeats):
    start = time.perf_counter()
    vectors = encode(sentences)
    print(json.dumps({"seconds": time.perf_counter() - start, "runtime": version,
                      "variant": args.variant, "sort_by": args.sort_by, "fused_operators": fused}), flush=True)
  if args.latency_sentences:
    times = []
    for sentence in sentences[:args.latency_sentences]:
      start = time.perf_counter()
      encode([sentence])
      times.append(time.perf_counter() - start)
    print(json.dumps({"p50_ms": 1000 * float(np.median(times))}), flush=True)
  if args.vectors_out:
    np.save(args.vectors_out, vectors)


if __name__ == "__main__":
  main()
