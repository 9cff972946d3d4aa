"""Shapes, profiles, synthetic data, the loss-curve check and the table of benchmarks/gpu_check.py.

The synthetic text is a tiny Markov language (each token has 4 possible successors), so that the
masked-LM loss of the first 200 steps falls (unigram, then context) and a loss curve says something;
uniform random tokens would keep it flat at ln(V).
"""

import os
import platform
import tempfile

import numpy as np
import tensorflow as tf

from bert_tf2 import tokenization
from bert_tf2.modeling import BertConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TINY = dict(vocab_size=128, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=64, type_vocab_size=2)
SHAPES = {
    "tiny-32": dict(config=_TINY, seq=32),
    "mini-128": dict(config="configs/bert_mini_L-4_H-256_A-4.json", seq=128),
    "base-128": dict(config="configs/bert_base_L-12_H-768_A-12.json", seq=128),
    "base-512": dict(config="configs/bert_base_L-12_H-768_A-12.json", seq=512),
    "large-128": dict(config="configs/bert_large_L-24_H-1024_A-16.json", seq=128),
}
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# batch: the global batch each pretraining variant starts its out-of-memory search at (GPU), or uses (CPU).
PROFILES = {
    "gpu": dict(sections=("pretrain", "curve", "finetune", "embed"), shapes=("base-128", "base-512", "large-128"),
                precisions=PRECISIONS, batch={"base-128": 256, "base-512": 64, "large-128": 128},
                steps_per_execution=10, rounds=2, finetune_shape="base-128", finetune_batch=32,
                curve_shape="base-128", curve_batch=32, curve_steps=200, curve_window=20, curve_lr=1e-4,
                embed_shapes=("base-128",), sentences=4096, embed_batch=128),
    "cpu": dict(sections=("pretrain", "curve", "embed"), shapes=("mini-128", "base-128"),
                precisions=("float32", "mixed_bfloat16"), batch={"mini-128": 32, "base-128": 8},
                steps_per_execution=1, rounds=5, finetune_shape="mini-128", finetune_batch=32,
                curve_shape="mini-128", curve_batch=16, curve_steps=200, curve_window=20, curve_lr=5e-4,
                embed_shapes=("mini-128", "base-128"), sentences=512, embed_batch=32),
    # Every code path once, each traced once (tracing is most of its time): no XLA, no float16 by default.
    "smoke": dict(sections=("pretrain", "curve", "finetune", "embed"), shapes=("tiny-32",),
                  precisions=("float32", "mixed_bfloat16"), jit=(False,),
                  batch={"tiny-32": 4}, steps_per_execution=1, rounds=1, finetune_shape="tiny-32", finetune_batch=4,
                  curve_shape="tiny-32", curve_batch=4, curve_steps=10, curve_window=5, curve_lr=1e-3,
                  embed_shapes=("tiny-32",), sentences=16, embed_batch=8),
}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CLS, SEP, MASK = 2, 3, 4


def profile(name, args):
  """The profile's settings with the command line's overrides (shapes, precisions, jit, rounds)."""
  settings = dict(PROFILES[name])
  if args.shapes:
    settings["shapes"] = tuple(args.shapes.split(","))
    settings["embed_shapes"] = settings["shapes"]
    settings["batch"] = {s: settings["batch"].get(s, 8) for s in settings["shapes"]}
  if args.precisions:
    settings["precisions"] = tuple(args.precisions.split(","))
  for shape in settings["shapes"]:
    if shape not in SHAPES:
      raise SystemExit("--shapes: unknown %r (known: %s)" % (shape, ", ".join(SHAPES)))
  for precision in settings["precisions"]:
    if precision not in PRECISIONS:
      raise SystemExit("--precisions: unknown %r (known: %s)" % (precision, ", ".join(PRECISIONS)))
  if args.jit or "jit" not in settings:
    settings["jit"] = {"both": (False, True), "on": (True,), "off": (False,)}[args.jit or "both"]
  if args.rounds:
    settings["rounds"] = args.rounds
  return settings


def config_for(shape):
  config = SHAPES[shape]["config"]
  if isinstance(config, dict):
    return BertConfig(**config)
  return BertConfig.from_json_file(os.path.join(ROOT, config))


def _markov_tokens(vocab_size, batch, seq, rng):
  """int32 [batch, seq] from a fixed Markov language over min(vocab - 5, 2000) word ids."""
  words = min(vocab_size - len(SPECIALS), 2000)
  successors = np.random.default_rng(1234).integers(0, words, (words, 4))  # the language: fixed
  tokens = np.empty([batch, seq], np.int64)
  tokens[:, 0] = rng.integers(0, words, batch)
  for t in range(1, seq):
    tokens[:, t] = successors[tokens[:, t - 1], rng.integers(0, 4, batch)]
  return (tokens + len(SPECIALS)).astype(np.int32)


def pretraining_batch(config, batch, seq, preds, rng):
  """One pretraining batch (the TFRecord features) of the Markov language: [CLS] a [SEP] b [SEP],
  `preds` positions masked with [MASK], their true tokens as labels, random next-sentence labels."""
  ids = _markov_tokens(config.vocab_size, batch, seq, rng)
  half = seq // 2
  ids[:, 0], ids[:, half], ids[:, -1] = CLS, SEP, SEP
  candidates = np.array([t for t in range(1, seq - 1) if t != half])
  order = np.argsort(rng.random((batch, len(candidates))), axis=1)[:, :preds]
  positions = np.sort(candidates[order], axis=1).astype(np.int32)
  labels = np.take_along_axis(ids, positions, axis=1)
  np.put_along_axis(ids, positions, MASK, axis=1)
  return {"input_ids": ids, "input_mask": np.ones_like(ids),
          "segment_ids": (np.arange(seq) > half).astype(np.int32)[None].repeat(batch, 0),
          "masked_lm_positions": positions, "masked_lm_ids": labels,
          "masked_lm_weights": np.ones([batch, preds], np.float32),
          "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype(np.int32)}


def classifier_batch(config, batch, seq, rng):
  ids = _markov_tokens(config.vocab_size, batch, seq, rng)
  ids[:, 0], ids[:, -1] = CLS, SEP
  return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids),
          "label_ids": rng.integers(0, 2, batch).astype(np.int32)}


def curve_batches(config, batch, seq, preds, steps):
  """A dataset of `steps` distinct pretraining batches, the same for every run (seeded)."""
  rng = np.random.default_rng(7)
  stacked = pretraining_batch(config, batch * steps, seq, preds, rng)
  return tf.data.Dataset.from_tensor_slices(stacked).batch(batch)


def synthetic_tokenizer(vocab_size, workdir):
  """A `FullTokenizer` over [PAD] [UNK] [CLS] [SEP] [MASK] w5 w6 ... (one piece per word)."""
  path = os.path.join(workdir, "vocab_%d.txt" % vocab_size)
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(SPECIALS + ["w%d" % i for i in range(len(SPECIALS), vocab_size)]) + "\n")
  return tokenization.FullTokenizer(path, do_lower_case=True)


def synthetic_texts(tokenizer, n, seq, rng):
  """n sentences of the Markov language, lengths log-normal around 20 words (2 .. seq - 2)."""
  lengths = np.clip(rng.lognormal(np.log(20), 0.6, n).astype(int), 2, seq - 2)
  ids = _markov_tokens(len(tokenizer.vocab), n, int(lengths.max()), rng)
  return [" ".join("w%d" % i for i in row[:length]) for row, length in zip(ids, lengths)]


def window_means(curve, window):
  return [float(np.mean(curve[i:i + window])) for i in range(0, len(curve), window)]


def compare_curves(curves, window):
  """Verdicts: does each mixed-precision curve track float32's?

  `curves` has "float32/seed0", "float32/seed1" (the same run with other dropout seeds) and
  "<precision>/seed0" (same weights, batches and dropout seeds as float32/seed0). Per-step losses
  are averaged over windows of `window` steps. The tolerance is the distance between the two
  float32 runs: a change of dropout seed is a difference every user accepts between two float32
  runs, so mixed precision passes when its window means stay within twice that (largest window
  gap) of float32/seed0's, and never further than 0.05 nats (floor 0.01 nats, for runs so short
  that dropout barely moves them).
  """
  base = window_means(curves["float32/seed0"], window)
  noise = max(abs(a - b) for a, b in zip(base, window_means(curves["float32/seed1"], window)))
  tolerance = min(max(2 * noise, 0.01), 0.05)
  verdicts = []
  for name, curve in curves.items():
    if name.startswith("float32"):
      continue
    gaps = [abs(a - b) for a, b in zip(base, window_means(curve, window))]
    verdicts.append(dict(run=name, max_gap=max(gaps), tolerance=tolerance, fp32_seed_gap=noise,
                         first=base[0], last=base[-1], last_mixed=window_means(curve, window)[-1],
                         ok=bool(max(gaps) <= tolerance and np.all(np.isfinite(curve)))))
  return verdicts


def machine_line(gpus, profile_name):
  if gpus:
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    device = "%d GPU(s): %s" % (len(gpus), ", ".join(names))
  else:
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    extras = [f for f in ("avx512_bf16", "amx_bf16", "avx512f") if " %s" % f in flags]
    device = "CPU (%s, %d cores; %s)" % (platform.processor() or platform.machine(), os.cpu_count(),
                                         " ".join(extras) or "no AVX-512")
  return "gpu_check profile=%s, TensorFlow %s, %s, load average %.1f %.1f %.1f" % (
      (profile_name, tf.__version__, device) + os.getloadavg())


_UNITS = {"pretrain": "seq/s", "finetune": "ex/s", "embed": "sent/s"}


def format_table(rows, verdicts, profile):
  """The one table: throughput rows, then the loss-curve verdicts."""
  head = "%-9s %-10s %-15s %-4s %6s %8s %10s %-6s %7s %-22s" % (
      "section", "shape", "precision", "XLA", "batch", "steps/s", "per s", "unit", "vs fp32", "NVIDIA A100-80GB / note")
  lines = [head, "-" * len(head)]
  for r in rows:
    if "per_s" not in r:
      lines.append("%-9s %-10s %-15s %-4s %s" % (r["section"], r["shape"], r["precision"],
                                                 {True: "on", False: "off"}.get(r.get("jit"), ""), r["note"]))
      continue
    note = "%.1f seq/s" % r["nvidia"] if r.get("nvidia") else ""
    if r["section"] == "embed":
      note = "tokenize %.0f/s" % r["tokenize_per_s"]
      if r.get("min_cosine") is not None and r["precision"] != "float32":
        note += ", min cos %.6f" % r["min_cosine"]
    lines.append("%-9s %-10s %-15s %-4s %6d %8s %10.1f %-6s %7s %-22s" % (
        r["section"], r["shape"], r["precision"], "on" if r.get("jit") else "off", r["batch"],
        "%.3f" % r["steps_per_s"] if "steps_per_s" in r else "", r["per_s"], _UNITS[r["section"]],
        "%.2fx" % r["vs_fp32"] if r.get("vs_fp32") else "", note))
  for v in verdicts:
    lines.append("curve %s vs float32, %s, %d steps: max window gap %.4f, tolerance %.4f (2 x float32 dropout-seed "
                 "gap %.4f, within [0.01, 0.05]); float32 loss %.3f -> %.3f, %s %.3f: %s" % (
                     v["run"], profile["curve_shape"], profile["curve_steps"], v["max_gap"], v["tolerance"],
                     v["fp32_seed_gap"], v["first"], v["last"], v["run"].split("/")[0], v["last_mixed"],
                     "AGREE" if v["ok"] else "DIFFER"))
  return "\n".join(lines)


def scratch_dir():
  return tempfile.mkdtemp(prefix="gpu_check_")
