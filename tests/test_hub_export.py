"""TF Hub-style SavedModels: the preprocessing model and the encoder, called as TF Hub documents them."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.core import export
from bert_tf2.interop import hub_preprocessing
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tokenization import FullTokenizer

DATA = os.path.join(os.path.dirname(__file__), "data", "hf_export")
ZH = os.path.join(DATA, "zh_pretrainer")
VOCAB = os.path.join(ZH, "vocab.txt")
TOLERANCE = 1e-5
SEQ_LENGTH = 16


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """(our encoder, loaded preprocessing SavedModel, loaded encoder SavedModel)."""
  encoder = BertModel(BertConfig.from_json_file(os.path.join(ZH, "config.json")))
  checkpoints.load_checkpoint(encoder, ZH)
  root = tmp_path_factory.mktemp("tfhub")
  preprocessing = hub_preprocessing.export_preprocessing(str(root / "preprocessing"), VOCAB, True, SEQ_LENGTH)
  encoder_dir = export.export_encoder(encoder, str(root / "encoder"), VOCAB, True, SEQ_LENGTH)
  return encoder, tf.saved_model.load(preprocessing), tf.saved_model.load(encoder_dir)


@pytest.fixture(scope="module")
def texts():
  with open(os.path.join(DATA, "sentences.json"), encoding="utf-8") as f:
    sentences = json.load(f)
  return sentences["chinese"] + sentences["english"][3:4]


def _full_tokenizer_inputs(texts, pairs=None, length=SEQ_LENGTH):
  """FullTokenizer + the original's packing (truncation longest-first), in TF Hub's key names."""
  tokenizer = FullTokenizer(VOCAB, do_lower_case=True)
  rows = []
  for i, text in enumerate(texts):
    a, b = tokenizer.tokenize(text), tokenizer.tokenize(pairs[i]) if pairs else []
    while len(a) + len(b) > length - (3 if b else 2):
      (a if len(a) > len(b) else b).pop()
    segment_a = ["[CLS]"] + a + ["[SEP]"]
    segment_b = b + ["[SEP]"] if b else []
    ids = tokenizer.convert_tokens_to_ids(segment_a + segment_b)
    pad = [0] * (length - len(ids))
    rows.append((ids + pad, [1] * len(ids) + pad, [0] * len(segment_a) + [1] * len(segment_b) + pad))
  word_ids, mask, type_ids = (np.array(column, np.int32) for column in zip(*rows))
  return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}


def _assert_same(actual, expected):
  for key in expected:
    np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


def test_preprocessing_default_call_packs_single_segments(exported, texts):
  _, preprocess, _ = exported
  _assert_same(preprocess(tf.constant(texts)), _full_tokenizer_inputs(texts))
  signature = preprocess.signatures["serving_default"]
  _assert_same(signature(sentences=tf.constant(texts)), _full_tokenizer_inputs(texts))


def test_preprocessing_tokenize_and_bert_pack_inputs_for_pairs(exported, texts):
  """tokenize -> [B, (words), (pieces)]; bert_pack_inputs([a, b], seq_length=...) truncates as the original."""
  _, preprocess, _ = exported
  vocab = FullTokenizer(VOCAB).vocab
  words = [["un", "##want", "##ed"], [","], ["running"]]  # the vocab has no "unwanted"
  assert preprocess.tokenize(tf.constant(["unwanted,running"])).to_list() == [[[vocab[t] for t in w] for w in words]]
  pairs = texts[::-1]
  a, b = preprocess.tokenize(tf.constant(texts)), preprocess.tokenize(tf.constant(pairs))
  _assert_same(preprocess.bert_pack_inputs([a, b], seq_length=12), _full_tokenizer_inputs(texts, pairs, 12))
  _assert_same(preprocess.bert_pack_inputs([a.merge_dims(-2, -1)]), _full_tokenizer_inputs(texts))
  special = {k: int(v) for k, v in preprocess.tokenize.get_special_tokens_dict().items()}
  assert special == {"vocab_size": 96, "start_of_sequence_id": 2, "end_of_segment_id": 3, "padding_id": 0,
                     "mask_id": 4}
  assert bool(preprocess.do_lower_case.numpy())
  assert preprocess.vocab_file.asset_path.numpy().decode().endswith("vocab.txt")


def test_encoder_with_hub_keys_gives_our_outputs(exported, texts):
  """preprocess(strings) -> encoder signature with TF Hub's keys -> our sequence/pooled/per-layer outputs."""
  ours_encoder, preprocess, encoder = exported
  inputs = preprocess(tf.constant(texts))
  ours = ours_encoder({"input_ids": inputs["input_word_ids"], "input_mask": inputs["input_mask"],
                       "segment_ids": inputs["input_type_ids"]}, training=False)
  real = inputs["input_mask"].numpy().astype(bool)
  outputs = encoder.signatures["serving_default"](**inputs)
  assert set(outputs) == {"pooled_output", "sequence_output", "encoder_outputs", "default"}
  np.testing.assert_allclose(outputs["pooled_output"], ours["pooled_output"], atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(outputs["default"], ours["pooled_output"], atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(np.asarray(outputs["sequence_output"])[real], np.asarray(ours["sequence_output"])[real],
                             atol=TOLERANCE, rtol=0)
  for i, layer in enumerate(ours["encoder_outputs"]):
    np.testing.assert_allclose(np.asarray(outputs["encoder_outputs"])[:, i][real], np.asarray(layer)[real],
                               atol=TOLERANCE, rtol=0)


def test_encoder_is_a_reusable_saved_model(exported, texts):
  """What hub.KerasLayer uses: `encoder(inputs, training=...)`, encoder_outputs a list, the variables."""
  ours_encoder, preprocess, encoder = exported
  inputs = preprocess(tf.constant(texts))
  ours = ours_encoder({"input_ids": inputs["input_word_ids"], "input_mask": inputs["input_mask"],
                       "segment_ids": inputs["input_type_ids"]}, training=False)
  real = inputs["input_mask"].numpy().astype(bool)
  for outputs in (encoder(inputs), encoder(inputs, training=False)):
    np.testing.assert_allclose(outputs["default"], ours["pooled_output"], atol=TOLERANCE, rtol=0)
    assert len(outputs["encoder_outputs"]) == len(ours["encoder_outputs"])
    np.testing.assert_allclose(np.asarray(outputs["encoder_outputs"][-1])[real],
                               np.asarray(ours["sequence_output"])[real], atol=TOLERANCE, rtol=0)
  dropped = encoder(inputs, training=True)["sequence_output"]  # dropout on: fine-tuning through the layer
  assert np.abs(np.asarray(dropped) - np.asarray(ours["sequence_output"]))[real].max() > 1e-3
  assert len(encoder.trainable_variables) == len(ours_encoder.trainable_variables) == 39
  assert len(encoder.variables) == len(ours_encoder.variables)  # + dropout's random-seed state
  assert list(encoder.regularization_losses) == []
