"""A linear-chain conditional random field on TensorFlow ops (Lafferty et al., 2001).

    crf = CRF(num_tags)                                    # a Keras layer owning the transition scores
    nll = -crf.log_likelihood(emissions, tags, lengths)    # float32 [B]
    best = crf.decode(emissions, lengths)                  # int32 [B, T]: Viterbi tags

The score of a tag path y_0 .. y_{n-1} over a sequence of length n is

    start[y_0] + sum_t emissions[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_{n-1}]

and its probability is exp(score) / Z, Z summed over all num_tags**n paths by the forward
algorithm. Positions t >= n are padding: they never enter a score. tensorflow-addons (the usual
TF home of a CRF) is unmaintained, hence this file. Shapes: B batch, T time, K tags.
"""

import keras
import tensorflow as tf

from bert_tf2 import checkpoint_names


def _time_major(emissions):
  return tf.transpose(emissions, [1, 0, 2])  # (T, B, K)


def sequence_score(emissions, tags, lengths, transitions, start, end):
  """float32 [B]: the unnormalised score of `tags` (int [B, T]) under the parameters above."""
  mask = tf.sequence_mask(lengths, tf.shape(emissions)[1], dtype=emissions.dtype)  # (B, T)
  tags = tf.cast(tags, tf.int32)
  unary = tf.reduce_sum(tf.gather(emissions, tags, batch_dims=2) * mask, axis=1)
  pairs = tf.gather(tf.gather(transitions, tags[:, :-1]), tags[:, 1:], batch_dims=2)  # (B, T-1)
  binary = tf.reduce_sum(pairs * mask[:, 1:], axis=1)
  last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
  has_any = tf.cast(lengths > 0, emissions.dtype)
  return (unary + binary + (tf.gather(start, tags[:, 0]) + tf.gather(end, last)) * has_any)


def log_partition(emissions, lengths, transitions, start, end):
  """float32 [B]: log Z by the forward algorithm; 0 for empty sequences."""
  steps = _time_major(emissions)
  alpha0 = start[None, :] + steps[0]  # (B, K)
  times = tf.range(1, tf.shape(steps)[0])

  def step(alpha, inputs):
    t, emission = inputs
    # (B, K_prev, 1) + (K_prev, K) -> logsumexp over K_prev -> (B, K)
    new = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1) + emission
    return tf.where((t < lengths)[:, None], new, alpha)

  alpha = tf.foldl(step, (times, steps[1:]), initializer=alpha0)
  log_z = tf.reduce_logsumexp(alpha + end[None, :], axis=1)
  return tf.where(lengths > 0, log_z, tf.zeros_like(log_z))


def viterbi_decode(emissions, lengths, transitions, start, end):
  """(int32 [B, T] best tags, float32 [B] best scores); tags past a sequence's length are 0."""
  steps = _time_major(emissions)
  num_tags = tf.shape(emissions)[2]
  alpha0 = start[None, :] + steps[0]
  times = tf.range(1, tf.shape(steps)[0])
  keep = tf.range(num_tags)[None, :]  # a padding step points each tag back to itself

  def step(carry, inputs):
    alpha, _ = carry
    t, emission = inputs
    scores = alpha[:, :, None] + transitions[None]  # (B, K_prev, K)
    best_previous = tf.argmax(scores, axis=1, output_type=tf.int32)  # (B, K)
    new = tf.reduce_max(scores, axis=1) + emission
    active = (t < lengths)[:, None]
    return (tf.where(active, new, alpha),
            tf.where(active, best_previous, tf.broadcast_to(keep, tf.shape(best_previous))))

  batch = tf.shape(emissions)[0]
  alphas, pointers = tf.scan(step, (times, steps[1:]),
                             initializer=(alpha0, tf.zeros([batch, num_tags], tf.int32)))
  alpha = tf.cond(tf.shape(times)[0] > 0, lambda: alphas[-1], lambda: alpha0)
  total = alpha + end[None, :]
  last = tf.argmax(total, axis=1, output_type=tf.int32)  # (B,)

  def back(tag, pointer):
    return tf.gather(pointer, tag, batch_dims=1)

  # pointers[t - 1] maps the tag at t to the best tag at t - 1; walk them from the end.
  earlier = tf.scan(back, pointers, initializer=last, reverse=True)  # (T-1, B): tags at 0 .. T-2
  tags = tf.concat([earlier, last[None, :]], axis=0)
  tags = tf.transpose(tags)  # (B, T)
  mask = tf.sequence_mask(lengths, tf.shape(emissions)[1])
  return tf.where(mask, tags, tf.zeros_like(tags)), tf.reduce_max(total, axis=1)


@keras.saving.register_keras_serializable(package="bert_tf2")
class CRF(keras.layers.Layer):
  """Transition scores [K, K] (from tag i to tag j), start [K] and end [K] scores of a linear-chain CRF.

  Computes nothing in `call` (it returns the emissions unchanged) so that it can sit in a model's
  forward pass and be built and saved with it; `log_likelihood` and `decode` do the work.
  The scores used are `lr_multiplier` times the variables: an optimizer step on them then moves the
  scores `lr_multiplier` times as far (Adam's steps do not depend on the gradient's scale).
  Checkpoint names: `<google_scope>/transitions` etc. and `<hf_module>.transitions` etc. (None: none
  in that format); transformers has no CRF, so the HF names are for our own directories.
  """

  def __init__(self, num_tags, lr_multiplier=1.0, google_scope="crf", hf_module="crf", **kwargs):
    super().__init__(**kwargs)
    self.num_tags = num_tags
    self.lr_multiplier = lr_multiplier
    self.google_scope = google_scope
    self.hf_module = hf_module

  def build(self, input_shape=None):
    init = keras.initializers.Zeros()
    self.transitions = self.add_weight(name="transitions", shape=(self.num_tags, self.num_tags), initializer=init)
    self.start_transitions = self.add_weight(name="start_transitions", shape=(self.num_tags,), initializer=init)
    self.end_transitions = self.add_weight(name="end_transitions", shape=(self.num_tags,), initializer=init)

  def call(self, emissions):
    return emissions

  def checkpoint_entries(self):
    return [entry for name in ("transitions", "start_transitions", "end_transitions")
            for entry in checkpoint_names.weight(checkpoint_names.google_name(self.google_scope, name),
                                                 checkpoint_names.hf_name(self.hf_module, name), getattr(self, name))]

  def _params(self):
    scale = self.lr_multiplier
    return tuple(tf.convert_to_tensor(w) * scale
                 for w in (self.transitions, self.start_transitions, self.end_transitions))

  def log_likelihood(self, emissions, tags, lengths):
    """float32 [B]: log p(tags | emissions) of int `tags` [B, T] over the first `lengths` [B] steps."""
    emissions = tf.cast(emissions, tf.float32)
    lengths = tf.cast(lengths, tf.int32)
    params = self._params()
    return sequence_score(emissions, tags, lengths, *params) - log_partition(emissions, lengths, *params)

  def decode(self, emissions, lengths):
    """int32 [B, T]: the most probable tags (Viterbi), 0 past each length."""
    return viterbi_decode(tf.cast(emissions, tf.float32), tf.cast(lengths, tf.int32), *self._params())[0]

  def get_config(self):
    return dict(super().get_config(), num_tags=self.num_tags, lr_multiplier=self.lr_multiplier,
                google_scope=self.google_scope, hf_module=self.hf_module)
