"""BertClassifier and feature conversion against Google's run_classifier.py."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.tasks.classification import model as classifier
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.core.features import InputExample, convert_examples_to_features, convert_single_example
from bert_tf2.modeling import BertConfig
from bert_tf2.tokenization import FullTokenizer
from tests import original_bert

CONFIG = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}
PAIRS = [
    ("the quick brown fox jumps over the lazy dog", "a fast fox", "1"),
    ("unwanted, running", None, "0"),
    ("short", "a much longer second sentence that has to be trimmed first", "1"),
    ("equal length one two", "equal length one two", "0"),
    ("there is text", "", "1"),  # an empty text_b: a single-sentence example
    ("你好，世界！", "中文 句子", "0"),
]


def test_convert_single_example_matches_the_original(minilm_dir):
  run_classifier = original_bert.load("run_classifier")
  vocab_file = os.path.join(minilm_dir, "vocab.txt")
  original_tokenizer = original_bert.load("tokenization").FullTokenizer(vocab_file, do_lower_case=True)
  tokenizer = FullTokenizer(vocab_file, do_lower_case=True)
  for max_seq_length in (5, 8, 13, 32):
    for i, (a, b, label) in enumerate(PAIRS):
      expected = run_classifier.convert_single_example(
          i, run_classifier.InputExample("x", a, b, label), ["0", "1"], max_seq_length, original_tokenizer)
      got = convert_single_example(i, InputExample("x", a, b, label), ["0", "1"], max_seq_length, tokenizer)
      for name in ("input_ids", "input_mask", "segment_ids", "label_id"):
        assert getattr(got, name) == getattr(expected, name), (max_seq_length, a, b, name)


def test_truncation_is_counted(minilm_dir):
  tokenizer = FullTokenizer(os.path.join(minilm_dir, "vocab.txt"))
  features = convert_examples_to_features(
      [InputExample("x", "one two three four five six", "seven eight"), InputExample("y", "one")],
      ["0"], 8, tokenizer)
  assert [f.num_truncated for f in features] == [3, 0]


@pytest.fixture(scope="module")
def original_classifier(tmp_path_factory):
  """A TF1 run_classifier.create_model with random weights, saved under Google's names, and its outputs."""
  directory = tmp_path_factory.mktemp("original")
  bert_ckpt = original_bert.make_google_checkpoint(CONFIG, str(directory / "bert_model.ckpt"), seed=3)
  run_classifier = original_bert.load("run_classifier")
  modeling = original_bert.load("modeling")
  rng = np.random.default_rng(0)
  ids = rng.integers(0, 40, (3, 10)).astype(np.int32)
  mask = np.array([[1] * 10, [1] * 7 + [0] * 3, [1] * 4 + [0] * 6], np.int32)
  segments = np.array([[0] * 5 + [1] * 5, [0] * 10, [0] * 2 + [1] * 8], np.int32)
  labels = np.array([0, 2, 1], np.int32)
  v1 = tf.compat.v1
  with original_bert.tf1_graph():
    loss, per_example_loss, logits, probabilities = run_classifier.create_model(
        modeling.BertConfig.from_dict(CONFIG), False, tf.constant(ids), tf.constant(mask),
        tf.constant(segments), tf.constant(labels), 3, False)
    bert_vars = [v for v in v1.global_variables() if v.name.startswith("bert/")]
    head = [v for v in v1.global_variables() if not v.name.startswith("bert/")]
    with v1.Session() as session:
      v1.train.Saver(bert_vars).restore(session, bert_ckpt)
      session.run(v1.variables_initializer(head))
      session.run([v.assign(rng.normal(0, 0.5, v.shape.as_list()).astype(np.float32)) for v in head])
      path = v1.train.Saver().save(session, str(directory / "model.ckpt"), write_meta_graph=False)
      outputs = session.run({"loss": loss, "logits": logits, "probabilities": probabilities})
  return path, dict(outputs, input_ids=ids, input_mask=mask, segment_ids=segments, labels=labels)


def test_logits_and_loss_match_the_original_create_model(original_classifier):
  path, expected = original_classifier
  model = BertClassifier(BertConfig.from_dict(CONFIG), num_labels=3)
  status = checkpoints.load_checkpoint(model, path)
  assert not status.missing and not status.unused
  inputs = {k: expected[k] for k in ("input_ids", "input_mask", "segment_ids")}
  logits = model(inputs, training=False)
  np.testing.assert_allclose(logits, expected["logits"], atol=1e-5)
  np.testing.assert_allclose(model.probabilities(logits), expected["probabilities"], atol=1e-6)
  np.testing.assert_allclose(model.classification_loss(expected["labels"], logits), expected["loss"], atol=1e-5)


def test_head_variables_carry_run_classifier_names(tiny_config):
  model = BertClassifier(tiny_config, num_labels=5)
  names = {e.google: tuple(e.variable.shape) for e in checkpoints.variable_table(model)}
  assert names["output_weights"] == (5, 16) and names["output_bias"] == (5,)
  trainable = {id(v) for v in model.trainable_variables}
  assert id(model.output_weights) in trainable and id(model.output_bias) in trainable


def test_multi_label_loss_is_mean_sigmoid_cross_entropy(tiny_config):
  model = BertClassifier(tiny_config, num_labels=2, multi_label=True)
  logits = tf.constant([[0.0, 2.0]])
  labels = tf.constant([[1.0, 0.0]])
  expected = np.mean([np.log(2.0), np.log1p(np.exp(2.0))])
  np.testing.assert_allclose(model.classification_loss(labels, logits), expected, rtol=1e-6)
  np.testing.assert_allclose(model.probabilities(logits), [[0.5, 1 / (1 + np.exp(-2.0))]], rtol=1e-6)


def test_f1_scores_hand_worked():
  labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], np.float32)
  predicted = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], bool)
  micro, macro = classifier.f1_scores(labels, predicted)
  assert micro == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # tp 2, fp 1, fn 1
  assert macro == pytest.approx((2 / 3 + 2 / 3 + 0.0) / 3)


def test_config_round_trip(tiny_config):
  model = BertClassifier(tiny_config, num_labels=3, multi_label=True)
  clone = BertClassifier.from_config(model.get_config())
  assert clone.num_labels == 3 and clone.multi_label and clone.encoder.config == tiny_config
