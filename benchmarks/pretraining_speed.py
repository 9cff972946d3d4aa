"""Training examples/s of BertPretrainer vs keras-hub's BertBackbone + BertMaskedLM, same shape.

    PYTHONPATH=. .venv/bin/python benchmarks/pretraining_speed.py            # mini, batch 32, seq 128
    PYTHONPATH=. .venv/bin/python benchmarks/pretraining_speed.py --layers=2 --hidden=128 --steps=10

Both models are trained by the same loop (`bert_tf2.core.training.make_train_function`: GradientTape,
the original AdamW with clipping, `steps_per_execution` steps per tf.function call) on the same
random batches, with and without XLA (`jit_compile`). keras-hub's task has no next-sentence head;
ours trains both heads, as run_pretraining.py does. All variants are compiled first, then run one
execution at a time in turn (ours, hub, ours+XLA, hub+XLA, ours, ...) so that load from other
processes on a shared machine hits them alike; examples/s = examples / summed time per variant.
The matmul peak is the best of one measurement per round. `keras_hub_fit` is keras-hub trained
the Keras way (`compile` with the same optimizer, weighted sparse cross-entropy and accuracy, then
`train_on_batch`), i.e. the stack a keras-hub user runs, against ours as run_pretraining.py runs it.

MFU = model FLOPs per second / a measured float32 matmul peak (a 2048x2048 @ 2048x2048 tf.matmul
on this machine, same thread settings). Model FLOPs per step = 3 x forward matmul FLOPs
(forward + 2x backward): per token 2*(4*D^2 + 2*D*I) per layer + 4*T*D per layer for attention
scores and context; the masked-LM head 2*(D^2 + D*V) per prediction.
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from bert_tf2 import optimization
from bert_tf2.tasks.pretraining import electra
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.core import training
from bert_tf2.modeling import BertConfig


def _batch(args, rng):
  b, t, p, v = args.batch, args.seq, args.preds, args.vocab
  # Distinct positions per row, as create_pretraining_data writes them (ELECTRA writes a sample at each).
  positions = np.stack([np.sort(rng.choice(np.arange(1, t), p, replace=False)) for _ in range(b)]).astype(np.int32)
  return {
      "input_ids": rng.integers(5, v, (b, t)).astype(np.int32), "input_mask": np.ones((b, t), np.int32),
      "segment_ids": np.repeat([[0] * (t // 2) + [1] * (t - t // 2)], b, 0).astype(np.int32),
      "masked_lm_positions": positions, "masked_lm_ids": rng.integers(5, v, (b, p)).astype(np.int32),
      "masked_lm_weights": np.ones((b, p), np.float32),
      "next_sentence_labels": rng.integers(0, 2, (b, 1)).astype(np.int32),
  }


def _hub_loss_fn(model, features, training_):
  logits = model({"token_ids": features["input_ids"], "segment_ids": features["segment_ids"],
                  "padding_mask": features["input_mask"] > 0, "mask_positions": features["masked_lm_positions"]},
                 training=training_)
  loss, example_loss = pretraining.masked_lm_loss(logits, features["masked_lm_ids"], features["masked_lm_weights"])
  # The same masked-LM metric sums as ours computes, so both loops do the same bookkeeping.
  weights = features["masked_lm_weights"]
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), features["masked_lm_ids"]), tf.float32)
  return loss, {"masked_lm_correct": tf.reduce_sum(weights * correct),
                "masked_lm_loss_sum": tf.reduce_sum(weights * example_loss)}


def _build(kind, args):
  """(model, loss_fn) of `kind`: bert_tf2 (MLM + NSP), electra (bert_tf2's, generator D/4) or keras_hub."""
  config = BertConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                      num_attention_heads=args.heads, intermediate_size=4 * args.hidden,
                      max_position_embeddings=512, type_vocab_size=2)
  if kind == "bert_tf2":
    return pretraining.BertPretrainer(config), pretraining.pretraining_loss_fn
  if kind == "electra":
    return electra.ElectraPretrainer(config), electra.electra_loss_fn()
  import keras_hub  # pylint: disable=g-import-not-at-top
  backbone = keras_hub.models.BertBackbone(
      vocabulary_size=args.vocab, num_layers=args.layers, num_heads=args.heads, hidden_dim=args.hidden,
      intermediate_dim=4 * args.hidden, dropout=0.1, max_sequence_length=512)
  return keras_hub.models.BertMaskedLM(backbone, preprocessor=None), _hub_loss_fn


def make_runner(kind, jit_compile, args, dataset):
  """A function running `args.steps_per_execution` training steps of a fresh model (compiled once)."""
  model, loss_fn = _build(kind, args)
  optimizer = optimization.create_optimizer(1e-4, 10000, 100)
  optimizer.build(model.trainable_variables)
  train_steps = training.make_train_function(model, optimizer, loss_fn, tf.distribute.get_strategy(),
                                             jit_compile)
  iterator = iter(dataset)
  n = tf.constant(args.steps_per_execution, tf.int32)

  def run():
    float(train_steps(iterator, n)["num_batches"])  # waits for the result

  run()  # trace + compile
  return run


def make_fit_runner(jit_compile, args, batch):
  """keras-hub the Keras way: `compile` (same optimizer, weighted sparse CE) + `train_on_batch`."""
  model, _ = _build("keras_hub", args)
  model.compile(optimizer=optimization.create_optimizer(1e-4, 10000, 100),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                weighted_metrics=[keras.metrics.SparseCategoricalAccuracy()], jit_compile=jit_compile,
                steps_per_execution=1)
  x = {"token_ids": batch["input_ids"], "segment_ids": batch["segment_ids"],
       "padding_mask": batch["input_mask"] > 0, "mask_positions": batch["masked_lm_positions"]}
  y, w = batch["masked_lm_ids"], batch["masked_lm_weights"]

  def run():
    for _ in range(args.steps_per_execution):
      model.train_on_batch(x, y, sample_weight=w)

  run()
  return run


def timed(fn):
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def matmul_peak_flops(n=2048, repeats=10):
  a = tf.random.normal([n, n])
  f = tf.function(lambda x: tf.matmul(x, x))
  f(a).numpy()
  start = time.perf_counter()
  for _ in range(repeats):
    out = f(a)
  out.numpy()
  return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def flops_per_example(args):
  d, i, t, p, v, l = args.hidden, 4 * args.hidden, args.seq, args.preds, args.vocab, args.layers
  forward = t * l * (2 * (4 * d * d + 2 * d * i) + 4 * t * d) + p * 2 * (d * d + d * v)
  return 3 * forward


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--hidden", type=int, default=256)
  parser.add_argument("--heads", type=int, default=4)
  parser.add_argument("--vocab", type=int, default=21128, help="Google's Chinese vocab size")
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--preds", type=int, default=20)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--steps_per_execution", type=int, default=2)
  parser.add_argument("--rounds", type=int, default=8, help="interleaved executions per variant")
  parser.add_argument("--jit", choices=["both", "on", "off"], default="both")
  args = parser.parse_args()
  keras.utils.set_random_seed(0)
  batch = _batch(args, np.random.default_rng(0))
  dataset = tf.data.Dataset.from_tensors(batch).repeat()
  print("shape: layers=%d hidden=%d heads=%d vocab=%d seq=%d preds=%d batch=%d; %.2f GFLOP per example"
        % (args.layers, args.hidden, args.heads, args.vocab, args.seq, args.preds, args.batch,
           flops_per_example(args) / 1e9))
  jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
  kinds = ("bert_tf2", "keras_hub")
  runners = {(kind, jit): make_runner(kind, jit, args, dataset) for jit in jits for kind in kinds}
  for jit in jits:
    runners["keras_hub_fit", jit] = make_fit_runner(jit, args, batch)
  seconds = {key: 0.0 for key in runners}
  peak = 0.0
  # Interleaved one execution at a time, so load from other processes hits every variant alike.
  for _ in range(args.rounds):
    peak = max(peak, matmul_peak_flops())
    for key, run in runners.items():
      seconds[key] += timed(run)
  examples = args.rounds * args.steps_per_execution * args.batch
  best = {key: examples / t for key, t in seconds.items()}
  print("matmul peak (best of %d): %.1f GFLOP/s" % (args.rounds, peak / 1e9))
  print("%-13s %-11s %12s %6s" % ("model", "jit_compile", "examples/s", "MFU"))
  for (kind, jit), eps in sorted(best.items()):
    print("%-13s %-11s %12.1f %5.1f%%" % (kind, jit, eps, 100 * eps * flops_per_example(args) / peak))
  for jit in jits:
    print("bert_tf2 / keras_hub, same loop (jit_compile=%s): %.2fx"
          % (jit, best["bert_tf2", jit] / best["keras_hub", jit]))
    print("bert_tf2 / keras_hub via compile + train_on_batch (jit_compile=%s): %.2fx"
          % (jit, best["bert_tf2", jit] / best["keras_hub_fit", jit]))
  if len(jits) == 2:
    print("bert_tf2 jit_compile on / off: %.2fx" % (best["bert_tf2", True] / best["bert_tf2", False]))


if __name__ == "__main__":
  main()
