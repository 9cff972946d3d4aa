"""The original BERT optimizer (google-research/bert `optimization.py`) as Keras 3 optimizers.

    optimizer = create_optimizer(init_lr=1e-4, num_train_steps=100000, num_warmup_steps=10000)
    optimizer.apply(grads, model.trainable_variables)   # or inside any custom training loop

What is reproduced, step for step:
  * learning rate: linear warmup `init_lr * step / num_warmup_steps` while step < num_warmup_steps,
    else polynomial decay (power 1) from `init_lr` to 0 at `num_train_steps` (so step 0 has lr 0).
    `step` is the number of updates already applied (Keras' `optimizer.iterations`, the original's
    `global_step` before it is incremented).
  * gradients: `create_optimizer` clips them to global norm 1.0 (`tf.clip_by_global_norm`), as the
    original's `create_optimizer`; the optimizer classes do not clip unless given `global_clipnorm`
    (the original's `AdamWeightDecayOptimizer` does not clip either).
  * AdamWeightDecay (the original's `AdamWeightDecayOptimizer`, also importable under that name,
    with its arguments and defaults): beta_1 0.9, beta_2 0.999, epsilon 1e-6, NO bias correction, and the
    decoupled weight decay added to the update *before* the learning rate multiplies it:
      m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2
      update = m / (sqrt(v) + eps) [+ weight_decay_rate * param]
      param = param - lr * update
    `create_optimizer` skips weight decay for variables whose path matches "LayerNorm",
    "layer_norm" or "bias" (the original's regexes, applied to the Keras variable path such as
    `layer_0/output_LayerNorm/gamma` or `masked_lm/output_bias`); the class alone excludes nothing
    (`exclude_from_weight_decay=None`, the original's default).
  * "lamb" (You et al., 2019, arXiv:1904.00962) for large batches: Adam with bias correction plus
    the same decoupled weight decay, scaled per variable by the trust ratio ||param|| / ||update||
    (1 where either norm is 0, and for the variables excluded from weight decay), as in TF Model
    Garden's LAMB.

Per-variable learning rates (not in the original; fine-tuning recipes): `lr_multipliers`, a list of
(regex, multiplier) pairs matched with `re.search` against each variable's path, the first match
wins, no match = 1.0. The variable's update uses `multiplier * learning_rate` (weight decay
included); a multiplier of 1.0 leaves the update bit for bit as without it.
  * `layerwise_lr_multipliers(L, decay)`: layer-wise decay (ELECTRA, Clark et al., 2020; PaddleNLP's
    `layerwise_lr_decay`): encoder layer l (0-based, `layer_<l>/`) gets decay^(L - l), the
    embeddings decay^(L + 1), everything else (pooler, task heads, a CRF) 1. (ELECTRA's own
    `_get_layer_lrs` counts one more: its top layer gets decay^2, its embeddings decay^(L + 2).)
  * a task's own pairs in front, e.g. a tagger's CRF: `[("(^|/)crf/", 10.0)]`.
"""

import re

import keras
import tensorflow as tf

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


@keras.saving.register_keras_serializable(package="bert_tf2")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
  """Linear warmup to `init_lr`, then polynomial decay to `end_learning_rate` at `num_train_steps`.

  Example: init_lr=1.0, num_train_steps=10, num_warmup_steps=2 gives
  steps 0, 1, 2, 5, 10 -> 0.0, 0.5, 0.8, 0.5, 0.0 (the decay counts from step 0, as the original).
  """

  def __init__(self, init_lr, num_train_steps, num_warmup_steps=0, power=1.0, end_learning_rate=0.0):
    self.init_lr = float(init_lr)
    self.num_train_steps = int(num_train_steps)
    self.num_warmup_steps = int(num_warmup_steps or 0)
    self.power = float(power)
    self.end_learning_rate = float(end_learning_rate)

  def __call__(self, step):
    step_int = tf.cast(step, tf.int32)
    step = tf.cast(step_int, tf.float32)
    # tf.compat.v1.train.polynomial_decay with cycle=False.
    fraction = tf.minimum(step, float(self.num_train_steps)) / float(max(self.num_train_steps, 1))
    lr = (self.init_lr - self.end_learning_rate) * tf.pow(1.0 - fraction, self.power) + self.end_learning_rate
    if self.num_warmup_steps:
      warmup_lr = self.init_lr * (step / float(self.num_warmup_steps))
      is_warmup = tf.cast(step_int < self.num_warmup_steps, tf.float32)
      lr = (1.0 - is_warmup) * lr + is_warmup * warmup_lr
    return lr

  def get_config(self):
    return {"init_lr": self.init_lr, "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps, "power": self.power,
            "end_learning_rate": self.end_learning_rate}


class _DecoupledDecayOptimizer(keras.optimizers.Optimizer):
  """Shared parts of AdamWeightDecay and Lamb: m/v slots and the per-variable weight-decay choice."""

  def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
               exclude_from_weight_decay=None, global_clipnorm=None, lr_multipliers=None, name=None, **kwargs):
    super().__init__(learning_rate=learning_rate, global_clipnorm=global_clipnorm, name=name, **kwargs)
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay_patterns = tuple(exclude_from_weight_decay or ())
    self.lr_multipliers = [(str(p), float(m)) for p, m in (lr_multipliers or ())]

  def use_weight_decay(self, variable_path):
    """Whether `variable_path` (e.g. "layer_0/intermediate/kernel") gets weight decay."""
    if not self.weight_decay_rate:
      return False
    return not any(re.search(p, variable_path) for p in self.exclude_from_weight_decay_patterns)

  def lr_multiplier(self, variable_path):
    """The factor on the learning rate of `variable_path`: the first matching `lr_multipliers` pair's, else 1."""
    for pattern, multiplier in self.lr_multipliers:
      if re.search(pattern, variable_path):
        return multiplier
    return 1.0

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._m, self._v = self.add_optimizer_variables(var_list, ["adam_m", "adam_v"])
    # Decided once here: inside a distributed update the variable is a bare per-replica tf.Variable
    # without the Keras path.
    self._decay = [self.use_weight_decay(getattr(v, "path", v.name)) for v in var_list]
    self._lr_scale = [self.lr_multiplier(getattr(v, "path", v.name)) for v in var_list]

  def _scaled(self, learning_rate, variable):
    """`learning_rate` times the variable's multiplier (untouched when it is 1)."""
    scale = self._lr_scale[self._get_variable_index(variable)]
    return learning_rate if scale == 1.0 else learning_rate * scale

  def _moments(self, gradient, variable):
    """Updates and returns (m, v, decay?) for `variable`; `gradient` is dense float."""
    index = self._get_variable_index(variable)
    m, v = self._m[index], self._v[index]
    next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
    next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(gradient)
    self.assign(m, next_m)
    self.assign(v, next_v)
    return next_m, next_v, self._decay[index]

  def get_config(self):
    config = super().get_config()
    config.update({"weight_decay_rate": self.weight_decay_rate, "beta_1": self.beta_1,
                   "beta_2": self.beta_2, "epsilon": self.epsilon,
                   "exclude_from_weight_decay": list(self.exclude_from_weight_decay_patterns),
                   "lr_multipliers": [list(pair) for pair in self.lr_multipliers]})
    return config


def _dense(gradient, dtype):
  if isinstance(gradient, tf.IndexedSlices):
    gradient = tf.convert_to_tensor(gradient)
  return tf.cast(gradient, dtype)


@keras.saving.register_keras_serializable(package="bert_tf2")
class AdamWeightDecay(_DecoupledDecayOptimizer):
  """Google's `AdamWeightDecayOptimizer`: Adam without bias correction, decay added to the update.

  Args (the original's, same defaults): learning_rate (float or schedule), weight_decay_rate=0.0,
  beta_1=0.9, beta_2=0.999, epsilon=1e-6, exclude_from_weight_decay=None (regexes of variable
  paths), name. No gradient clipping unless `global_clipnorm` (or Keras' `clipnorm`) is given.
  """

  def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
               exclude_from_weight_decay=None, name="AdamWeightDecay", **kwargs):
    super().__init__(learning_rate, weight_decay_rate, beta_1, beta_2, epsilon, exclude_from_weight_decay,
                     name=name, **kwargs)

  def update_step(self, gradient, variable, learning_rate):
    gradient = _dense(gradient, variable.dtype)
    learning_rate = self._scaled(learning_rate, variable)
    next_m, next_v, decay = self._moments(gradient, variable)
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    if decay:
      update += self.weight_decay_rate * tf.convert_to_tensor(variable)
    self.assign(variable, tf.convert_to_tensor(variable) - tf.cast(learning_rate, variable.dtype) * update)


AdamWeightDecayOptimizer = AdamWeightDecay  # the original's name for the same class


@keras.saving.register_keras_serializable(package="bert_tf2")
class Lamb(_DecoupledDecayOptimizer):
  """LAMB: bias-corrected Adam + decoupled weight decay, scaled by the layer-wise trust ratio."""

  def __init__(self, learning_rate, name="Lamb", **kwargs):
    super().__init__(learning_rate, name=name, **kwargs)

  def update_step(self, gradient, variable, learning_rate):
    gradient = _dense(gradient, variable.dtype)
    learning_rate = self._scaled(learning_rate, variable)
    next_m, next_v, decay = self._moments(gradient, variable)
    step = tf.cast(self.iterations + 1, variable.dtype)
    m_hat = next_m / (1.0 - tf.pow(tf.cast(self.beta_1, variable.dtype), step))
    v_hat = next_v / (1.0 - tf.pow(tf.cast(self.beta_2, variable.dtype), step))
    param = tf.convert_to_tensor(variable)
    update = m_hat / (tf.sqrt(v_hat) + self.epsilon)
    ratio = 1.0
    if decay:
      update += self.weight_decay_rate * param
      w_norm, u_norm = tf.norm(param), tf.norm(update)
      ratio = tf.where(w_norm > 0.0, tf.where(u_norm > 0.0, w_norm / u_norm, 1.0), 1.0)
    self.assign(variable, param - ratio * tf.cast(learning_rate, variable.dtype) * update)


def layerwise_lr_multipliers(num_layers, decay):
  """(regex, multiplier) pairs of layer-wise learning-rate decay over a `num_layers`-layer encoder.

  Layer l (0-based, variable paths `layer_<l>/...`) gets decay^(num_layers - l), the embeddings
  decay^(num_layers + 1); the pooler and the task heads match nothing and keep the full rate.
  decay 1.0 -> [] (every variable at the full rate). Example: num_layers=2, decay=0.5 ->
  [("(^|/)embeddings/", 0.125), ("(^|/)layer_0/", 0.25), ("(^|/)layer_1/", 0.5)].
  """
  if not 0.0 < decay <= 1.0:
    raise ValueError("layerwise_lr_decay must be in (0, 1], got %r" % (decay,))
  if decay == 1.0:
    return []
  return ([("(^|/)embeddings/", decay ** (num_layers + 1))]
          + [("(^|/)layer_%d/" % l, decay ** (num_layers - l)) for l in range(num_layers)])


def create_optimizer(init_lr, num_train_steps, num_warmup_steps, optimizer_type="adamw",
                     weight_decay_rate=0.01, global_clipnorm=1.0, lr_multipliers=None):
  """The original's optimizer: warmup + linear decay, global-norm clipping, AdamW (or LAMB).

  Args:
    init_lr: float, peak learning rate (reached at the end of warmup).
    num_train_steps: int, step at which the learning rate reaches 0.
    num_warmup_steps: int, linear warmup steps (0: no warmup).
    optimizer_type: "adamw" (Google's AdamWeightDecayOptimizer) or "lamb".
    weight_decay_rate: float, decoupled weight decay, not on LayerNorm or bias variables.
    global_clipnorm: float, gradients are clipped to this global norm (1.0 as the original).
    lr_multipliers: optional (regex, multiplier) pairs on variable paths (module docstring), e.g.
      `layerwise_lr_multipliers(12, 0.8)`; None: every variable at `init_lr`'s schedule.

  Returns:
    A `keras.optimizers.Optimizer`; `optimizer.learning_rate` is the current rate.
  """
  schedule = WarmupPolynomialDecay(init_lr, num_train_steps, num_warmup_steps)
  kwargs = dict(weight_decay_rate=weight_decay_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY, global_clipnorm=global_clipnorm,
                lr_multipliers=lr_multipliers)
  if optimizer_type == "adamw":
    return AdamWeightDecay(schedule, **kwargs)
  if optimizer_type == "lamb":
    return Lamb(schedule, **kwargs)
  raise ValueError("optimizer_type must be 'adamw' or 'lamb', got %r" % (optimizer_type,))
