"""BertConfig and BertModel: shapes, config formats, dropout, and numerics against Google's modeling.py."""
import json

import keras
import numpy as np
import pytest

from bert_tf2 import checkpoints, layers
from bert_tf2.modeling import BertConfig, BertModel
from tests import original_bert

GOOGLE_TINY = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4,
               "intermediate_size": 37, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
               "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 40,
               "type_vocab_size": 3, "initializer_range": 0.02}
# Wide and deep enough for float32 rounding to add up (and for oneDNN to pick other matmul kernels),
# weights large enough for activations of ~4: the drift that the tiny config hides shows here.
GOOGLE_LARGER = dict(GOOGLE_TINY, vocab_size=3000, hidden_size=128, num_hidden_layers=4, intermediate_size=512,
                     max_position_embeddings=128, type_vocab_size=2, initializer_range=0.2)


def _inputs(config, batch=3, length=11, seed=0):
  """Random ids with ragged padding (row i has i padded positions at the end)."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, config["vocab_size"], (batch, length)).astype(np.int32)
  mask = np.ones((batch, length), np.int32)
  for i in range(batch):
    mask[i, length - i * 3:] = 0 if i else 1
  segments = (np.arange(length)[None, :] >= length // 2).astype(np.int32) * mask
  segments[:, 0] = rng.integers(0, config["type_vocab_size"], batch)
  return {"input_ids": ids * mask, "input_mask": mask, "segment_ids": segments}


def test_outputs_have_documented_shapes(tiny_config):
  model = BertModel(tiny_config)
  out = model(_inputs(tiny_config.to_dict(), batch=2, length=5))
  assert out["sequence_output"].shape == (2, 5, 16)
  assert out["pooled_output"].shape == (2, 16)
  assert out["embedding_output"].shape == (2, 5, 16)
  assert [t.shape for t in out["encoder_outputs"]] == [(2, 5, 16)] * 2
  np.testing.assert_array_equal(out["encoder_outputs"][-1], out["sequence_output"])


def test_dropout_only_in_training(tiny_config):
  model = BertModel(tiny_config.copy(hidden_dropout_prob=0.5))
  x = _inputs(tiny_config.to_dict(), batch=2, length=5)
  np.testing.assert_array_equal(model(x)["sequence_output"], model(x, training=False)["sequence_output"])
  assert not np.allclose(model(x, training=True)["sequence_output"], model(x)["sequence_output"])


def test_config_reads_google_and_hugging_face_json(tmp_path, minilm_dir):
  google = dict(GOOGLE_TINY, directionality="bidi", pooler_type="first_token_transform")
  (tmp_path / "bert_config.json").write_text(json.dumps(google))
  config = BertConfig.from_json_file(tmp_path / "bert_config.json")
  assert config.hidden_act == "gelu" and config.layer_norm_eps == 1e-12 and config.type_vocab_size == 3
  hf = BertConfig.from_json_file(minilm_dir + "/config.json")
  assert (hf.hidden_act, hf.num_hidden_layers, hf.hidden_size, hf.vocab_size) == ("gelu_exact", 6, 384, 30522)
  config.to_json_file(tmp_path / "again.json")
  assert BertConfig.from_json_file(tmp_path / "again.json") == config


def test_config_rejects_unknown_keys(tmp_path):
  (tmp_path / "bad.json").write_text(json.dumps(dict(GOOGLE_TINY, hiden_size=3)))
  with pytest.raises(ValueError, match="bad.json: unknown BERT config keys hiden_size"):
    BertConfig.from_json_file(tmp_path / "bad.json")


def test_hugging_face_config_extras_and_defaults(tmp_path, minilm_dir):
  hf = json.loads(open(minilm_dir + "/config.json").read())
  # transformers writes whatever keys a config was given; those we do not know are logged, not fatal.
  extra = dict(hf, max_length=20, sep_token_id=102, _attn_implementation_autoset=True)
  (tmp_path / "extra.json").write_text(json.dumps(extra))
  assert BertConfig.from_json_file(tmp_path / "extra.json") == BertConfig.from_json_file(minilm_dir + "/config.json")
  # Left-out keys are transformers' defaults (exact gelu, 2 segment types), not Google's.
  minimal = {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 128}
  config = BertConfig.from_dict(minimal)
  assert (config.hidden_act, config.type_vocab_size, config.vocab_size) == ("gelu_exact", 2, 30522)
  with pytest.raises(ValueError, match="decoder.json: a decoder BERT"):
    (tmp_path / "decoder.json").write_text(json.dumps(dict(hf, is_decoder=True)))
    BertConfig.from_json_file(tmp_path / "decoder.json")


def test_google_gelu_is_tanh_form_and_hf_gelu_is_exact():
  x = np.linspace(-4, 4, 101).astype(np.float32)
  google = original_bert.load("modeling").gelu
  import tensorflow as tf
  with original_bert.tf1_graph(), tf.compat.v1.Session() as session:
    expected = session.run(google(tf.constant(x)))
  np.testing.assert_allclose(layers.get_activation("gelu")(x), expected, atol=1e-6)
  assert np.abs(np.asarray(layers.get_activation("gelu_exact")(x)) - expected).max() > 1e-4


def test_keras_save_and_load_round_trip(tmp_path, tiny_config):
  model = BertModel(tiny_config)
  x = _inputs(tiny_config.to_dict(), batch=2, length=6)
  model.save(tmp_path / "bert.keras")
  again = keras.models.load_model(tmp_path / "bert.keras", custom_objects={"BertModel": BertModel})
  np.testing.assert_allclose(again(x)["pooled_output"], model(x)["pooled_output"], atol=1e-6)


def _assert_same_numbers_as_original(tmp_path, config, length):
  """Every layer, with padding, on a random Google checkpoint: <= 1e-5 max abs difference."""
  ckpt = original_bert.make_google_checkpoint(config, str(tmp_path / "bert_model.ckpt"), seed=3,
                                              with_pretraining_heads=False)
  x = _inputs(config, length=length)
  expected = original_bert.run_original_model(config, ckpt, **x)
  model = BertModel(BertConfig.from_json_file(tmp_path / "bert_config.json"))
  status = checkpoints.load_checkpoint(model, ckpt)
  assert not status.missing and not status.unused
  out = model(x)
  real = x["input_mask"].astype(bool)  # the original leaves padded positions unspecified too
  for name in ("embedding_output", "sequence_output"):
    np.testing.assert_allclose(np.asarray(out[name])[real], expected[name][real], atol=1e-5, rtol=0, err_msg=name)
  for i, (ours, theirs) in enumerate(zip(out["encoder_outputs"], expected["encoder_outputs"])):
    np.testing.assert_allclose(np.asarray(ours)[real], theirs[real], atol=1e-5, rtol=0, err_msg="layer %d" % i)
  np.testing.assert_allclose(out["pooled_output"], expected["pooled_output"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("hidden_act", ["gelu", "relu"])
def test_same_numbers_as_original_modeling(tmp_path, hidden_act):
  _assert_same_numbers_as_original(tmp_path, dict(GOOGLE_TINY, hidden_act=hidden_act), length=11)


def test_same_numbers_as_original_modeling_on_a_larger_checkpoint(tmp_path):
  """4 layers of width 128, sequence 64 with padding: float32 drift would show as 3-9e-6 per layer."""
  _assert_same_numbers_as_original(tmp_path, GOOGLE_LARGER, length=64)
