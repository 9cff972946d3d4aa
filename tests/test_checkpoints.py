"""load_checkpoint / save_google_checkpoint: real MiniLM weights, round trips, and clear errors."""
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from safetensors.numpy import save_file

from bert_tf2 import checkpoints
from bert_tf2.interop import hf_weights
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tasks.pretraining.model import BertPretrainer
from bert_tf2 import tokenization
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


@pytest.mark.slow  # ~5 s; suite time
def test_stacked_checkpoint_repeats_the_layers(tmp_path):
  """Progressive stacking: a 2-layer checkpoint into a 4-layer model -> layers 0,1,0,1; the rest by name."""
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


HF_TORCH = os.path.join(os.path.dirname(__file__), "data", "hf_torch_tiny")


def test_pytorch_bin_loads_without_torch_and_matches_transformers():
  """pytorch_model.bin (torch.save of BertForPreTraining, made by tests/make_hf_torch_fixture.py) ->
  BertPretrainer gives transformers' encoder, pooler, masked-LM and NSP outputs."""
  ref = np.load(os.path.join(HF_TORCH, "reference.npz"))
  config = BertConfig.from_json_file(os.path.join(HF_TORCH, "fp32", "config.json"))
  model = BertPretrainer(config)
  status = checkpoints.load_checkpoint(model, os.path.join(HF_TORCH, "fp32"))
  assert not status.missing and not status.unused and len(status.loaded) == len(model.weights)
  out = model({"input_ids": ref["input_ids"], "input_mask": ref["attention_mask"],
               "segment_ids": ref["token_type_ids"], "masked_lm_positions": ref["masked_lm_positions"]})
  real = ref["attention_mask"].astype(bool)
  np.testing.assert_allclose(np.asarray(out["sequence_output"])[real], ref["last_hidden_state"][real], atol=1e-5)
  np.testing.assert_allclose(out["pooled_output"], ref["pooler_output"], atol=1e-5)
  np.testing.assert_allclose(out["masked_lm_logits"], ref["prediction_logits"], atol=1e-5)
  np.testing.assert_allclose(out["next_sentence_logits"], ref["seq_relationship_logits"], atol=1e-5)


def test_sharded_bfloat16_pytorch_bin_and_safetensors_give_the_same_weights(tmp_path):
  fp32 = hf_weights.read_hf_tensors(os.path.join(HF_TORCH, "fp32"))
  bf16 = hf_weights.read_hf_tensors(os.path.join(HF_TORCH, "bf16"))
  assert sorted(bf16) == sorted(fp32) and len(fp32) > 30
  for name, value in fp32.items():
    np.testing.assert_array_equal(bf16[name].astype(np.float32),
                                  value.astype(tf.bfloat16.as_numpy_dtype).astype(np.float32), err_msg=name)
  # The same tensors as sharded safetensors (safetensors' own writer) load into the same model weights.
  names = sorted(fp32)
  save_file({k: fp32[k] for k in names[:10]}, str(tmp_path / "model-00001-of-00002.safetensors"))
  save_file({k: fp32[k] for k in names[10:]}, str(tmp_path / "model-00002-of-00002.safetensors"))
  weight_map = {k: "model-0000%d-of-00002.safetensors" % (1 if i < 10 else 2) for i, k in enumerate(names)}
  (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
  config = BertConfig.from_json_file(os.path.join(HF_TORCH, "fp32", "config.json"))
  from_bin, from_safetensors = BertModel(config), BertModel(config)
  checkpoints.load_checkpoint(from_bin, os.path.join(HF_TORCH, "fp32"))
  checkpoints.load_checkpoint(from_safetensors, str(tmp_path))
  for a, b in zip(from_bin.weights, from_safetensors.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_pytorch_bin_with_foreign_objects_is_refused(tmp_path):
  """The whitelisting unpickler never calls what a pickle names (torch.load's arbitrary-code risk)."""
  with zipfile.ZipFile(tmp_path / "pytorch_model.bin", "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"w": os.system}))
  with pytest.raises(ValueError, match=r"pytorch_model.bin: unexpected object \w+\.system"):
    hf_weights.read_hf_tensors(str(tmp_path))
  (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02legacy")
  with pytest.raises(ValueError, match="not a zip-format PyTorch file"):
    hf_weights.read_hf_tensors(str(tmp_path))


@pytest.mark.slow  # ~10 s; suite time
def test_transplanted_vocabulary_keeps_the_encoder_and_shared_token_rows(tmp_path):
  """Cross-lingual transfer: new vocab rows for a pretrained encoder (here the PyTorch fixture)."""
  source_dir = os.path.join(HF_TORCH, "fp32")
  source_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(5, 120)]
  (tmp_path / "source_vocab.txt").write_text("\n".join(source_tokens) + "\n")
  target_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "w7", "好", "w100", "不", "错", "w5", "很"]
  (tmp_path / "vocab.txt").write_text("\n".join(target_tokens) + "\n")
  config = BertConfig.from_json_file(os.path.join(source_dir, "config.json")).copy(vocab_size=len(target_tokens))
  model = BertPretrainer(config)
  status, copied = checkpoints.load_transplanted_checkpoint(
      model, source_dir, str(tmp_path / "source_vocab.txt"), str(tmp_path / "vocab.txt"))
  assert copied == 8 and not status.missing and not status.unused
  source = hf_weights.read_hf_tensors(source_dir)
  table, bias = model.encoder.embeddings.word_embeddings.embeddings.numpy(), model.masked_lm.output_bias.numpy()
  for i, token in enumerate(target_tokens):
    if token in source_tokens:
      j = source_tokens.index(token)
      np.testing.assert_array_equal(table[i], source["bert.embeddings.word_embeddings.weight"][j])
      assert bias[i] == source["cls.predictions.bias"][j]
    else:
      assert not np.isin(table[i], source["bert.embeddings.word_embeddings.weight"]).any()
      np.testing.assert_allclose(bias[i], source["cls.predictions.bias"].mean(), rtol=1e-6)
  np.testing.assert_array_equal(model.encoder.encoder_layers[1].weights[0].numpy(),
                                source["bert.encoder.layer.1.attention.self.query.weight"].T)
  # The script writes the same as a Google checkpoint; a vocab of the wrong length is one clear line.
  config.to_json_file(tmp_path / "config.json")
  script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts", "transplant_vocab.py")
  args = [sys.executable, script, "--init_checkpoint=" + source_dir, "--source_vocab_file=%s/source_vocab.txt" % tmp_path,
          "--vocab_file=%s/vocab.txt" % tmp_path, "--bert_config_file=%s/config.json" % tmp_path,
          "--output_file=%s/out/bert_model.ckpt" % tmp_path]
  done = subprocess.run(args, capture_output=True, text=True, check=True)
  assert "8 of 12 token rows copied" in done.stdout
  written = checkpoints.google_checkpoint_arrays(str(tmp_path / "out" / "bert_model.ckpt"))
  np.testing.assert_array_equal(written["bert/embeddings/word_embeddings"], table)
  (tmp_path / "vocab.txt").write_text("\n".join(target_tokens[:-1]) + "\n")
  failed = subprocess.run(args, capture_output=True, text=True)
  assert failed.returncode == 1
  assert failed.stderr.strip().splitlines()[-1] == (
      "transplant_vocab: error: %s/vocab.txt: 11 tokens but the model's vocab_size is 12" % tmp_path)


def test_from_pretrained_is_the_config_the_vocab_and_the_weights_in_one_call(bert_base_dir, minilm_dir):
  from bert_tf2 import modeling  # pylint: disable=g-import-not-at-top
  from bert_tf2.modeling import BertConfig, BertModel  # pylint: disable=g-import-not-at-top
  for path, config_name, lower in ((bert_base_dir, "bert_config.json", True), (minilm_dir, "config.json", True)):
    model, tokenizer, found = modeling.from_pretrained(path)
    reference = BertModel(BertConfig.from_json_file(os.path.join(path, config_name)))
    assert not checkpoints.load_checkpoint(reference, path).missing
    for got, want in zip(model.weights, reference.weights):
      np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert found["vocab_file"] == os.path.join(path, "vocab.txt") and found["do_lower_case"] is lower
    assert tokenizer.vocab == tokenization.load_vocab(found["vocab_file"])
    assert tokenizer.basic_tokenizer.do_lower_case is lower
