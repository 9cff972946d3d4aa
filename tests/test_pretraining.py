"""BertPretrainer heads and losses against Google's run_pretraining.py on the same checkpoint."""

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.modeling import BertConfig, BertModel
from tests import original_bert


def _features(config, batch=3, seq=12, preds=4, seed=0):
  rng = np.random.default_rng(seed)
  lengths = [seq, seq * 3 // 4, seq // 2][:batch]
  input_mask = np.array([[1] * n + [0] * (seq - n) for n in lengths], np.int32)
  input_ids = rng.integers(1, config.vocab_size, (batch, seq)).astype(np.int32) * input_mask
  segment_ids = np.array([[0] * (n // 2) + [1] * (seq - n // 2) for n in lengths], np.int32) * input_mask
  positions = np.stack([np.sort(rng.choice(np.arange(1, n), preds, replace=False)) for n in lengths])
  weights = np.ones((batch, preds), np.float32)
  weights[1:, -1] = 0.0  # padded prediction slots, as create_pretraining_data writes them
  weights[2:, -2:] = 0.0
  positions = (positions * weights).astype(np.int32)
  return {
      "input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
      "masked_lm_positions": positions,
      "masked_lm_ids": (rng.integers(0, config.vocab_size, (batch, preds)) * weights).astype(np.int32),
      "masked_lm_weights": weights,
      "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype(np.int32),
  }


# 4 layers of width 128, vocab 3000, weights large enough for masked-LM logits of ~9.
LARGER = BertConfig(vocab_size=3000, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                    intermediate_size=512, max_position_embeddings=128, type_vocab_size=2, initializer_range=0.2)


@pytest.fixture
def google_ckpt(tmp_path, tiny_config):
  return original_bert.make_google_checkpoint(tiny_config.to_dict(), str(tmp_path / "bert_model.ckpt"), seed=3)


def _assert_heads_match_original(tmp_path, config, **feature_args):
  """Logits and losses (per example and total) against run_pretraining.py: <= 1e-5 max abs difference."""
  ckpt = original_bert.make_google_checkpoint(config.to_dict(), str(tmp_path / "bert_model.ckpt"), seed=7)
  features = _features(config, **feature_args)
  theirs = original_bert.run_original_pretraining_heads(config.to_dict(), ckpt, **features)

  pretrainer = pretraining.BertPretrainer(config)
  status = checkpoints.load_checkpoint(pretrainer, ckpt)
  assert not status.missing and not status.unused
  outputs = pretrainer({k: features[k] for k in pretraining.MODEL_INPUTS}, training=False)
  ours = pretraining.pretraining_losses(outputs, features)

  batch, preds = features["masked_lm_ids"].shape
  flat = lambda x: np.reshape(x, [batch * preds] + list(np.shape(x)[2:]))
  checks = {
      "masked_lm_logits": (flat(outputs["masked_lm_logits"]), theirs["masked_lm_logits"]),
      "masked_lm_example_loss": (flat(ours["masked_lm_example_loss"]), theirs["masked_lm_example_loss"]),
      "next_sentence_logits": (outputs["next_sentence_logits"], theirs["next_sentence_logits"]),
      "next_sentence_example_loss": (ours["next_sentence_example_loss"], theirs["next_sentence_example_loss"]),
  }
  for key in ("masked_lm_loss", "next_sentence_loss", "total_loss"):
    checks[key] = (ours[key], theirs[key])
  for key, (a, b) in checks.items():
    np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=1e-5, err_msg=key)
  return theirs


def test_training_gradients_match_original(tmp_path):
  """The training view's hand-written gradients (gelu, LayerNorm, masked-LM cross-entropy, sparse last
  layer) against TF autodiff of the original graph, for every variable: within 1e-5 of its largest entry
  (or 1e-6: the key biases' gradient is 0 up to rounding, softmax ignores a per-query constant)."""
  ckpt = original_bert.make_google_checkpoint(LARGER.to_dict(), str(tmp_path / "bert_model.ckpt"), seed=5)
  features = _features(LARGER, batch=3, seq=16, preds=5)
  theirs = original_bert.run_original_pretraining_gradients(LARGER.to_dict(), ckpt, **features)

  pretrainer = pretraining.BertPretrainer(LARGER)
  checkpoints.load_checkpoint(pretrainer, ckpt)
  entries = checkpoints.variable_table(pretrainer)
  with tf.GradientTape() as tape:
    loss, _ = pretraining.pretraining_loss_fn(pretrainer, features, training=False)
  ours = tape.gradient(loss, [e.variable for e in entries])
  assert sorted(e.google for e in entries) == sorted(theirs)
  for entry, grad in zip(entries, ours):
    grad = tf.convert_to_tensor(grad).numpy()
    atol = max(1e-5 * np.abs(theirs[entry.google]).max(), 1e-6)
    np.testing.assert_allclose(grad, theirs[entry.google], rtol=0, atol=atol, err_msg=entry.google)


@pytest.mark.parametrize("hidden_act", ["gelu", "relu"])
def test_heads_logits_and_losses_match_original(tmp_path, tiny_config, hidden_act):
  _assert_heads_match_original(tmp_path, tiny_config.copy(hidden_act=hidden_act))


def test_heads_match_original_on_a_larger_checkpoint(tmp_path):
  """Sequence 64 with padding, 8 predictions: the encoder's float32 drift, scaled up by the heads."""
  theirs = _assert_heads_match_original(tmp_path, LARGER, seq=64, preds=8)
  assert np.abs(theirs["masked_lm_logits"]).max() > 5  # large logits, where drift would show


def test_outputs_are_the_encoders_plus_both_logits_and_training_view_agrees(tiny_config):
  """pretrainer(x) adds the two logits to BertModel's outputs; `pretraining_logits` (last layer at
  the first token and masked positions only) gives the same numbers."""
  pretrainer = pretraining.BertPretrainer(tiny_config)
  features = _features(tiny_config)
  inputs = {k: features[k] for k in pretraining.MODEL_INPUTS}
  full = pretrainer.encoder({k: features[k] for k in ("input_ids", "input_mask", "segment_ids")})
  out = pretrainer(inputs)
  assert set(out) == set(full) | {"masked_lm_logits", "next_sentence_logits"}
  np.testing.assert_array_equal(out["sequence_output"], full["sequence_output"])
  np.testing.assert_array_equal(
      out["masked_lm_logits"], pretrainer.masked_lm((full["sequence_output"], features["masked_lm_positions"])))
  fast = pretrainer.pretraining_logits(inputs)
  for name in ("pooled_output", "masked_lm_logits", "next_sentence_logits"):
    np.testing.assert_array_equal(fast[name], out[name])


def test_output_weights_are_tied_to_word_embeddings(tiny_config):
  pretrainer = pretraining.BertPretrainer(tiny_config)
  table = pretrainer.encoder.embeddings.word_embeddings.embeddings
  assert pretrainer.masked_lm.word_embeddings.embeddings is table
  paths = [v.path for v in pretrainer.trainable_variables]
  assert len(paths) == len(set(paths))
  assert sum("word_embeddings" in p for p in paths) == 1
  # Encoder + 6 masked-LM head variables (dense 2, LayerNorm 2, output_bias) + 2 next-sentence.
  assert len(pretrainer.trainable_variables) == len(pretrainer.encoder.trainable_variables) + 7


def test_wraps_a_given_encoder(tiny_config):
  encoder = BertModel(tiny_config)
  pretrainer = pretraining.BertPretrainer(encoder)
  assert pretrainer.encoder is encoder
  features = _features(tiny_config, batch=2)
  out = pretrainer({k: features[k] for k in pretraining.MODEL_INPUTS})
  assert out["masked_lm_logits"].shape == (2, 4, tiny_config.vocab_size)
  assert out["next_sentence_logits"].shape == (2, 2)
  assert out["masked_lm_logits"].dtype == tf.float32


def test_google_checkpoint_round_trip_keeps_heads(tmp_path, tiny_config, google_ckpt):
  first = pretraining.BertPretrainer(tiny_config)
  checkpoints.load_checkpoint(first, google_ckpt)
  saved = checkpoints.save_google_checkpoint(first, str(tmp_path / "out" / "bert_model.ckpt"))
  second = pretraining.BertPretrainer(tiny_config)
  checkpoints.load_checkpoint(second, saved)
  features = _features(tiny_config)
  inputs = {k: features[k] for k in pretraining.MODEL_INPUTS}
  np.testing.assert_array_equal(first(inputs)["masked_lm_logits"], second(inputs)["masked_lm_logits"])


def test_masked_lm_loss_ignores_zero_weight_slots():
  logits = tf.constant(np.random.default_rng(0).normal(size=(1, 3, 5)), tf.float32)
  ids = tf.constant([[1, 2, 3]])
  full, per_example = pretraining.masked_lm_loss(logits, ids, tf.constant([[1.0, 1.0, 0.0]]))
  changed, _ = pretraining.masked_lm_loss(logits, tf.constant([[1, 2, 0]]), tf.constant([[1.0, 1.0, 0.0]]))
  np.testing.assert_allclose(full, changed)
  np.testing.assert_allclose(full, np.sum(per_example[0, :2]) / (2.0 + 1e-5), rtol=1e-6)


def test_metrics_match_hand_count():
  outputs = {"masked_lm_logits": tf.constant([[[0.0, 5.0], [5.0, 0.0], [0.0, 5.0]]]),
             "next_sentence_logits": tf.constant([[3.0, 0.0]])}
  features = {"masked_lm_ids": tf.constant([[1, 1, 0]]), "masked_lm_weights": tf.constant([[1.0, 1.0, 0.0]]),
              "next_sentence_labels": tf.constant([[0]])}
  losses = pretraining.pretraining_losses(outputs, features)
  metrics = pretraining.finalize_metrics(pretraining.metric_sums(outputs, features, losses))
  assert metrics["masked_lm_accuracy"] == 0.5 and metrics["next_sentence_accuracy"] == 1.0


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_step_keeps_float32_weights_and_logits(tiny_config, policy):
  import keras
  from bert_tf2 import optimization
  from bert_tf2.core import distribute
  distribute.set_mixed_precision(policy)
  try:
    pretrainer = pretraining.BertPretrainer(tiny_config)
    optimizer = optimization.create_optimizer(1e-3, 10, 0)
    if policy == "mixed_float16":
      optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    features = _features(tiny_config)
    before = pretrainer.masked_lm.output_bias.numpy().copy()
    with tf.GradientTape() as tape:
      loss, _ = pretraining.pretraining_loss_fn(pretrainer, features, True)
      scaled = optimizer.scale_loss(loss)
    optimizer.apply(tape.gradient(scaled, pretrainer.trainable_variables), pretrainer.trainable_variables)
    out = pretrainer({k: features[k] for k in pretraining.MODEL_INPUTS})
  finally:
    distribute.set_mixed_precision("none")
  assert out["masked_lm_logits"].dtype == tf.float32 and loss.dtype == tf.float32
  assert all(v.dtype == "float32" for v in pretrainer.trainable_variables)
  assert np.isfinite(float(loss)) and not np.array_equal(before, pretrainer.masked_lm.output_bias.numpy())
