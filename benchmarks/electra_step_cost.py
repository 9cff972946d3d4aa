"""Training-step time of ELECTRA over masked LM, by encoder shape: why the objectives' equal-time race
depends on depth.

    PYTHONPATH=. .venv/bin/python benchmarks/electra_step_cost.py                   # 2x128, 4x128, 12x256
    PYTHONPATH=. .venv/bin/python benchmarks/electra_step_cost.py --shapes=2x128 --threads=2

`BertPretrainer` (MLM + NSP, as run_pretraining.py trains it) and `ElectraPretrainer` (generator of
hidden D/4, as the paper's ELECTRA-Small) of each LAYERSxHIDDEN shape are built and trained by
`pretraining_speed.make_runner` (`bert_tf2.core.training.make_train_function`, the original AdamW) on the same
random batches, their
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
  dataset = tf.data.Dataset.from_tensor_slices(
      {k: np.stack([b[k] for b in batches]) for k in batches[0]}).repeat()
  for shape in args.shapes.split(","):
    layers, hidden = (int(x) for x in shape.split("x"))
    shape_args = argparse.Namespace(**vars(args), layers=layers, hidden=hidden, heads=max(2, hidden // 64))
    runners = {objective: pretraining_speed.make_runner(kind, False, shape_args, dataset)
               for objective, kind in (("mlm", "bert_tf2"), ("electra", "electra"))}
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
