"""The Keras 3 contract of every bert_tf2 model: get_config/from_config, `.keras` files, JSON configs.

One harness over the models (`MODELS`): each is built from a tiny config, and each round trip must
give the same class, the same config and bit-identical outputs, with no `custom_objects`
(the classes are registered as "bert_tf2>Name"). Loading in a fresh process needs nothing but
`import keras, bert_tf2`.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import bert_tf2
from bert_tf2 import layers, modeling, optimization
from bert_tf2.tasks.classification import model as classifier
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.tasks.squad import model as question_answering
from bert_tf2.retrieval import model as retrieval
from bert_tf2.tasks.tagging import model as tagging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = modeling.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=32, type_vocab_size=2)
INPUTS = {"input_ids": np.array([[2, 7, 9, 3, 0], [2, 11, 3, 12, 3]], np.int32),
          "input_mask": np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], np.int32),
          "segment_ids": np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], np.int32)}
PRETRAINING_INPUTS = dict(INPUTS, masked_lm_positions=np.array([[1, 2], [3, 0]], np.int32))

# name -> (builder, inputs)
MODELS = {
    "BertModel": (lambda: modeling.BertModel(CONFIG), INPUTS),
    "BertPretrainer": (lambda: pretraining.BertPretrainer(CONFIG), PRETRAINING_INPUTS),
    "BertClassifier": (lambda: classifier.BertClassifier(CONFIG, num_labels=3), INPUTS),
    "BertClassifier_multi_label": (
        lambda: classifier.BertClassifier(CONFIG, num_labels=4, multi_label=True, dropout_rate=0.2), INPUTS),
    "DualEncoder": (lambda: retrieval.DualEncoder(CONFIG, pooling_strategy="CLS_TOKEN"), INPUTS),
    "BertTagger": (lambda: tagging.BertTagger(CONFIG, num_labels=5), INPUTS),
    "BertTagger_crf": (lambda: tagging.BertTagger(CONFIG, num_labels=5, use_crf=True), INPUTS),
    "BertQuestionAnswerer": (lambda: question_answering.BertQuestionAnswerer(CONFIG), INPUTS),
}


def _outputs(model, inputs):
  """Every output array of `model(inputs)` (dict, list or tensor), in a fixed order."""
  return [np.asarray(t) for t in tf.nest.flatten(model(inputs, training=False))]


def _json(config):
  """`config` as it reads back from JSON (tuples become lists)."""
  return json.loads(json.dumps(config))


def _assert_same_model(original, restored, inputs):
  assert type(restored) is type(original)
  assert _json(restored.get_config()) == _json(original.get_config())
  ours, theirs = _outputs(original, inputs), _outputs(restored, inputs)
  assert len(ours) == len(theirs)
  for a, b in zip(ours, theirs):
    np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def built_models():
  """name -> (model, inputs), each model built with its own random weights (tf seeded)."""
  keras.utils.set_random_seed(7)
  models = {name: (build(), inputs) for name, (build, inputs) in MODELS.items()}
  for model, inputs in models.values():
    model(inputs)  # built, as after training
  return models


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_file_round_trip_gives_identical_outputs(name, built_models, tmp_path):
  model, inputs = built_models[name]
  path = str(tmp_path / "m.keras")
  model.save(path)
  _assert_same_model(model, keras.models.load_model(path), inputs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_json_config_round_trip_rebuilds_the_same_model(name, built_models):
  model, inputs = built_models[name]
  restored = keras.models.model_from_json(model.to_json())
  restored.set_weights(model.get_weights())  # the JSON config carries no weights
  _assert_same_model(model, restored, inputs)
  # The same through serialize_keras_object, and through from_config of a JSON-decoded config.
  serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
  assert serialized["registered_name"] == "bert_tf2>" + type(model).__name__
  again = keras.saving.deserialize_keras_object(serialized)
  assert type(again) is type(model) and again.get_config() == model.get_config()
  assert type(model).from_config(json.loads(json.dumps(model.get_config()))).get_config() == model.get_config()


def test_load_in_a_fresh_process_needs_only_import_bert_tf2(built_models, tmp_path):
  """`import keras, bert_tf2` then `keras.models.load_model`, with no custom_objects, every model."""
  for name, (model, inputs) in built_models.items():
    model.save(str(tmp_path / (name + ".keras")))
    np.savez(str(tmp_path / (name + "_inputs.npz")), **inputs)
  script = textwrap.dedent("""
      import sys
      import keras, bert_tf2
      import numpy as np, tensorflow as tf
      directory, names = sys.argv[1], sys.argv[2:]
      for name in names:
        model = keras.models.load_model("%s/%s.keras" % (directory, name))
        inputs = dict(np.load("%s/%s_inputs.npz" % (directory, name)))
        outputs = [np.asarray(t) for t in tf.nest.flatten(model(inputs, training=False))]
        np.savez("%s/%s_outputs.npz" % (directory, name), *outputs)
        print(name, type(model).__module__, type(model).__name__)
  """)
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run([sys.executable, "-c", script, str(tmp_path)] + sorted(built_models), cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  for name, (model, inputs) in built_models.items():
    assert "%s %s %s" % (name, type(model).__module__, type(model).__name__) in result.stdout
    theirs = np.load(str(tmp_path / (name + "_outputs.npz")))
    ours = _outputs(model, inputs)
    assert len(theirs.files) == len(ours)
    for i, a in enumerate(ours):
      np.testing.assert_array_equal(a, theirs["arr_%d" % i])


def _layer_cases():
  """(layer, call inputs) for every custom layer the models use."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 16)).astype(np.float32)
  bias = modeling.attention_bias_from_mask(INPUTS["input_mask"])
  positions = np.array([[0, 2], [1, 4]], np.int32)
  embedding = keras.layers.Embedding(CONFIG.vocab_size, CONFIG.hidden_size)
  embedding.build((None,))
  return {
      "BertEmbeddings": (layers.BertEmbeddings(CONFIG), (INPUTS["input_ids"], INPUTS["segment_ids"])),
      "SelfAttention": (layers.SelfAttention(CONFIG), (x, bias)),
      "TransformerLayer": (layers.TransformerLayer(CONFIG), (x, bias, positions)),
      "LayerNorm": (layers.layer_norm(CONFIG, "LayerNorm"), x),
      "Dropout": (layers.Dropout(0.1), x),
      "MaskedLMHead": (pretraining.MaskedLMHead(CONFIG, embedding), (x, positions)),
      "NextSentenceHead": (pretraining.NextSentenceHead(CONFIG), x[:, 0]),
      "OutputLayer": (layers.OutputLayer(3, 0.02), x[:, 0]),
      "OutputLayer_per_token": (layers.OutputLayer(5, 0.02), x),
      "SpanHead": (question_answering.SpanHead(0.02), x),
  }


def test_every_custom_layer_round_trips_through_its_config():
  for name, (layer, inputs) in _layer_cases().items():
    expected = np.asarray(layer(inputs))
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer), name
    assert _json(restored.get_config()) == _json(layer.get_config()), name
    restored(inputs)  # builds its weights
    restored.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(restored(inputs)), expected, err_msg=name)


def test_every_layer_inside_the_models_is_keras_or_registered(built_models):
  """A class Keras could not find by name would break `load_model` the day it is serialized alone."""
  for name, (model, _) in built_models.items():
    for layer in model._flatten_layers(include_self=True, recursive=True):
      cls = type(layer)
      if cls.__module__.startswith("keras."):
        continue
      registered = keras.saving.get_registered_name(cls)
      assert registered == "bert_tf2>" + cls.__name__, (name, cls)
      assert keras.saving.get_registered_object(registered) is cls


def test_bert_tf2_registers_every_keras_class_of_its_modules():
  """Each Layer, Model, Optimizer and schedule defined in bert_tf2.KERAS_MODULES is registered."""
  bases = (keras.layers.Layer, keras.optimizers.Optimizer, keras.optimizers.schedules.LearningRateSchedule)
  shared_bases = {layers.BertConfigLayer, optimization._DecoupledDecayOptimizer}  # never built alone
  found = []
  for module_name in bert_tf2.KERAS_MODULES:
    module = sys.modules["bert_tf2." + module_name]
    for value in vars(module).values():
      if (isinstance(value, type) and issubclass(value, bases) and value.__module__ == module.__name__
          and value not in shared_bases):
        found.append(value)
        assert keras.saving.get_registered_name(value) == "bert_tf2>" + value.__name__, value
  assert {c.__name__ for c in found} >= {"BertModel", "BertPretrainer", "BertClassifier", "DualEncoder",
                                         "AdamWeightDecay", "TransformerLayer"}


def test_every_module_that_registers_classes_is_in_keras_modules():
  """Else `import keras, bert_tf2` would not register its classes and load_model would not find them."""
  package = os.path.join(ROOT, "bert_tf2")
  registering = set()
  for filename in os.listdir(package):
    if filename.endswith(".py"):
      with open(os.path.join(package, filename), encoding="utf-8") as f:
        if "register_keras_serializable" in f.read():
          registering.add(filename[:-3])
  assert registering <= set(bert_tf2.KERAS_MODULES)


def test_optimizer_config_round_trip_keeps_schedule_and_clipping():
  optimizer = optimization.create_optimizer(1e-3, num_train_steps=100, num_warmup_steps=10)
  restored = keras.optimizers.deserialize(json.loads(json.dumps(keras.optimizers.serialize(optimizer))))
  assert type(restored) is optimization.AdamWeightDecay
  assert restored.get_config() == optimizer.get_config()
  assert restored.global_clipnorm == 1.0 and restored.weight_decay_rate == 0.01
  assert restored.get_config()["learning_rate"]["registered_name"] == "bert_tf2>WarmupPolynomialDecay"


def test_compiled_model_file_restores_our_optimizer(tmp_path):
  model = classifier.BertClassifier(CONFIG, num_labels=2)
  model.compile(optimizer=optimization.create_optimizer(1e-3, 10, 1, optimizer_type="lamb"))
  labels = np.array([0, 1], np.int32)
  for _ in range(2):  # two steps: the slots hold state worth restoring
    with tf.GradientTape() as tape:
      loss = model.classification_loss(labels, model(INPUTS, training=True))
    model.optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
  model.save(str(tmp_path / "m.keras"))
  restored = keras.models.load_model(str(tmp_path / "m.keras"))
  assert type(restored.optimizer) is optimization.Lamb
  assert restored.optimizer.get_config() == model.optimizer.get_config()
  assert int(restored.optimizer.iterations) == 2
  for ours, theirs in zip(model.optimizer.variables, restored.optimizer.variables):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=ours.path)
