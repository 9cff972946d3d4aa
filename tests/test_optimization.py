"""bert_tf2.optimization against Google's original optimization.py (through tests/original_bert)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import optimization
from tests import original_bert

V1 = tf.compat.v1
# name -> shape; "dense/kernel" gets weight decay, the bias and LayerNorm variables do not.
SHAPES = {"dense/kernel": (3, 4), "dense/bias": (4,), "LayerNorm/gamma": (4,), "LayerNorm/beta": (4,)}
X = np.array([[1.0, -2.0, 0.5], [0.3, 0.8, -1.5]], np.float32)


def _initial_values(seed=0):
  rng = np.random.default_rng(seed)
  return {n: rng.normal(0, 1, s).astype(np.float32) for n, s in SHAPES.items()}


def _loss(x, w):
  """A small nonlinear loss whose gradient norm is > 1 (so clipping matters)."""
  h = tf.matmul(x, w["dense/kernel"]) + w["dense/bias"]
  return tf.reduce_sum(tf.square(tf.tanh(h) * w["LayerNorm/gamma"] + w["LayerNorm/beta"])) * 3.0


def _keras_variables(values):
  out = {}
  for layer_name in ("dense", "LayerNorm"):
    layer = keras.layers.Layer(name=layer_name)
    for name, value in values.items():
      if name.startswith(layer_name + "/"):
        out[name] = layer.add_weight(name=name.split("/")[1], shape=value.shape,
                                     initializer=keras.initializers.Constant(value))
  return out


def _run_ours(optimizer, values, steps):
  w = _keras_variables(values)
  names = list(SHAPES)
  variables = [w[n] for n in names]
  for _ in range(steps):
    with tf.GradientTape() as tape:
      loss = _loss(X, {n: v.value for n, v in w.items()})
    optimizer.apply(tape.gradient(loss, [v.value for v in variables]), variables)
  return {n: w[n].numpy() for n in names}


def _graph_variables(values):
  return {n: V1.get_variable(n, initializer=tf.constant(v)) for n, v in values.items()}


def test_schedule_matches_original_warmup_and_linear_decay():
  init_lr, num_train_steps, num_warmup_steps = 5e-5, 20, 4
  steps = list(range(0, 25))
  ours = [float(optimization.WarmupPolynomialDecay(init_lr, num_train_steps, num_warmup_steps)(s))
          for s in steps]
  with original_bert.tf1_graph():
    step = V1.placeholder(tf.int64, [])
    lr = V1.train.polynomial_decay(tf.constant(init_lr), step, num_train_steps, end_learning_rate=0.0,
                                   power=1.0, cycle=False)
    is_warmup = tf.cast(tf.cast(step, tf.int32) < num_warmup_steps, tf.float32)
    lr = (1.0 - is_warmup) * lr + is_warmup * init_lr * (tf.cast(step, tf.float32) / num_warmup_steps)
    with V1.Session() as session:
      theirs = [session.run(lr, {step: s}) for s in steps]
  np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
  assert ours[0] == 0.0 and ours[num_warmup_steps] == pytest.approx(init_lr * 0.8)
  assert ours[num_train_steps] == 0.0 and ours[-1] == 0.0


def _run_original_class(values, steps, **kwargs):
  """`steps` updates of the original AdamWeightDecayOptimizer(**kwargs) on the gradients of `_loss`."""
  optimization_v1 = original_bert.load("optimization")
  with original_bert.tf1_graph():
    w = _graph_variables(values)
    loss = _loss(tf.constant(X), w)
    names = list(SHAPES)
    grads = tf.gradients(loss, [w[n] for n in names])
    train_op = optimization_v1.AdamWeightDecayOptimizer(**kwargs).apply_gradients(
        zip(grads, [w[n] for n in names]))
    with V1.Session() as session:
      session.run(V1.global_variables_initializer())
      for _ in range(steps):
        session.run(train_op)
      return session.run({n: w[n] for n in names})


def test_loss_fixture_has_gradient_norm_above_one():
  """The clipping tests below mean something only if clipping at 1.0 changes the gradients."""
  w = {n: tf.constant(v) for n, v in _initial_values().items()}
  with tf.GradientTape() as tape:
    tape.watch(list(w.values()))
    loss = _loss(X, w)
  assert float(tf.linalg.global_norm(tape.gradient(loss, list(w.values())))) > 2.0


@pytest.mark.parametrize("kwargs", [
    # The original's defaults: no weight decay, nothing excluded, and no clipping.
    dict(learning_rate=0.1),
    # Weight decay on every variable (exclude_from_weight_decay defaults to None).
    dict(learning_rate=0.1, weight_decay_rate=0.01),
    # create_optimizer's arguments, but through the class alone: still no clipping.
    dict(learning_rate=0.1, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
         exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"]),
])
def test_adam_weight_decay_class_matches_original_class(kwargs):
  """Two updates of the class built with the same arguments as the original's class."""
  values = _initial_values()
  theirs = _run_original_class(values, steps=2, **kwargs)
  optimizer = optimization.AdamWeightDecayOptimizer(**kwargs)
  assert isinstance(optimizer, optimization.AdamWeightDecay) and optimizer.global_clipnorm is None
  ours = _run_ours(optimizer, values, steps=2)
  for name in SHAPES:
    np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-6, err_msg=name)
    assert not np.allclose(ours[name], values[name])


def test_adam_weight_decay_clips_only_when_asked():
  """global_clipnorm=1.0 on the class changes the step (the fixture's gradient norm is > 1)."""
  values = _initial_values()
  # epsilon=1.0 makes Adam's first step depend on the gradient's scale (g / (|g| + 1)).
  plain = _run_ours(optimization.AdamWeightDecay(0.1, epsilon=1.0), values, steps=1)
  clipped = _run_ours(optimization.AdamWeightDecay(0.1, epsilon=1.0, global_clipnorm=1.0), values, steps=1)
  for name in SHAPES:
    step_plain = np.abs(plain[name] - values[name]).max()
    step_clipped = np.abs(clipped[name] - values[name]).max()
    assert step_clipped < 0.9 * step_plain, name


def test_create_optimizer_matches_original_create_optimizer():
  """Schedule + clipping + AdamW over 4 steps, as the original's train_op (lr 0 on step 0)."""
  values = _initial_values(seed=1)
  optimization_v1 = original_bert.load("optimization")
  with original_bert.tf1_graph():
    w = _graph_variables(values)
    loss = _loss(tf.constant(X), w)
    train_op = optimization_v1.create_optimizer(loss, 0.05, num_train_steps=10, num_warmup_steps=2,
                                                use_tpu=False)
    with V1.Session() as session:
      session.run(V1.global_variables_initializer())
      for _ in range(4):
        session.run(train_op)
      theirs = session.run({n: w[n] for n in SHAPES})
  optimizer = optimization.create_optimizer(0.05, num_train_steps=10, num_warmup_steps=2)
  ours = _run_ours(optimizer, values, steps=4)
  assert int(optimizer.iterations) == 4
  for name in SHAPES:
    np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-6, err_msg=name)


def test_weight_decay_skips_layer_norm_and_bias_paths():
  opt = optimization.create_optimizer(1e-4, 10, 1)
  assert opt.use_weight_decay("layer_0/intermediate/kernel")
  assert opt.use_weight_decay("embeddings/word_embeddings/embeddings")
  for path in ("embeddings/LayerNorm/gamma", "layer_1/output_LayerNorm/beta", "pooler/bias",
               "masked_lm/output_bias", "masked_lm/layer_norm/gamma"):
    assert not opt.use_weight_decay(path), path


def test_lamb_uses_trust_ratio_and_moves_weights():
  values = _initial_values(seed=2)
  ours = _run_ours(optimization.create_optimizer(0.01, 100, 0, optimizer_type="lamb"), values, steps=1)
  # One LAMB step on a decayed variable moves it by lr * ||param|| (trust ratio times unit update).
  delta = np.linalg.norm(ours["dense/kernel"] - values["dense/kernel"])
  np.testing.assert_allclose(delta, 0.01 * np.linalg.norm(values["dense/kernel"]), rtol=1e-4)
  assert not np.allclose(ours["dense/bias"], values["dense/bias"])


def test_unknown_optimizer_type_is_an_error():
  with pytest.raises(ValueError, match="adamw"):
    optimization.create_optimizer(1e-4, 10, 1, optimizer_type="sgd")
