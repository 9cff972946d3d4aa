r"""What your GPU (or this CPU) does with bert_tf2: one table of throughput per precision and XLA setting.

    bash benchmarks/gpu_check.sh                  # a GPU machine: about 8 minutes on one GPU (estimated)
    bash benchmarks/gpu_check.sh --profile=cpu    # float32 vs mixed_bfloat16 on this CPU, mini and base shapes
    bash benchmarks/gpu_check.sh --smoke          # tiny shapes on CPU, seconds (tests/test_gpu_check.py)

Sections (`--sections`, all by default):
  pretrain  `BertPretrainer` trained by `bert_tf2.core.training.make_train_function` (the loop of
            run_pretraining.py: AdamW with clipping from `optimization.create_optimizer`, loss scaling
            under mixed_float16) on synthetic batches: steps/s and sequences/s per shape, precision
            (`distribute.set_mixed_precision`) and XLA (`jit_compile`). On a GPU each variant starts at
            the shape's global batch and halves it on out-of-memory until a step runs ("batch" column).
  curve     the first `--curve_steps` (200) training steps of float32 and of each mixed precision from the
            same initial weights, dropout seeds and batches; see `gpu_check_data.compare_curves` for the
            tolerance and why.
  finetune  `BertClassifier` training examples/s (run_classifier.py's loss, batch 32 on a GPU).
  embed     `SentenceEncoder.encode_features` sentences/s (REDUCE_MEAN of the last layer, sorted by
            length) and the lowest cosine to float32's vectors; tokenization's sentences/s apart.

Variants that share a machine are measured fairly: `--interleave` (the default on CPU, where other
processes load the cores) builds every precision of a shape first, then runs one execution of each in
turn for `--rounds` rounds; a rate is from the fastest round, and "vs fp32" is the median over rounds
of the ratio between runs of the same round. On a GPU variants run one after another (memory).
NVIDIA's published figures (DeepLearningExamples, TensorFlow 2 BERT, one A100-80GB, BERT-large seq 128
pretraining: 485.6 seq/s mixed precision, 283.0 seq/s TF32) are printed beside the large-128 rows; their
setup (LAMB, their own batch and input pipeline) is not ours, so compare orders of magnitude.
"""

import argparse
import gc
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import gpu_check_data as data  # noqa: E402
from bert_tf2 import optimization  # noqa: E402
from bert_tf2.tasks.classification import model as classifier
from bert_tf2.core import distribute
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.core import training
from bert_tf2.embeddings.encoder import SentenceEncoder  # noqa: E402
from bert_tf2.modeling import BertConfig, BertModel  # noqa: E402

NVIDIA_A100_80GB = {("large-128", "float32"): 283.0, ("large-128", "mixed_float16"): 485.6}
SECTIONS = ("pretrain", "curve", "finetune", "embed")


def is_oom(error):
  """True for an out-of-memory error from TensorFlow or XLA (XLA reports some as InternalError)."""
  text = str(error)
  return isinstance(error, tf.errors.ResourceExhaustedError) or "RESOURCE_EXHAUSTED" in text or (
      "out of memory" in text.lower())


def fit_batch(try_batch, start, minimum=1):
  """(batch, result) for the largest of start, start/2, start/4, ... >= minimum where `try_batch(batch)`
  does not run out of memory; (None, None) when none does. Other errors propagate."""
  batch = start
  while batch >= minimum:
    try:
      return batch, try_batch(batch)
    except (tf.errors.OpError, RuntimeError, ValueError) as e:
      if not is_oom(e):
        raise
      print("  out of memory at global batch %d, trying %d" % (batch, batch // 2), flush=True)
      gc.collect()
      batch //= 2
  return None, None


def build(kind, config, precision, weights=None, seed=0, learning_rate=None, num_steps=10000):
  """A task model built under `precision` (Keras' global policy), its optimizer and loss_fn.

  `weights` (from `model.get_weights()`) start it where another variant starts; `seed` sets the
  dropout seeds. The optimizer is run_pretraining.py's / run_classifier.py's (warmup 10%).
  """
  distribute.set_mixed_precision(precision)
  keras.utils.set_random_seed(seed)  # dropout seeds: the same for every precision
  if kind == "pretrain":
    model, loss_fn, lr = pretraining.BertPretrainer(config), pretraining.pretraining_loss_fn, 1e-4
  else:
    model, loss_fn, lr = classifier.BertClassifier(config, 2), classifier.loss_fn, 2e-5
  if weights is not None:
    model.set_weights(weights)
  optimizer = optimization.create_optimizer(learning_rate or lr, num_steps, num_steps // 10)
  optimizer = training.with_loss_scaling(optimizer)  # under mixed_float16 only
  optimizer.build(model.trainable_variables)
  distribute.set_mixed_precision("none")
  return model, optimizer, loss_fn


class Runner:
  """`steps_per_execution` training steps of one (model, precision, XLA) variant per call."""

  def __init__(self, built, jit, make_batch, start_batch, steps_per_execution):
    self.model, self.optimizer, self.loss_fn = built
    self.jit, self.steps = jit, steps_per_execution
    self.batch, self.trace_seconds = fit_batch(lambda b: self._compile(make_batch, b), start_batch)

  def _compile(self, make_batch, batch):
    dataset = tf.data.Dataset.from_tensors(make_batch(batch)).repeat().prefetch(2)
    self._iterator = iter(dataset)
    self._train = training.make_train_function(self.model, self.optimizer, self.loss_fn,
                                               tf.distribute.get_strategy(), self.jit)
    start = time.perf_counter()
    self()  # trace + compile
    self()  # warm
    return time.perf_counter() - start

  def __call__(self):
    start = time.perf_counter()
    float(self._train(self._iterator, tf.constant(self.steps, tf.int32))["num_batches"])  # waits
    return time.perf_counter() - start


def interleaved(runs, rounds):
  """{key: [seconds per round]}: one call of each `runs[key]()` in turn, `rounds` times, after one
  untimed round (a function's first call after other models were built can take seconds more)."""
  for run in runs.values():
    run()
  seconds = {key: [] for key in runs}
  for _ in range(rounds):
    for key, run in runs.items():
      seconds[key].append(run())
  return seconds


def ratio_vs(seconds, key, base):
  """Median over rounds of seconds[base][r] / seconds[key][r]: > 1 when `key` is faster."""
  if base not in seconds or key not in seconds:
    return None
  return statistics.median(b / k for b, k in zip(seconds[base], seconds[key]))


def throughput_rows(section, shape, profile, args):
  """Pretraining or fine-tuning rows of one shape: every precision x XLA setting."""
  config, seq = data.config_for(shape), data.SHAPES[shape]["seq"]
  preds = max(1, int(round(0.15 * seq)))
  start = profile["batch"][shape] if section == "pretrain" else profile["finetune_batch"]
  make_batch = (lambda b: data.pretraining_batch(config, b, seq, preds, np.random.default_rng(0))
                if section == "pretrain" else data.classifier_batch(config, b, seq, np.random.default_rng(0)))
  groups = [profile["precisions"]] if args.interleave else [[p] for p in profile["precisions"]]
  rows = []
  for group in groups:
    runners = {}
    for precision in group:
      try:
        built = build(section, config, precision)
      except (tf.errors.OpError, RuntimeError, ValueError, TypeError) as e:  # e.g. bf16 on a pre-Ampere GPU
        rows.append(dict(section=section, shape=shape, precision=precision, note=_short(e)))
        continue
      for jit in profile["jit"]:
        try:
          runner = Runner(built, jit, make_batch, start, profile["steps_per_execution"])
        except (tf.errors.OpError, RuntimeError, ValueError, TypeError) as e:
          rows.append(dict(section=section, shape=shape, precision=precision, jit=jit, note=_short(e)))
          continue
        print("  %s %s %s XLA %s: global batch %s, traced and warmed in %.1f s" % (
            section, shape, precision, "on" if jit else "off", runner.batch, runner.trace_seconds or 0), flush=True)
        if runner.batch is None:
          rows.append(dict(section=section, shape=shape, precision=precision, jit=jit, note="OOM at batch 1"))
        else:
          runners[precision, jit] = runner
      del built
    seconds = interleaved(runners, profile["rounds"])
    for (precision, jit), runner in runners.items():
      best = min(seconds[precision, jit])
      rows.append(dict(section=section, shape=shape, precision=precision, jit=jit, batch=runner.batch,
                       steps_per_s=runner.steps / best, per_s=runner.steps * runner.batch / best,
                       vs_fp32=ratio_vs(seconds, (precision, jit), ("float32", jit)),
                       trace_s=runner.trace_seconds, seconds=seconds[precision, jit],
                       nvidia=NVIDIA_A100_80GB.get((shape, precision)) if section == "pretrain" else None))
    del runners
    keras.backend.clear_session()
    gc.collect()
  return rows


def embed_rows(shape, profile, args, workdir):
  """SentenceEncoder sentences/s per precision (same weights), min cosine to float32's vectors."""
  config, seq = data.config_for(shape), data.SHAPES[shape]["seq"]
  tokenizer = data.synthetic_tokenizer(config.vocab_size, workdir)
  texts = data.synthetic_texts(tokenizer, profile["sentences"], seq, np.random.default_rng(1))
  weights, encoders = None, {}
  for precision in profile["precisions"]:
    distribute.set_mixed_precision(precision)
    model = BertModel(config)
    distribute.set_mixed_precision("none")
    if weights is None:
      weights = model.get_weights()
    model.set_weights(weights)
    encoders[precision] = SentenceEncoder(model, tokenizer, max_seq_length=seq, pooling_layer=-1,
                                          normalize=True, batch_size=profile["embed_batch"])
  start = time.perf_counter()
  features = next(iter(encoders.values())).features(texts)
  tokenize_s = time.perf_counter() - start
  vectors = {p: e.encode_features(features) for p, e in encoders.items()}  # warm-up (traces)
  seconds = interleaved({p: _timed(e.encode_features, features) for p, e in encoders.items()}, profile["rounds"])
  rows = []
  for precision in encoders:
    cosine = np.sum(vectors[precision] * vectors["float32"], axis=1) if "float32" in vectors else None
    rows.append(dict(section="embed", shape=shape, precision=precision, jit=False, batch=profile["embed_batch"],
                     per_s=len(texts) / min(seconds[precision]), vs_fp32=ratio_vs(seconds, precision, "float32"),
                     min_cosine=None if cosine is None else float(cosine.min()), seconds=seconds[precision],
                     tokenize_per_s=len(texts) / tokenize_s))
  return rows


def _timed(fn, *args):
  def run():
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start
  return run


def _short(error):
  return "%s: %s" % (type(error).__name__, str(error).strip().splitlines()[0][:100])


def curve_report(profile):
  """Loss per step of float32 (two dropout seeds) and each mixed precision; compare_curves' verdicts."""
  shape, steps = profile["curve_shape"], profile["curve_steps"]
  config, seq = data.config_for(shape), data.SHAPES[shape]["seq"]
  batches = data.curve_batches(config, profile["curve_batch"], seq, max(1, int(round(0.15 * seq))), steps)
  weights = build("pretrain", config, "float32")[0].get_weights()
  runs = [("float32", 0), ("float32", 1)] + [(p, 0) for p in profile["precisions"] if p != "float32"]
  curves = {}
  for precision, seed in runs:
    model, optimizer, loss_fn = build("pretrain", config, precision, weights, seed, profile["curve_lr"], steps)
    train = training.make_train_function(model, optimizer, loss_fn, tf.distribute.get_strategy())
    iterator, one = iter(batches), tf.constant(1, tf.int32)
    start = time.perf_counter()
    curves["%s/seed%d" % (precision, seed)] = [float(train(iterator, one)["loss_sum"]) for _ in range(steps)]
    print("  curve %s %s dropout seed %d: %d steps in %.1f s" % (shape, precision, seed, steps,
                                                               time.perf_counter() - start), flush=True)
    del model, optimizer, train
    keras.backend.clear_session()
  return curves, data.compare_curves(curves, profile["curve_window"])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--profile", choices=["auto", "gpu", "cpu", "smoke"], default="auto",
                      help="auto: gpu when TensorFlow sees a GPU, else cpu")
  parser.add_argument("--smoke", action="store_true", help="same as --profile=smoke")
  parser.add_argument("--sections", default=None,
                      help="comma-separated of %s; default the profile's (cpu: no finetune)" % ",".join(SECTIONS))
  parser.add_argument("--shapes", default=None, help="comma-separated, default the profile's")
  parser.add_argument("--precisions", default=None, help="comma-separated, default the profile's")
  parser.add_argument("--jit", choices=["both", "on", "off"], default=None, help="XLA; default both (smoke: off)")
  parser.add_argument("--rounds", type=int, default=None)
  parser.add_argument("--interleave", choices=["auto", "yes", "no"], default="auto")
  parser.add_argument("--output_json", default=None, help="also write every number (and the curves) here")
  args = parser.parse_args(argv)
  gpus = tf.config.list_physical_devices("GPU")
  name = "smoke" if args.smoke else args.profile
  name = ("gpu" if gpus else "cpu") if name == "auto" else name
  profile = data.profile(name, args)
  args.interleave = {"yes": True, "no": False}.get(args.interleave, not gpus)
  sections = [s for s in (args.sections or ",".join(profile["sections"])).split(",") if s]
  unknown = set(sections) - set(SECTIONS)
  if unknown:
    parser.error("--sections: unknown %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(SECTIONS)))
  print(data.machine_line(gpus, name), flush=True)
  rows, curves, verdicts = [], {}, []
  workdir = data.scratch_dir()
  for section in sections:
    if section in ("pretrain", "finetune"):
      for shape in profile["shapes"] if section == "pretrain" else [profile["finetune_shape"]]:
        rows += throughput_rows(section, shape, profile, args)
        print(data.format_table([r for r in rows if r["shape"] == shape and r["section"] == section], [], profile),
              flush=True)  # as it goes: a long run shows its numbers early
    elif section == "embed":
      for shape in profile["embed_shapes"]:
        rows += embed_rows(shape, profile, args, workdir)
    elif section == "curve":
      curves, verdicts = curve_report(profile)
  print(data.format_table(rows, verdicts, profile), flush=True)
  print("load average at the end: %.1f %.1f %.1f" % os.getloadavg())
  if args.output_json:
    tmp = args.output_json + ".tmp-%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
      json.dump({"profile": name, "rows": rows, "curves": curves, "verdicts": verdicts}, f, indent=1)
    os.replace(tmp, args.output_json)
  return 0 if all(v["ok"] for v in verdicts) else 1


if __name__ == "__main__":
  sys.exit(main())
