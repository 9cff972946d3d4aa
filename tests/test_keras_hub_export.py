"""save_keras_hub_preset: presets that keras-hub's own from_preset loads, giving our outputs within 1e-5."""

import json
import os

import keras_hub
import numpy as np
import pytest

from bert_tf2 import checkpoints
from bert_tf2.interop import keras_hub_export
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tasks.tagging.model import BertTagger
from bert_tf2.tokenization import FullTokenizer

DATA = os.path.join(os.path.dirname(__file__), "data", "hf_export")
ZH = os.path.join(DATA, "zh_pretrainer")  # Google's tanh gelu, uncased Chinese vocab
TOLERANCE = 1e-5
SAME_TOKENS = ["我今天很开心", "2024年北京GDP增长5%", "unwanted,running"]  # no full-width forms


@pytest.fixture(scope="module")
def texts():
  with open(os.path.join(DATA, "sentences.json"), encoding="utf-8") as f:
    sentences = json.load(f)
  return sentences["chinese"] + ["unwanted,running"]


@pytest.fixture(scope="module")
def zh_encoder():
  encoder = BertModel(BertConfig.from_json_file(os.path.join(ZH, "config.json")))
  assert not checkpoints.load_checkpoint(encoder, ZH).missing
  return encoder


def _our_inputs(texts, length):
  tokenizer = FullTokenizer(os.path.join(ZH, "vocab.txt"), do_lower_case=True)
  ids = np.zeros((len(texts), length), np.int32)
  for i, text in enumerate(texts):
    row = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(text)[:length - 2] + ["[SEP]"])
    ids[i, :len(row)] = row
  return {"input_ids": ids, "input_mask": (ids > 0).astype(np.int32), "segment_ids": np.zeros_like(ids)}


def _assert_same_tokens(keras_hub_tokenizer, texts):
  ours = _our_inputs(texts, 24)["input_ids"]
  for row, text in zip(ours, texts):
    np.testing.assert_array_equal(np.asarray(keras_hub_tokenizer(text)), row[1:row.tolist().index(3)], err_msg=text)


def test_backbone_from_preset_gives_our_outputs(tmp_path, zh_encoder, texts):
  """keras-hub's BertBackbone.from_preset + its BertTokenizer.from_preset: our ids, our numbers."""
  preset, probe = keras_hub_export.save_keras_hub_preset(zh_encoder, str(tmp_path / "preset"),
                                                         os.path.join(ZH, "vocab.txt"), do_lower_case=True)
  assert probe <= TOLERANCE
  for name in ("config.json", "model.weights.h5", "tokenizer.json", "metadata.json"):
    assert os.path.isfile(os.path.join(preset, name)), name
  assert os.path.isfile(os.path.join(preset, "assets", "tokenizer", "vocabulary.txt"))
  backbone = keras_hub.models.BertBackbone.from_preset(preset)
  tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
  ours = _our_inputs(texts, 24)
  _assert_same_tokens(tokenizer, SAME_TOKENS)
  # Documented difference: keras-hub's case folding turns full-width "？" into "?", not in this vocab.
  assert np.asarray(tokenizer("缴纳？"))[-1] == 1  # [UNK]
  theirs = backbone({"token_ids": ours["input_ids"], "segment_ids": ours["segment_ids"],
                     "padding_mask": ours["input_mask"]}, training=False)
  out = zh_encoder(ours, training=False)
  real = ours["input_mask"].astype(bool)
  np.testing.assert_allclose(np.asarray(theirs["sequence_output"])[real], np.asarray(out["sequence_output"])[real],
                             atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(theirs["pooled_output"], out["pooled_output"], atol=TOLERANCE, rtol=0)


def test_text_classifier_from_preset_on_raw_strings(tmp_path, zh_encoder):
  """A BertClassifier -> BertTextClassifier preset; its own preprocessor on raw text gives our logits."""
  model = BertClassifier(zh_encoder, 3)
  rng = np.random.default_rng(0)
  model.output_bias.assign(rng.normal(0, 0.5, 3).astype(np.float32))
  preset, _ = keras_hub_export.save_keras_hub_preset(model, str(tmp_path / "clf"), os.path.join(ZH, "vocab.txt"),
                                                     do_lower_case=True, max_seq_length=16)
  classifier = keras_hub.models.BertTextClassifier.from_preset(preset)
  texts = SAME_TOKENS
  packed = classifier.preprocessor(texts)
  ours = _our_inputs(texts, 16)
  np.testing.assert_array_equal(packed["token_ids"], ours["input_ids"])
  np.testing.assert_allclose(classifier(packed, training=False), model(ours, training=False), atol=TOLERANCE, rtol=0)


def test_tokenizer_without_case_folding_keeps_full_width_forms(tmp_path, zh_encoder):
  """tokenizer_lowercase=False: Chinese text with full-width punctuation tokenizes as FullTokenizer.

  (Exported from a BertTagger, which keras-hub has no task for: its backbone alone, no task.json.)
  """
  tagger = BertTagger(zh_encoder, 5)
  preset, _ = keras_hub_export.save_keras_hub_preset(tagger, str(tmp_path / "preset"), os.path.join(ZH, "vocab.txt"),
                                                     do_lower_case=True, tokenizer_lowercase=False)
  assert not os.path.exists(os.path.join(preset, "task.json"))
  tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
  _assert_same_tokens(tokenizer, ["医疗保险怎么缴纳？", "他说：“明天见！”", "我今天很开心"])


def test_exact_gelu_is_refused_unless_approximation_is_allowed(tmp_path, tiny_config):
  """keras-hub's backbone hard-codes tanh gelu: an erf-gelu model cannot be represented exactly."""
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", encoding="utf-8")
  encoder = BertModel(tiny_config.copy(hidden_act="gelu_exact"))
  with pytest.raises(ValueError, match="tanh approximation.*'gelu_exact'"):
    keras_hub_export.save_keras_hub_preset(encoder, str(tmp_path / "p"), str(vocab), do_lower_case=True)
  assert not os.path.exists(tmp_path / "p")
  _, difference = keras_hub_export.save_keras_hub_preset(encoder, str(tmp_path / "p"), str(vocab), do_lower_case=True,
                                                         allow_gelu_approximation=True)
  assert difference > 0.0
