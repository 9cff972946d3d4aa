"""The TF1 shim in original_bert.py runs Google's original code and leaves TF2 eager alone."""

import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import original_bert

TINY_CONFIG = {
    "vocab_size": 20,
    "hidden_size": 8,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}

# Google's hand-worked case from tokenization_test.py.
VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ","]


@pytest.fixture(scope="module")
def google_checkpoint(tmp_path_factory):
  path = tmp_path_factory.mktemp("google") / "bert_model.ckpt"
  return original_bert.make_google_checkpoint(TINY_CONFIG, path, seed=1)


def google_variable_names(num_layers):
  names = ["bert/embeddings/" + name for name in (
      "word_embeddings", "token_type_embeddings", "position_embeddings",
      "LayerNorm/beta", "LayerNorm/gamma")]
  for i in range(num_layers):
    layer = f"bert/encoder/layer_{i}/"
    for dense in ("attention/self/query", "attention/self/key", "attention/self/value",
                  "attention/output/dense", "intermediate/dense", "output/dense"):
      names += [layer + dense + "/kernel", layer + dense + "/bias"]
    for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
      names += [layer + norm + "/beta", layer + norm + "/gamma"]
  return set(names) | {
      "bert/pooler/dense/kernel", "bert/pooler/dense/bias",
      "cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias",
      "cls/predictions/transform/LayerNorm/beta", "cls/predictions/transform/LayerNorm/gamma",
      "cls/predictions/output_bias",
      "cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias",
  }


def test_original_tokenizer_splits_unwanted_running(tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  tokenization = original_bert.load("tokenization")
  tokenizer = tokenization.FullTokenizer(str(vocab_file), do_lower_case=True)
  assert tokenizer.tokenize("UNwant\u00E9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]


def test_checkpoint_has_exactly_googles_variable_names(google_checkpoint):
  shapes = dict(tf.train.list_variables(google_checkpoint))
  assert set(shapes) == google_variable_names(TINY_CONFIG["num_hidden_layers"])
  assert shapes["bert/encoder/layer_1/attention/self/query/kernel"] == [8, 8]
  assert shapes["bert/encoder/layer_1/intermediate/dense/kernel"] == [8, 16]
  reader = tf.train.load_checkpoint(google_checkpoint)
  assert not np.allclose(reader.get_tensor("bert/encoder/layer_1/output/LayerNorm/gamma"), 1.0)
  assert not np.allclose(reader.get_tensor("cls/predictions/output_bias"), 0.0)


def test_original_model_round_trips_checkpoint(google_checkpoint):
  input_ids = np.array([[1, 5, 7, 2, 0], [1, 3, 2, 4, 2]])
  input_mask = (input_ids > 0).astype(np.int32)
  segment_ids = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]])
  outputs = original_bert.run_original_model(
      TINY_CONFIG, google_checkpoint, input_ids, input_mask, segment_ids)
  assert outputs["sequence_output"].shape == (2, 5, 8)
  assert outputs["embedding_output"].shape == (2, 5, 8)
  assert outputs["pooled_output"].shape == (2, 8)
  assert len(outputs["encoder_outputs"]) == 2
  np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])
  for value in outputs.values():
    assert np.all(np.isfinite(value))


def test_original_pretraining_heads_return_logits_and_losses(google_checkpoint):
  ids = np.array([[1, 5, 7, 2], [1, 3, 2, 4]])
  outputs = original_bert.run_original_pretraining_heads(
      TINY_CONFIG, google_checkpoint, ids, np.ones_like(ids), np.zeros_like(ids),
      masked_lm_positions=[[1, 2], [3, 0]], masked_lm_ids=[[5, 7], [4, 0]],
      masked_lm_weights=[[1.0, 1.0], [1.0, 0.0]], next_sentence_labels=[0, 1])
  assert outputs["masked_lm_logits"].shape == (4, 20)
  np.testing.assert_allclose(
      outputs["masked_lm_log_probs"], tf.nn.log_softmax(outputs["masked_lm_logits"]), atol=1e-6)
  assert outputs["next_sentence_log_probs"].shape == (2, 2)
  assert outputs["total_loss"] == pytest.approx(
      outputs["masked_lm_loss"] + outputs["next_sentence_loss"])


def test_original_classifier_builds_in_tf1_graph():
  run_classifier = original_bert.load("run_classifier")
  config = run_classifier.modeling.BertConfig.from_dict(TINY_CONFIG)
  with original_bert.tf1_graph(), tf.compat.v1.Session() as session:
    ids = tf.constant([[1, 5, 7, 2]])
    _, _, logits, _ = run_classifier.create_model(
        config, False, ids, tf.ones_like(ids), tf.zeros_like(ids), tf.constant([1]), 3, False)
    session.run(tf.compat.v1.global_variables_initializer())
    assert session.run(logits).shape == (1, 3)
  assert tf.TensorShape([3])[0] == 3 and isinstance(tf.TensorShape([3])[0], int)


def test_tf2_stays_eager_after_loading_originals():
  for name in ("modeling", "run_pretraining", "run_classifier", "create_pretraining_data"):
    original_bert.load(name)
  assert sys.modules["tensorflow"] is tf
  assert tf.executing_eagerly()
  assert (tf.constant(1) + 1).numpy() == 2
