"""load_checkpoint / save_google_checkpoint: real MiniLM weights, round trips, and clear errors."""
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tokenization import FullTokenizer

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "minilm_reference.npz")


@pytest.fixture(scope="module")
def minilm(minilm_dir):
  model = BertModel(BertConfig.from_json_file(os.path.join(minilm_dir, "config.json")))
  status = checkpoints.load_checkpoint(model, minilm_dir)
  assert len(status.loaded) == 103 and not status.missing and not status.unused
  return model


def test_minilm_matches_sentence_transformers(minilm, minilm_dir):
  """FullTokenizer + BertModel + masked mean + L2 norm == sentence-transformers (torch), reference arrays."""
  ref = np.load(REFERENCE)
  tokenizer = FullTokenizer(os.path.join(minilm_dir, "vocab.txt"), do_lower_case=True)
  ids = np.zeros_like(ref["input_ids"])
  for i, sentence in enumerate(ref["sentences"]):
    row = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(str(sentence)) + ["[SEP]"])
    ids[i, :len(row)] = row
  np.testing.assert_array_equal(ids, ref["input_ids"])
  mask = ref["attention_mask"]
  out = minilm({"input_ids": ids, "input_mask": mask, "segment_ids": ref["token_type_ids"]})
  real = mask.astype(bool)
  np.testing.assert_allclose(np.asarray(out["sequence_output"])[real], ref["last_hidden_state"][real], atol=1e-5)
  np.testing.assert_allclose(out["pooled_output"], ref["pooler_output"], atol=1e-5)
  pooled = (np.asarray(out["sequence_output"]) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
  pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
  cosine = (pooled * ref["embeddings"]).sum(1) / np.linalg.norm(ref["embeddings"], axis=1)
  assert cosine.min() >= 0.99999, cosine


def test_save_google_checkpoint_round_trip(tmp_path, tiny_config):
  model = BertModel(tiny_config)
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "out" / "bert_model.ckpt"))
  names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  assert "bert/encoder/layer_1/attention/self/query/kernel" in names and len(names) == 39
  again = BertModel(BertConfig.from_json_file(tmp_path / "out" / "bert_config.json"))
  status = checkpoints.load_checkpoint(again, prefix)
  assert not status.missing and not status.unused
  x = {"input_ids": np.array([[2, 5, 7, 3, 0]], np.int32), "input_mask": np.array([[1, 1, 1, 1, 0]], np.int32),
       "segment_ids": np.array([[0, 0, 1, 1, 0]], np.int32)}
  for name in ("sequence_output", "pooled_output"):
    np.testing.assert_array_equal(again(x)[name], model(x)[name])
  assert not [f for f in os.listdir(tmp_path / "out") if ".tmp" in f]


def test_optimizer_slots_ignored_and_missing_reported(tmp_path, tiny_config):
  model = BertModel(tiny_config)
  table = checkpoints.variable_table(model)
  kept = [e for e in table if e.google != "bert/pooler/dense/bias"]
  names = [e.google for e in kept] + [kept[0].google + "/adam_m", "global_step", "cls/extra"]
  tensors = [tf.convert_to_tensor(e.variable) for e in kept] + [tf.zeros(kept[0].variable.shape),
                                                                tf.constant(7, tf.int64), tf.zeros([2])]
  tf.raw_ops.SaveV2(prefix=str(tmp_path / "ckpt"), tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=tensors)
  status = checkpoints.load_checkpoint(BertModel(tiny_config), str(tmp_path / "ckpt"))
  assert status.missing == ["bert/pooler/dense/bias"]
  assert status.unused == ["cls/extra"]


def test_shape_mismatch_names_variable_and_shapes(tmp_path, tiny_config):
  prefix = checkpoints.save_google_checkpoint(BertModel(tiny_config), str(tmp_path / "bert_model.ckpt"))
  bigger = BertModel(tiny_config.copy(vocab_size=41))
  with pytest.raises(ValueError, match=r"bert/embeddings/word_embeddings has shape \(40, 16\) but the model "
                                       r"expects \(41, 16\)"):
    checkpoints.load_checkpoint(bigger, prefix)


def test_missing_checkpoint_is_a_clear_error(tmp_path, tiny_config):
  with pytest.raises(ValueError, match="no checkpoint at this prefix"):
    checkpoints.load_checkpoint(BertModel(tiny_config), str(tmp_path / "nothing.ckpt"))


def test_stacked_checkpoint_repeats_the_layers(tmp_path):
  """Progressive stacking: a 2-layer checkpoint into a 4-layer model -> layers 0,1,0,1; the rest by name."""
  import subprocess
  import sys
  from bert_tf2.pretraining import BertPretrainer
  shallow = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=32, max_position_embeddings=32)
  source = BertPretrainer(shallow)
  prefix = checkpoints.save_google_checkpoint(source, str(tmp_path / "shallow" / "bert_model.ckpt"))
  deep_config = tmp_path / "deep.json"
  shallow.copy(num_hidden_layers=4).to_json_file(str(deep_config))
  out = str(tmp_path / "deep" / "bert_model.ckpt")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  subprocess.run([sys.executable, os.path.join(root, "scripts", "stack_checkpoint.py"), "--init_checkpoint=" + prefix,
                  "--bert_config_file=%s" % deep_config, "--output_file=" + out], check=True, cwd=root)
  src, deep = checkpoints.google_checkpoint_arrays(prefix), checkpoints.google_checkpoint_arrays(out)
  assert len(deep) == len(src) + 16 * 2  # 16 variables a layer
  for name, value in deep.items():
    source_name = name.replace("layer_2/", "layer_0/").replace("layer_3/", "layer_1/")
    np.testing.assert_array_equal(value, src[source_name], err_msg=name)
  assert not np.array_equal(src["bert/encoder/layer_0/output/dense/kernel"],
                            src["bert/encoder/layer_1/output/dense/kernel"])
  with pytest.raises(ValueError, match="2 encoder layers, which does not divide the model's 3"):
    checkpoints.load_stacked_checkpoint(BertPretrainer(shallow.copy(num_hidden_layers=3)), prefix)
