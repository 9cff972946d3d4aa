"""Per-variable learning rates: layer-wise decay (every fine-tuning script) and the tagger's CRF rate.

One AdamW step on a tiny tagger: the first step of Adam without bias correction moves each weight
by lr * (0.1 g / (sqrt(0.001 g^2) + eps) + decay term), linear in lr, so the step of each variable
with multipliers divided by the step without them IS its multiplier. decay 1.0 must change nothing,
bit for bit.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import optimization
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.tagging import model as tagging
from bert_tf2.tasks.tagging.task import TaggingTask

CONFIG = dict(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
              max_position_embeddings=16, type_vocab_size=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
INPUTS = {"input_ids": np.array([[2, 5, 6, 7, 3, 0]], np.int32), "input_mask": np.array([[1, 1, 1, 1, 1, 0]], np.int32),
          "segment_ids": np.zeros((1, 6), np.int32)}
LABELS = {"label_ids": np.array([[0, 1, 2, 0, 0, 0]], np.int32), "label_mask": np.array([[0, 1, 1, 1, 0, 0]], np.int32)}


@pytest.fixture(scope="module")
def tagger():
  """A tiny CRF tagger (built once) and its initial weights, CRF scores small but non-zero."""
  keras.utils.set_random_seed(7)
  model = tagging.BertTagger(BertConfig(**CONFIG), 3, use_crf=True, dropout_rate=0.0)
  model(INPUTS)
  rng = np.random.default_rng(0)
  for w in (model.crf.transitions, model.crf.start_transitions, model.crf.end_transitions):
    w.assign(rng.normal(0, 0.01, w.shape).astype(np.float32))
  return model, [v.numpy() for v in model.trainable_variables]


def _step(tagger, lr_multipliers, steps=1):
  """{variable path: (before, after)} of `steps` AdamW steps (lr 1e-3, no warmup) from the initial weights."""
  model, initial = tagger
  for v, value in zip(model.trainable_variables, initial):
    v.assign(value)
  optimizer = optimization.create_optimizer(1e-3, 1000, 0, lr_multipliers=lr_multipliers)
  for _ in range(steps):
    with tf.GradientTape() as tape:
      loss = model.tagging_loss(model(INPUTS, training=True), LABELS["label_ids"], LABELS["label_mask"])
    variables = model.trainable_variables
    optimizer.apply(tape.gradient(loss, variables), variables)
  return {v.path: (before, v.numpy()) for v, before in zip(model.trainable_variables, initial)}


def _ratios(scaled, plain):
  """{path: step with multipliers / step without}, over the entries that moved."""
  out = {}
  for path, (before, after) in scaled.items():
    delta, base = after - before, plain[path][1] - before
    moved = np.abs(base) > 1e-5  # steps well above float32 rounding of the weights
    if moved.any():  # the key bias (softmax-invariant) and the pooler get no gradient
      out[path] = float(np.median(delta[moved] / base[moved]))
  return out


def test_layerwise_multipliers_follow_electra_formula():
  assert optimization.layerwise_lr_multipliers(2, 0.5) == [
      ("(^|/)embeddings/", 0.125), ("(^|/)layer_0/", 0.25), ("(^|/)layer_1/", 0.5)]
  assert optimization.layerwise_lr_multipliers(12, 1.0) == []
  with pytest.raises(ValueError, match="layerwise_lr_decay must be in"):
    optimization.layerwise_lr_multipliers(2, 0.0)


def test_each_variable_steps_by_its_multiplier_and_decay_one_is_bit_exact(tagger):
  plain = _step(tagger, None)
  crf_rate = TaggingTask(use_crf=True, crf_learning_rate=0.5).lr_multipliers({"use_crf": True}, 1e-3)
  assert crf_rate == [("(^|/)crf/", pytest.approx(0.5 / (1e-3 * tagging.CRF_LR_MULTIPLIER)))]
  ratios = _ratios(_step(tagger, crf_rate + optimization.layerwise_lr_multipliers(2, 0.5)), plain)
  expected = {"embeddings/": 0.125, "layer_0/": 0.25, "layer_1/": 0.5, "pooler/": 1.0, "output/": 1.0, "crf/": 5.0}
  seen = set()
  for path, ratio in ratios.items():
    prefix = next(p for p in expected if path.startswith(p))
    seen.add(prefix)
    assert ratio == pytest.approx(expected[prefix], rel=1e-4), path
  assert seen == set(expected) - {"pooler/"}  # the pooler gets no gradient from a tagger's loss
  # decay 1.0 and an explicit factor 1.0: the very same updates as before these options existed.
  reference = _step(tagger, None, steps=3)
  for multipliers in (optimization.layerwise_lr_multipliers(2, 1.0), [("(^|/)layer_0/", 1.0)]):
    again = _step(tagger, multipliers, steps=3)
    for path in reference:
      np.testing.assert_array_equal(again[path][1], reference[path][1], err_msg=path)


def test_crf_learning_rate_needs_a_crf_and_is_saved_with_the_optimizer():
  with pytest.raises(ValueError, match="train with a CRF"):
    TaggingTask(use_crf=False, crf_learning_rate=1e-2).check(None, 128, {"train"})
  assert TaggingTask(use_crf=True).lr_multipliers({"use_crf": True}, 1e-3) == []
  optimizer = optimization.create_optimizer(1e-3, 10, 0, lr_multipliers=[("(^|/)crf/", 2.0)])
  assert optimizer.get_config()["lr_multipliers"] == [["(^|/)crf/", 2.0]]
  assert optimizer.lr_multiplier("crf/transitions") == 2.0 and optimizer.lr_multiplier("layer_0/x") == 1.0
