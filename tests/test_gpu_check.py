"""benchmarks/gpu_check.py: the --smoke run on CPU (every section once, tiny shapes), and its helpers.

No timing asserts: the numbers depend on the machine; the tests check that every row and verdict is
there, finite and consistent.
"""

import json
import math
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import gpu_check  # noqa: E402
import gpu_check_data  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("gpu_check") / "smoke.json")
  status = gpu_check.main(["--smoke", "--output_json", out])
  with open(out, encoding="utf-8") as f:
    return status, json.load(f)


@pytest.mark.slow  # the whole --smoke run of the benchmark script (~40 s); its pieces are tested below
def test_smoke_runs_every_section_and_precision(smoke):
  status, report = smoke
  assert status == 0
  seen = {(r["section"], r["precision"]) for r in report["rows"]}
  for section in ("pretrain", "finetune", "embed"):
    for precision in ("float32", "mixed_bfloat16"):
      assert (section, precision) in seen
  for row in report["rows"]:
    assert "note" not in row, row
    assert row["per_s"] > 0 and math.isfinite(row["per_s"])
    assert row["batch"] == (8 if row["section"] == "embed" else 4)


@pytest.mark.slow  # the whole --smoke run of the benchmark script (~40 s); its pieces are tested below
def test_smoke_embeddings_of_bfloat16_stay_close_to_float32(smoke):
  _, report = smoke
  rows = {r["precision"]: r for r in report["rows"] if r["section"] == "embed"}
  assert rows["float32"]["min_cosine"] == pytest.approx(1.0, abs=1e-6)
  assert 0.99 < rows["mixed_bfloat16"]["min_cosine"] <= 1.0 + 1e-6


@pytest.mark.slow  # the whole --smoke run of the benchmark script (~40 s); its pieces are tested below
def test_smoke_loss_curves_start_together_and_are_judged(smoke):
  _, report = smoke
  curves = report["curves"]
  assert set(curves) == {"float32/seed0", "float32/seed1", "mixed_bfloat16/seed0"}
  assert all(len(c) == 10 and np.all(np.isfinite(c)) for c in curves.values())
  # Same initial weights and first batch: the first losses differ only by dropout and rounding.
  assert abs(curves["mixed_bfloat16/seed0"][0] - curves["float32/seed0"][0]) < 0.1
  (verdict,) = report["verdicts"]
  assert verdict["run"] == "mixed_bfloat16/seed0" and verdict["ok"]
  assert 0.01 <= verdict["tolerance"] <= 0.05


def test_fit_batch_halves_on_out_of_memory_until_a_batch_fits():
  tried = []

  def try_batch(batch):
    tried.append(batch)
    if batch > 24:
      raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    return "ran %d" % batch

  assert gpu_check.fit_batch(try_batch, 128) == (16, "ran 16")
  assert tried == [128, 64, 32, 16]


def test_fit_batch_gives_up_below_the_minimum_and_lets_other_errors_through():
  def always_oom(batch):
    raise tf.errors.InternalError(None, None, "RESOURCE_EXHAUSTED: Out of memory while trying to allocate")

  assert gpu_check.fit_batch(always_oom, 4) == (None, None)

  def broken(batch):
    raise tf.errors.InvalidArgumentError(None, None, "shapes do not match")

  with pytest.raises(tf.errors.InvalidArgumentError):
    gpu_check.fit_batch(broken, 4)


def test_compare_curves_tolerance_is_twice_the_dropout_seed_gap():
  # Windows of 2 steps: float32 seeds differ by 0.01 at most -> tolerance 0.02.
  curves = {"float32/seed0": [5.0, 5.0, 4.0, 4.0], "float32/seed1": [5.01, 5.01, 4.0, 4.0],
            "mixed_float16/seed0": [5.0, 5.0, 4.015, 4.015], "mixed_bfloat16/seed0": [5.0, 5.0, 4.03, 4.03]}
  verdicts = {v["run"]: v for v in gpu_check_data.compare_curves(curves, window=2)}
  assert verdicts["mixed_float16/seed0"]["tolerance"] == pytest.approx(0.02)
  assert verdicts["mixed_float16/seed0"]["ok"]
  assert not verdicts["mixed_bfloat16/seed0"]["ok"]
  assert verdicts["mixed_bfloat16/seed0"]["max_gap"] == pytest.approx(0.03)


def test_pretraining_batch_masks_positions_and_keeps_their_tokens_as_labels():
  config = gpu_check_data.config_for("tiny-32")
  batch = gpu_check_data.pretraining_batch(config, 3, 16, 4, np.random.default_rng(0))
  ids, positions = batch["input_ids"], batch["masked_lm_positions"]
  assert ids.shape == (3, 16) and positions.shape == (3, 4)
  assert np.all(np.take_along_axis(ids, positions, 1) == gpu_check_data.MASK)
  assert np.all(batch["masked_lm_ids"] >= len(gpu_check_data.SPECIALS))
  assert np.all(ids[:, 0] == gpu_check_data.CLS) and np.all(ids[:, [8, 15]] == gpu_check_data.SEP)
  assert np.all(np.diff(positions, axis=1) > 0)  # distinct and sorted, as the original's records
