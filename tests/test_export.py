"""Exported SavedModels serve raw text in a fresh TensorFlow process with the Keras model's outputs."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2.core import export, text_model
from bert_tf2.tasks.classification.export import export_classifier
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.core.features import InputExample, convert_examples_to_features, features_to_arrays
from bert_tf2.modeling import BertModel
from bert_tf2.tokenization import FullTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "bad", "好", "差",
         "##s", ",", ".", "un", "##want", "##ed", "run", "##ning"] + ["w%d" % i for i in range(20)]
TEXT_A = ["The movie was GREAT.", "好 差,好", "unwanted running " * 20, ""]
TEXT_B = ["bad", "", "the movie", "great"]
LABELS = ["neg", "neutral", "pos"]

# Runs in a fresh interpreter: only TensorFlow and tensorflow-text, no bert_tf2.
SERVE = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)
out = {}
for key, (export_dir, signature, inputs) in json.loads(sys.argv[1]).items():
  result = tf.saved_model.load(export_dir).signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
  for name, value in result.items():
    value = value.numpy()
    out[key + "/" + name] = [s.decode() for s in value] if value.dtype == object else value.tolist()
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  return str(path)


def _keras_inputs(vocab_file, text_a, text_b, max_seq_length):
  tokenizer = FullTokenizer(vocab_file, do_lower_case=True)
  examples = [InputExample(str(i), a, b) for i, (a, b) in enumerate(zip(text_a, text_b or [None] * len(text_a)))]
  features = convert_examples_to_features(examples, LABELS, max_seq_length, tokenizer)
  return features_to_arrays(features)[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory, vocab_file):
  """Three exports served from ONE fresh process (TF start-up is the slow part), and the Keras outputs."""
  from bert_tf2.modeling import BertConfig
  config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)
  root = tmp_path_factory.mktemp("exports")
  pair = BertClassifier(config, num_labels=3)
  multi = BertClassifier(config, num_labels=3, multi_label=True)
  multi.output_bias.assign([5.0, -5.0, 5.0])
  encoder = BertModel(config)
  # The pair classifier is exported at int8: its signatures stay float32 (checked below in a fresh
  # process), its model is also LiteRT int8, which TextModel runs (test_int8_export_...).
  dirs = {"pair": export_classifier(pair, root / "pair", vocab_file, True, 16, LABELS, is_pair=True, precision="int8"),
          "multi": export_classifier(multi, root / "multi", vocab_file, True, 8, LABELS, threshold=0.5),
          "encoder": export.export_encoder(encoder, root / "encoder", vocab_file, True, 12)}
  pair_inputs = _keras_inputs(vocab_file, TEXT_A, TEXT_B, 16)
  encoder_inputs = _keras_inputs(vocab_file, TEXT_A, None, 12)
  as_lists = lambda inputs: {k: v.tolist() for k, v in inputs.items()}
  request = {
      "text": (dirs["pair"], "serving_default", {"text_a": TEXT_A, "text_b": TEXT_B}),
      "ids": (dirs["pair"], "serve_ids", as_lists(pair_inputs)),
      "multi": (dirs["multi"], "serving_default", {"text_a": ["the movie"]}),
      "enc_text": (dirs["encoder"], "serve_text", {"text_a": TEXT_A}),
      # The encoder's ids signature takes TF Hub's names (input_word_ids, input_mask, input_type_ids).
      "enc_ids": (dirs["encoder"], "serving_default", {hub: encoder_inputs[ours].tolist() for ours, hub in zip(
          ("input_ids", "input_mask", "segment_ids"), export.HUB_INPUT_NAMES)}),
  }
  run = subprocess.run([sys.executable, "-c", SERVE, json.dumps(request)], capture_output=True, text=True,
                       timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  expected = {"pair": pair.probabilities(pair(pair_inputs, training=False)).numpy(), "pair_model": pair,
              "encoder": encoder(encoder_inputs, training=False), "encoder_mask": encoder_inputs["input_mask"]}
  return dirs, json.loads(run.stdout.split("RESULT", 1)[1]), expected


def test_pair_classifier_serves_raw_text_like_the_keras_model(served):
  dirs, out, expected = served
  np.testing.assert_allclose(out["text/probabilities"], expected["pair"], atol=1e-5)
  np.testing.assert_allclose(out["ids/probabilities"], expected["pair"], atol=1e-5)
  assert out["text/labels"] == [LABELS[i] for i in expected["pair"].argmax(-1)]
  with open(dirs["pair"] + "/assets/labels.txt") as f:
    assert f.read().split() == LABELS


def test_saved_model_lists_both_signatures(served):
  from tensorflow.python.tools import saved_model_utils
  signatures = saved_model_utils.get_meta_graph_def(served[0]["pair"], "serve").signature_def
  assert set(signatures["serving_default"].inputs) == {"text_a", "text_b"}
  assert set(signatures["serving_default"].outputs) == {"probabilities", "labels"}
  assert set(signatures["serve_ids"].inputs) == {"input_ids", "input_mask", "segment_ids"}
  # An int8 export's: text -> the model's inputs, and text + the model's outputs -> serving_default's.
  assert set(signatures["int8_inputs"].outputs) == {"input_ids", "input_mask", "segment_ids"}
  assert set(signatures["int8_outputs"].inputs) == {"text_a", "text_b", "logits"}
  assert set(signatures["int8_outputs"].outputs) == {"probabilities", "labels"}


def test_int8_export_runs_through_text_model(served):
  dirs, _, expected = served
  predict = text_model.TextModel(dirs["pair"])
  assert predict.precision == "int8"
  float32 = text_model.TextModel(dirs["pair"], precision="float32")
  assert float32.runner is None
  reference = float32(text_a=TEXT_A, text_b=TEXT_B)
  np.testing.assert_allclose(reference["probabilities"], expected["pair"], atol=1e-5)
  # The split alone (the Keras model in LiteRT's place) gives serving_default's outputs exactly.
  int8_runner = predict.runner
  model = expected["pair_model"]
  predict.runner = lambda batch: {"logits": model({k: tf.constant(v) for k, v in batch.items()}, training=False).numpy()}
  split = predict(text_a=TEXT_A, text_b=TEXT_B)
  np.testing.assert_allclose(split["probabilities"], reference["probabilities"], atol=1e-6)
  np.testing.assert_array_equal(split["labels"], reference["labels"])
  # LiteRT int8: within its tolerance; a batch of 0 never reaches LiteRT.
  predict.runner = int8_runner
  quantized = predict(text_a=TEXT_A, text_b=TEXT_B)
  assert np.abs(quantized["probabilities"] - reference["probabilities"]).max() < 0.05
  empty = predict(text_a=[], text_b=[])
  assert empty["probabilities"].shape == (0, len(LABELS)) and empty["labels"].shape == (0,)
  # Asked for what it was not exported at: one line.
  with pytest.raises(ValueError, match="exported at float32; it runs at float32 or int8, not bfloat16"):
    text_model.TextModel(dirs["pair"], precision="bfloat16")
  with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, int8; got 'int4'"):
    text_model.TextModel(dirs["pair"], precision="int4")
  with pytest.raises(ValueError, match="has no int8 model: export it with --precision=int8"):
    text_model.TextModel(dirs["multi"], precision="int8")


def test_multi_label_export_joins_labels_over_threshold(served):
  assert served[1]["multi/labels"] == ["neg,pos"]


def test_encoder_export_gives_sequence_and_pooled_outputs(served):
  _, out, expected = served
  for key in ("enc_text", "enc_ids"):
    np.testing.assert_allclose(out[key + "/pooled_output"], expected["encoder"]["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(out[key + "/sequence_output"], expected["encoder"]["sequence_output"], atol=1e-5)
  np.testing.assert_array_equal(out["enc_text/input_mask"], expected["encoder_mask"])
