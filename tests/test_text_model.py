"""int8 raw-text exports of every task family (`core.text_model`): the split at the model call gives
serving_default's outputs exactly, and LiteRT int8 stays within tolerance. A whole int8 export run by
`TextModel`: tests/test_export.py (the classifier's)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2.core import litert, text_model
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.tasks.multiple_choice import export as multiple_choice_export
from bert_tf2.tasks.multiple_choice.model import BertMultipleChoice
from bert_tf2.tasks.regression import export as regression_export
from bert_tf2.tasks.squad import export as squad_export
from bert_tf2.tasks.squad.model import BertQuestionAnswerer
from bert_tf2.tasks.tagging import export as tagging_export
from bert_tf2.tasks.tagging.model import BertTagger

CHARS = list("江泽民在北京上海新华社记者报道中国人民银行谁是什么") + ["the", "movie", "was", "great", "bad", "?"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS
TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXTS = ["the movie was great", "江泽民在北京", "", "新华社记者报道：中国人民银行在上海。" * 6]
# Per family: its model, its export module (as its export function builds it) and serving_default's
# inputs, with every family's text edge cases: an empty text, a text longer than one window.
FAMILIES = {
    "regression": (lambda c: BertClassifier(c, 1),
                   lambda m, v: regression_export.RegressorModule(m, v, True, 16, is_pair=False), dict(text_a=TEXTS)),
    "tagger": (lambda c: BertTagger(c, len(TAGS), use_crf=True),
               lambda m, v: tagging_export.TaggerModule(m, v, True, 10, 4, TAGS), dict(text=TEXTS)),
    "squad": (BertQuestionAnswerer, lambda m, v: squad_export.SquadModule(m, v, True, 24, 8, 6, 30, 20, True, 0.0),
              dict(question=["谁在北京？", "什么？", "是什么", "谁"], context=TEXTS)),
    "multiple_choice": (BertMultipleChoice, lambda m, v: multiple_choice_export.MultipleChoiceModule(m, v, True, 16),
                        dict(context=TEXTS, question=["谁", "", "是什么", "?"],
                             options=[["a", "b"], ["江", ""], ["", ""], ["北京", "上海"]])),
}


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  return str(path)


def _model(family):
  keras.utils.set_random_seed(7)
  config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
  model = FAMILIES[family][0](config)
  rng = np.random.default_rng(0)
  for weight in model.weights:  # large head weights: outputs that vary along texts and between labels
    if weight.path.endswith(("output_weights", "transitions", "word_embeddings/embeddings")):
      weight.assign(rng.normal(scale=3.0, size=weight.shape).astype(np.float32))
  return model


def _close(a, b, atol):
  if a.dtype == object or a.dtype.kind in "iub":
    return np.array_equal(a, b)
  return np.allclose(a, b, atol=atol)


def _run_keras(model):
  """A stand-in for the LiteRT runner: the Keras model itself, so that only the split is compared."""
  return lambda batch: {name: t.numpy() for name, t in text_model._named(  # pylint: disable=protected-access
      model({k: tf.constant(v) for k, v in batch.items()}, training=False)).items()}


def _assert_outputs(got, expected, atol, family):
  assert sorted(got) == sorted(expected)
  for name in expected:
    assert got[name].shape == expected[name].shape, name
    if atol == 0 or expected[name].dtype.kind != "f":
      assert _close(got[name], expected[name], 1e-5), (name, got[name], expected[name])
    elif family != "squad":  # squad's score is a sum of two logits of any scale
      assert np.abs(got[name] - expected[name]).max() < atol, name


@pytest.mark.parametrize("family", ["tagger"] + [pytest.param(family, marks=pytest.mark.slow)  # ~10 s each
                                                 for family in ("squad", "multiple_choice", "regression")])
def test_int8_split_gives_serving_default_outputs_in_every_family(family, vocab_file):
  _, make_module, inputs = FAMILIES[family]
  model = _model(family)
  module = make_module(model, vocab_file)
  feeds = {k: tf.constant(v) for k, v in inputs.items()}
  expected = {name: t.numpy() for name, t in module.text_function()(**feeds).items()}
  signatures, tflite = text_model.int8_split(module)
  model_inputs = {name: t.numpy() for name, t in signatures["int8_inputs"](**feeds).items()}
  for runner, atol in ((_run_keras(model), 0), (litert.Runner(tflite), 0.1)):
    outputs = runner(model_inputs)
    got = signatures["int8_outputs"](**feeds, **{k: tf.constant(v) for k, v in outputs.items()})
    _assert_outputs({name: t.numpy() for name, t in got.items()}, expected, atol, family)
