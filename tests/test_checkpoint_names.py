"""Heads declare their checkpoint names (`checkpoint_entries`, `checkpoint_heads`); `variable_table` reads them.

Each task model's declared names round-trip through a Google checkpoint and a Hugging Face
directory into a fresh model (every weight equal, nothing missing or unused); a model with a
variable no declaration covers is refused, naming the variable; a new head needs no edit of
bert_tf2/checkpoints.py.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

from bert_tf2 import checkpoint_names, checkpoints
from bert_tf2.core import training
from bert_tf2.interop import hf_export
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.tasks.pretraining import electra
from bert_tf2.tasks.pretraining.model import BertPretrainer
from bert_tf2.tasks.squad.model import BertQuestionAnswerer
from bert_tf2.tasks.tagging.model import BertTagger

# name -> (builder, the head's names that must be kept exactly: Google, Hugging Face)
TASK_MODELS = {
    "classifier": (lambda c: BertClassifier(c, num_labels=3),
                   {"output_weights": "classifier.weight", "output_bias": "classifier.bias"}),
    "tagger": (lambda c: BertTagger(c, num_labels=5),
               {"output_weights": "classifier.weight", "output_bias": "classifier.bias"}),
    "tagger_crf": (lambda c: BertTagger(c, num_labels=5, use_crf=True),
                   {"output_weights": "classifier.weight", "output_bias": "classifier.bias",
                    "crf/transitions": "crf.transitions", "crf/start_transitions": "crf.start_transitions",
                    "crf/end_transitions": "crf.end_transitions"}),
    "question_answerer": (BertQuestionAnswerer,
                          {"cls/squad/output_weights": "qa_outputs.weight", "cls/squad/output_bias": "qa_outputs.bias"}),
    "pretrainer": (BertPretrainer,
                   {"cls/predictions/transform/dense/kernel": "cls.predictions.transform.dense.weight",
                    "cls/predictions/transform/dense/bias": "cls.predictions.transform.dense.bias",
                    "cls/predictions/transform/LayerNorm/gamma": "cls.predictions.transform.LayerNorm.weight",
                    "cls/predictions/transform/LayerNorm/beta": "cls.predictions.transform.LayerNorm.bias",
                    "cls/predictions/output_bias": "cls.predictions.bias",
                    "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
                    "cls/seq_relationship/output_bias": "cls.seq_relationship.bias"}),
}
POOLER = ("bert.pooler.dense.weight", "bert.pooler.dense.bias")


def _randomized(model, seed):
  """`model` with every weight random (the CRF and biases start at zero: a zero would load trivially)."""
  rng = np.random.default_rng(seed)
  for variable in model.weights:
    variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(np.float32))
  return model


def _assert_equal_weights(model, again, skip=()):
  ours = {e.google: e.variable for e in checkpoints.variable_table(model)}
  theirs = {e.google: e.variable for e in checkpoints.variable_table(again)}
  assert set(ours) == set(theirs)
  for name, variable in ours.items():
    if name not in skip:
      np.testing.assert_array_equal(variable.numpy(), theirs[name].numpy(), err_msg=name)


@pytest.mark.parametrize("name", sorted(TASK_MODELS))
def test_declared_names_round_trip_through_google(name, tiny_config, tmp_path):
  build, head_names = TASK_MODELS[name]
  model = _randomized(build(tiny_config), seed=1)
  table = checkpoints.variable_table(model)
  declared = {e.google: e.hf for e in table if not e.google.startswith("bert/")}
  assert declared == head_names  # the original code's and transformers' names, unchanged
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "bert_model.ckpt"))
  assert set(checkpoints.google_checkpoint_arrays(prefix)) == {e.google for e in table}
  again = build(tiny_config)
  status = checkpoints.load_checkpoint(again, prefix)
  assert len(status.loaded) == len(again.weights) and not status.missing and not status.unused
  _assert_equal_weights(model, again)


@pytest.mark.parametrize("name", sorted(TASK_MODELS))
def test_declared_names_round_trip_through_hugging_face(name, tiny_config, tmp_path):
  build, _ = TASK_MODELS[name]
  model = _randomized(build(tiny_config), seed=2)
  directory = str(tmp_path / "hf")
  if name == "tagger_crf":  # transformers has no CRF, so save_hf_checkpoint refuses it: our names, written here
    with pytest.raises(ValueError, match="has no CRF"):
      checkpoints.save_hf_checkpoint(model, directory)
    os.makedirs(directory)
    save_file(hf_export.hf_tensors(checkpoints.variable_table(model)), os.path.join(directory, "model.safetensors"))
  else:
    checkpoints.save_hf_checkpoint(model, directory)
  again = build(tiny_config)
  status = checkpoints.load_checkpoint(again, directory)
  # transformers builds these two without a pooler, so save_hf_checkpoint leaves it out
  dropped = POOLER if name in ("tagger", "question_answerer") else ()
  assert sorted(status.missing) == sorted(dropped) and not status.unused
  assert len(status.loaded) == len(again.weights) - len(dropped)
  _assert_equal_weights(model, again, skip={"bert/pooler/dense/kernel", "bert/pooler/dense/bias"} if dropped else ())


def test_weights_hold_no_dropout_seed_state(tiny_config):
  """Dropout's seed generator state is a variable of the model but not a weight: it needs no name."""
  model = BertClassifier(tiny_config, num_labels=2)
  weights = {id(v) for v in model.weights}
  seeds = [v for v in model.variables if id(v) not in weights]
  assert seeds and all("seed_generator" in v.path for v in seeds)
  assert {id(e.variable) for e in checkpoints.variable_table(model)} == weights


class _Extra(keras.layers.Layer):
  """A new head: one Dense, declared (or not) under the names given."""

  def __init__(self, google=None, hf=None, **kwargs):
    super().__init__(**kwargs)
    self.dense = keras.layers.Dense(2, name="dense")
    self.google, self.hf = google, hf

  def build(self, input_shape):
    self.dense.build(input_shape)

  def call(self, x):
    return self.dense(x)

  def checkpoint_entries(self):
    return checkpoint_names.dense(self.google, self.hf, self.dense)


class _ToyTask(keras.Model):
  """A task model as a new task would write one: the encoder, a head, `checkpoint_heads` if declared."""

  def __init__(self, config, declare, names=("cls/toy/dense", "toy.dense"), **kwargs):
    super().__init__(**kwargs)
    self.encoder = BertModel(config)
    self.extra = _Extra(*names, name="extra")
    self.declare = declare

  def checkpoint_heads(self):
    return [self.extra] if self.declare else []

  def call(self, inputs):
    return self.extra(self.encoder(inputs)["pooled_output"])


def _toy(config, declare, **kwargs):
  model = _ToyTask(config, declare, **kwargs)
  ones = np.ones([1, 3], np.int32)
  model({"input_ids": ones, "input_mask": ones, "segment_ids": 0 * ones})
  return model


def test_an_undeclared_head_is_refused_naming_its_variables(tiny_config, tmp_path):
  model = _toy(tiny_config, declare=False)
  undeclared = r"_ToyTask: no checkpoint name for \S*extra/dense/kernel, \S*extra/dense/bias "
  with pytest.raises(ValueError, match=undeclared):
    checkpoints.variable_table(model)
  with pytest.raises(ValueError, match=undeclared):
    checkpoints.save_google_checkpoint(model, str(tmp_path / "out" / "bert_model.ckpt"))
  prefix = checkpoints.save_google_checkpoint(model.encoder, str(tmp_path / "bert_model.ckpt"))
  for path in (prefix, checkpoints.save_hf_checkpoint(model.encoder, str(tmp_path / "hf"))):
    with pytest.raises(ValueError, match=undeclared):
      checkpoints.load_checkpoint(model, path)


def test_a_new_head_declares_its_names_in_its_own_files(tiny_config, tmp_path):
  """No edit of checkpoints.py: the toy head's names go to Google and HF files and come back."""
  model = _randomized(_toy(tiny_config, declare=True), seed=3)
  table = checkpoints.variable_table(model)
  assert [(e.google, e.hf, e.hf_transpose) for e in table[-2:]] == [
      ("cls/toy/dense/kernel", "toy.dense.weight", True), ("cls/toy/dense/bias", "toy.dense.bias", False)]
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "bert_model.ckpt"))
  directory = checkpoints.save_hf_checkpoint(model, str(tmp_path / "hf"))
  for path in (prefix, directory):
    again = _toy(tiny_config, declare=True)
    status = checkpoints.load_checkpoint(again, path)
    assert not status.missing and not status.unused, path
    _assert_equal_weights(model, again)


def test_a_name_declared_twice_is_refused(tiny_config):
  model = _toy(tiny_config, declare=True, names=("bert/pooler/dense", "toy.dense"))
  with pytest.raises(ValueError, match="declared twice: bert/pooler/dense/bias, bert/pooler/dense/kernel"):
    checkpoints.variable_table(model)


def test_electra_generator_is_ours_only_and_reloads_from_training_checkpoints(tmp_path):
  """ELECTRA's generator and discriminator head have no Google/HF names (its bert_model.ckpt is the
  discriminator as BERT) but are declared, so our training checkpoints restore them too."""
  config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=32)
  model = _randomized(electra.ElectraPretrainer(config, generator_hidden_size=8), seed=4)
  table = checkpoints.variable_table(model)
  assert len(table) == len(model.weights)
  encoder = len(checkpoints.variable_table(model.encoder))
  assert all(e.google for e in table[:encoder]) and not any(e.google or e.hf for e in table[encoder:])
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=1,
                                       checkpoint_name=training.CHECKPOINT_NAME)
  path = manager.save(checkpoint_number=1)
  again = electra.ElectraPretrainer(config, generator_hidden_size=8)
  status = checkpoints.load_checkpoint(again, path)
  assert len(status.loaded) == len(again.weights) and not status.missing and not status.unused
  assert any("generator" in name for name in status.loaded)  # reported by path
  for ours, theirs in zip(model.weights, again.weights):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
