"""Training-step time of ELECTRA over masked LM, by encoder shape: why the objectives' equal-time race
depends on depth.

    PYTHONPATH=. .venv/bin/python benchmarks/electra_step_cost.py                   # 2x128, 4x128, 12x256
    PYTHONPATH=. .venv/bin/python benchmarks/electra_step_cost.py --shapes=2x128 --threads=2

`BertPretrainer` (MLM + NSP, as run_pretraining.py trains it) and `ElectraPretrainer` (generator of
hidden D/4, as the paper's ELECTRA-Small) of each LAYERSxHIDDEN shape are trained by the same loop
(`bert_tf2.training.make_train_function`, the original AdamW) on the same random batches, their
executions interleaved so that other load hits both alike; one JSON line per shape with each side's
ms per step and the ratio. MLM computes its last layer only at the masked positions (all its loss
reads) and ELECTRA's discriminator needs every position, so the ratio falls as layers are added
(measured here, one thread, float32: 1.68x at 2x128, 1.43x at 4x128, 1.20x at 12x256).
"""

import argparse
import json
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import pretraining_speed  # noqa: E402  pylint: disable=g-import-not-at-top
from bert_tf2 import electra, optimization, pretraining, training  # noqa: E402
from bert_tf2.modeling import BertConfig  # noqa: E402


def make_runner(objective, config, dataset, steps_per_execution):
  """A function running `steps_per_execution` training steps of a fresh model (traced once here)."""
  if objective == "electra":
    model, loss_fn = electra.ElectraPretrainer(config), electra.electra_loss_fn()
  else:
    model, loss_fn = pretraining.BertPretrainer(config), pretraining.pretraining_loss_fn
  optimizer = optimization.create_optimizer(1e-4, 10000, 100)
  optimizer.build(model.trainable_variables)
  train_steps = training.make_train_function(model, optimizer, loss_fn, tf.distribute.get_strategy())
  iterator, n = iter(dataset), tf.constant(steps_per_execution, tf.int32)

  def run():
    float(train_steps(iterator, n)["num_batches"])  # waits for the result

  run()
  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--shapes", default="2x128,4x128,12x256", help="LAYERSxHIDDEN, comma-separated")
  parser.add_argument("--vocab", type=int, default=8000, help="the People's Daily vocab of electra_vs_mlm_zh.sh")
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--preds", type=int, default=20)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--steps_per_execution", type=int, default=5)
  parser.add_argument("--rounds", type=int, default=6, help="interleaved executions per objective")
  parser.add_argument("--threads", type=int, default=1)
  args = parser.parse_args()
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  rng = np.random.default_rng(0)
  batches = [pretraining_speed._batch(args, rng) for _ in range(4)]  # pylint: disable=protected-access
  for batch in batches:  # distinct masked positions, as in the records (ELECTRA writes a sample at each)
    batch["masked_lm_positions"] = np.stack(
        [np.sort(rng.choice(np.arange(1, args.seq), args.preds, replace=False)) for _ in range(args.batch)]
    ).astype(np.int32)
  dataset = tf.data.Dataset.from_tensor_slices(
      {k: np.stack([b[k] for b in batches]) for k in batches[0]}).repeat()
  for shape in args.shapes.split(","):
    layers, hidden = (int(x) for x in shape.split("x"))
    config = BertConfig(vocab_size=args.vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=max(2, hidden // 64), intermediate_size=4 * hidden,
                        max_position_embeddings=512, type_vocab_size=2)
    runners = {objective: make_runner(objective, config, dataset, args.steps_per_execution)
               for objective in ("mlm", "electra")}
    seconds = {objective: 0.0 for objective in runners}
    for _ in range(args.rounds):
      for objective, run in runners.items():
        seconds[objective] += pretraining_speed.timed(run)
    ms = {k: 1000 * v / (args.rounds * args.steps_per_execution) for k, v in seconds.items()}
    print(json.dumps({"shape": shape, "generator_hidden": hidden // 4, "threads": args.threads,
                      "mlm_ms_per_step": round(ms["mlm"], 1), "electra_ms_per_step": round(ms["electra"], 1),
                      "electra_over_mlm": round(ms["electra"] / ms["mlm"], 2)}), flush=True)


if __name__ == "__main__":
  main()
