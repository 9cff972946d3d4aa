"""The linear-chain CRF against brute-force enumeration of every tag path on tiny inputs."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2.tasks.tagging import crf


def _path_score(emissions, path, transitions, start, end):
  score = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
  return score + sum(transitions[a, b] for a, b in zip(path[:-1], path[1:]))


def _brute_force(emissions, length, transitions, start, end):
  """(log Z, best path, best score) of one sequence by enumerating all K**length paths."""
  num_tags = emissions.shape[1]
  paths = list(itertools.product(range(num_tags), repeat=length))
  scores = np.array([_path_score(emissions, p, transitions, start, end) for p in paths])
  best = int(np.argmax(scores))
  return np.logaddexp.reduce(scores), list(paths[best]), scores[best]


@pytest.fixture
def tiny_crf():
  rng = np.random.default_rng(0)
  layer = crf.CRF(3)
  layer.build()
  for weight in (layer.transitions, layer.start_transitions, layer.end_transitions):
    weight.assign(rng.normal(size=weight.shape).astype(np.float32))
  emissions = rng.normal(size=(4, 5, 3)).astype(np.float32)
  lengths = np.array([5, 3, 1, 4], np.int32)
  params = [w.numpy() for w in (layer.transitions, layer.start_transitions, layer.end_transitions)]
  return layer, emissions, lengths, params


def test_log_likelihood_matches_enumeration(tiny_crf):
  layer, emissions, lengths, params = tiny_crf
  tags = np.array([[0, 1, 2, 1, 0], [2, 2, 0, 1, 1], [1, 0, 0, 0, 0], [0, 0, 1, 2, 2]], np.int32)
  got = layer.log_likelihood(emissions, tags, lengths).numpy()
  for i, n in enumerate(lengths):
    log_z, _, _ = _brute_force(emissions[i, :n], n, *params)
    expected = _path_score(emissions[i, :n], list(tags[i, :n]), *params) - log_z
    np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-5)


def test_probabilities_of_all_paths_sum_to_one(tiny_crf):
  layer, emissions, _, _ = tiny_crf
  paths = np.array(list(itertools.product(range(3), repeat=3)), np.int32)  # 27 paths of length 3
  batch = np.repeat(emissions[:1, :3], len(paths), axis=0)
  log_p = layer.log_likelihood(batch, paths, np.full(len(paths), 3, np.int32)).numpy()
  np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-5)


def test_viterbi_matches_enumeration(tiny_crf):
  layer, emissions, lengths, params = tiny_crf
  tags, scores = crf.viterbi_decode(emissions, lengths, *[tf.constant(p) for p in params])
  for i, n in enumerate(lengths):
    _, best, best_score = _brute_force(emissions[i, :n], n, *params)
    assert tags.numpy()[i, :n].tolist() == best
    assert tags.numpy()[i, n:].tolist() == [0] * (5 - n)  # padding decodes to 0
    np.testing.assert_allclose(scores.numpy()[i], best_score, rtol=1e-5)


def test_hand_worked_transition_overrides_emissions():
  # Emissions favour tag 1 at both steps (1.0 vs 0.0), but 1 -> 1 costs 5: the best path is [1, 0]
  # (score 1 + 0 + 0 = 1), not [1, 1] (1 + 1 - 5 = -3) nor [0, 1] (0 + 1 + 0 = 1, later in order).
  emissions = np.array([[[0.0, 1.0], [0.0, 1.0]]], np.float32)
  transitions = tf.constant([[0.0, 0.0], [0.0, -5.0]])
  zeros = tf.zeros([2])
  tags, score = crf.viterbi_decode(emissions, np.array([2], np.int32), transitions, zeros, zeros)
  assert score.numpy()[0] == pytest.approx(1.0)
  assert tags.numpy()[0].tolist() in ([1, 0], [0, 1])


def test_single_step_and_empty_sequences():
  layer = crf.CRF(2)
  layer.build()
  layer.start_transitions.assign([0.5, 0.0])
  emissions = np.array([[[0.0, 0.2]], [[3.0, 0.0]]], np.float32)
  assert layer.decode(emissions, np.array([1, 0])).numpy().tolist() == [[0], [0]]
  log_likelihood = layer.log_likelihood(emissions, np.array([[1], [0]]), np.array([1, 0])).numpy()
  np.testing.assert_allclose(log_likelihood, [0.2 - np.logaddexp(0.5, 0.2), 0.0], rtol=1e-6)


def test_decode_runs_in_a_graph_with_unknown_length(tiny_crf):
  layer, emissions, lengths, _ = tiny_crf
  decode = tf.function(layer.decode, input_signature=[tf.TensorSpec([None, None, 3]), tf.TensorSpec([None], tf.int32)])
  np.testing.assert_array_equal(decode(emissions, lengths), layer.decode(emissions, lengths))
  gradient_check = tf.Variable(emissions)
  with tf.GradientTape() as tape:
    loss = -tf.reduce_sum(layer.log_likelihood(gradient_check, np.zeros((4, 5), np.int32), lengths))
  grads = tape.gradient(loss, [gradient_check, layer.transitions])
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  # Emissions past a sequence's length get no gradient.
  assert np.all(grads[0].numpy()[2, 1:] == 0)
