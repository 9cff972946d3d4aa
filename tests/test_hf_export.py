"""save_hf_checkpoint: Hugging Face directories that transformers loads with our numbers, and that load back.

The transformers side ran once, outside the suite (tests/make_hf_export_fixtures.py exported the
directories in tests/data/hf_export/, tests/make_hf_export_reference.py ran transformers on them in a
torch venv); here our models and tokenizer are compared with its arrays.
"""

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file

from bert_tf2 import checkpoints
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tasks.pretraining.model import BertPretrainer
from bert_tf2.tasks.squad.model import BertQuestionAnswerer
from bert_tf2.tasks.tagging.model import BertTagger
from bert_tf2.tokenization import FullTokenizer
from tests import original_bert

DATA = os.path.join(os.path.dirname(__file__), "data", "hf_export")
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference():
  return np.load(os.path.join(DATA, "reference.npz"))


@pytest.fixture(scope="module")
def sentences():
  with open(os.path.join(DATA, "sentences.json"), encoding="utf-8") as f:
    return json.load(f)


def _pack(tokenizer, texts, pairs, length):
  """[CLS] a [SEP] (b [SEP]) ids, mask and segments, zero-padded to `length` (no truncation needed here)."""
  rows = {"input_ids": [], "input_mask": [], "segment_ids": []}
  for i, text in enumerate(texts):
    a = ["[CLS]"] + tokenizer.tokenize(text) + ["[SEP]"]
    b = tokenizer.tokenize(pairs[i]) + ["[SEP]"] if pairs else []
    ids = tokenizer.convert_tokens_to_ids(a + b)
    pad = [0] * (length - len(ids))
    rows["input_ids"].append(ids + pad)
    rows["input_mask"].append([1] * len(ids) + pad)
    rows["segment_ids"].append([0] * len(a) + [1] * len(b) + pad)
  return {k: np.array(v, np.int32) for k, v in rows.items()}


def _assert_same_inputs(ours, reference, name):
  """Our tokenizer on the exported vocab.txt gives the ids transformers' AutoTokenizer gave."""
  np.testing.assert_array_equal(ours["input_ids"], reference[name + "/input_ids"])
  np.testing.assert_array_equal(ours["input_mask"], reference[name + "/attention_mask"])
  np.testing.assert_array_equal(ours["segment_ids"], reference[name + "/token_type_ids"])


def _assert_encoder_close(out, reference, name, mask):
  real = mask.astype(bool)
  np.testing.assert_allclose(np.asarray(out["sequence_output"])[real],
                             reference[name + "/last_hidden_state"][real], atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(out["pooled_output"], reference[name + "/pooler_output"], atol=TOLERANCE, rtol=0)


def _model_from(directory, build, missing=()):
  model = build(BertConfig.from_json_file(os.path.join(directory, "config.json")))
  status = checkpoints.load_checkpoint(model, directory)
  assert sorted(status.missing) == sorted(missing) and not status.unused
  return model


POOLER = ("bert.pooler.dense.weight", "bert.pooler.dense.bias")  # transformers' tagger and QA models have none


def test_transformers_bert_for_pretraining_gives_our_numbers(reference, sentences):
  """Chinese, Google's tanh gelu ("gelu_new"): encoder, masked-LM and NSP logits within 1e-5."""
  directory = os.path.join(DATA, "zh_pretrainer")
  with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["hidden_act"] == "gelu_new"
  chinese = sentences["chinese"]
  length = reference["zh_pretrainer/input_ids"].shape[1]
  inputs = _pack(FullTokenizer(os.path.join(directory, "vocab.txt"), do_lower_case=True), chinese, chinese[::-1],
                 length)
  _assert_same_inputs(inputs, reference, "zh_pretrainer")
  model = _model_from(directory, BertPretrainer)
  out = model(dict(inputs, masked_lm_positions=reference["zh_pretrainer/masked_lm_positions"]), training=False)
  _assert_encoder_close(out, reference, "zh_pretrainer", inputs["input_mask"])
  np.testing.assert_allclose(out["masked_lm_logits"], reference["zh_pretrainer/prediction_logits"],
                             atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(out["next_sentence_logits"], reference["zh_pretrainer/seq_relationship_logits"],
                             atol=TOLERANCE, rtol=0)


def test_transformers_bert_for_sequence_classification_gives_our_numbers(reference, sentences):
  """English cased, exact erf gelu ("gelu"): encoder and logits within 1e-5, labels by name."""
  directory = os.path.join(DATA, "en_classifier")
  with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
    config = json.load(f)
  assert config["hidden_act"] == "gelu" and config["architectures"] == ["BertForSequenceClassification"]
  assert list(reference["en_classifier/labels"]) == sentences["labels"]
  english = sentences["english"]
  length = reference["en_classifier/input_ids"].shape[1]
  inputs = _pack(FullTokenizer(os.path.join(directory, "vocab.txt"), do_lower_case=False), english,
                 english[1:] + english[:1], length)
  _assert_same_inputs(inputs, reference, "en_classifier")
  model = _model_from(directory, lambda config: BertClassifier(config, 3))
  np.testing.assert_allclose(model(inputs, training=False), reference["en_classifier/logits"], atol=TOLERANCE, rtol=0)
  _assert_encoder_close(model.encoder(inputs, training=False), reference, "en_classifier", inputs["input_mask"])


def test_transformers_token_classification_and_question_answering_give_our_numbers(reference, sentences):
  """A softmax BertTagger (Chinese, tanh gelu) and a BertQuestionAnswerer (English, exact gelu)."""
  directory = os.path.join(DATA, "zh_tagger")
  with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
    config = json.load(f)
  assert config["architectures"] == ["BertForTokenClassification"]
  assert [config["id2label"][str(i)] for i in range(5)] == list(reference["zh_tagger/tags"]) == sentences["tags"]
  chinese = sentences["chinese"]
  inputs = _pack(FullTokenizer(os.path.join(directory, "vocab.txt"), do_lower_case=True), chinese, None,
                 reference["zh_tagger/input_ids"].shape[1])
  _assert_same_inputs(inputs, reference, "zh_tagger")
  tagger = _model_from(directory, lambda config: BertTagger(config, len(sentences["tags"])), POOLER)
  real = inputs["input_mask"].astype(bool)
  np.testing.assert_allclose(np.asarray(tagger(inputs, training=False))[real], reference["zh_tagger/logits"][real],
                             atol=TOLERANCE, rtol=0)

  directory = os.path.join(DATA, "en_qa")
  english = sentences["english"]
  inputs = _pack(FullTokenizer(os.path.join(directory, "vocab.txt"), do_lower_case=False), english,
                 english[1:] + english[:1], reference["en_qa/input_ids"].shape[1])
  _assert_same_inputs(inputs, reference, "en_qa")
  out = _model_from(directory, BertQuestionAnswerer, POOLER)(inputs, training=False)
  real = inputs["input_mask"].astype(bool)
  for name in ("start_logits", "end_logits"):
    np.testing.assert_allclose(np.asarray(out[name])[real], reference["en_qa/" + name][real], atol=TOLERANCE, rtol=0)


def test_crf_tagger_is_refused(tmp_path, tiny_config):
  with pytest.raises(ValueError, match="BertForTokenClassification has no CRF"):
    checkpoints.save_hf_checkpoint(BertTagger(tiny_config, 3, use_crf=True), str(tmp_path / "hf"))
  assert not os.path.exists(tmp_path / "hf")


def test_exported_minilm_gives_transformers_numbers(tmp_path, reference, sentences, minilm_dir):
  """all-MiniLM-L6-v2 -> ours -> exported: transformers ran the export bit-identical to the original."""
  assert float(reference["minilm/max_diff_vs_original"]) == 0.0
  model = _model_from(minilm_dir, BertModel)
  exported = checkpoints.save_hf_checkpoint(model, str(tmp_path / "minilm"),
                                            vocab_file=os.path.join(minilm_dir, "vocab.txt"), do_lower_case=True)
  for weight in model.weights:  # load back into the same model (building a second MiniLM is slow), wiped first
    weight.assign(np.zeros(weight.shape, np.float32))
  status = checkpoints.load_checkpoint(model, exported)
  assert len(status.loaded) == len(model.weights) and not status.missing and not status.unused
  again = model
  texts = sentences["english"] + sentences["chinese"]
  inputs = _pack(FullTokenizer(os.path.join(exported, "vocab.txt"), do_lower_case=True), texts, None,
                 reference["minilm/input_ids"].shape[1])
  _assert_same_inputs(inputs, reference, "minilm")
  _assert_encoder_close(again(inputs, training=False), reference, "minilm", inputs["input_mask"])


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_exact"])
def test_google_checkpoint_to_hf_and_back_is_identical(tmp_path, tiny_config, hidden_act):
  """Google TF1 checkpoint (original code) -> BertPretrainer -> HF directory -> load_checkpoint: same bits."""
  config = tiny_config.copy(hidden_act=hidden_act)  # the original knows "gelu" only; weights do not depend on it
  ckpt = original_bert.make_google_checkpoint(tiny_config.to_dict(), str(tmp_path / "google" / "bert_model.ckpt"), seed=5)
  model = BertPretrainer(config)
  checkpoints.load_checkpoint(model, ckpt)
  directory = checkpoints.save_hf_checkpoint(model, str(tmp_path / "hf"))
  assert BertConfig.from_json_file(os.path.join(directory, "config.json")) == config
  again = _model_from(directory, BertPretrainer)
  for ours, theirs in zip(model.weights, again.weights):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
  rng = np.random.default_rng(0)
  x = {"input_ids": rng.integers(0, config.vocab_size, (2, 9)).astype(np.int32), "input_mask": np.ones((2, 9), np.int32),
       "segment_ids": np.zeros((2, 9), np.int32), "masked_lm_positions": np.array([[1, 2], [3, 4]], np.int32)}
  for name in ("sequence_output", "pooled_output", "masked_lm_logits", "next_sentence_logits"):
    np.testing.assert_array_equal(model(x)[name], again(x)[name])


@pytest.mark.parametrize("name, build, labels", [
    ("zh_pretrainer", BertPretrainer, None),
    ("en_classifier", lambda config: BertClassifier(config, 3), "labels"),
    ("zh_tagger", lambda config: BertTagger(config, 5), "tags"),
    ("en_qa", BertQuestionAnswerer, None)])
def test_export_of_a_loaded_fixture_reproduces_its_files(tmp_path, name, build, labels, sentences):
  """What transformers accepted is what save_hf_checkpoint writes today: same config, tokenizer files, tensors."""
  directory = os.path.join(DATA, name)
  model = _model_from(directory, build, POOLER if name in ("zh_tagger", "en_qa") else ())
  out = checkpoints.save_hf_checkpoint(model, str(tmp_path / name), vocab_file=os.path.join(directory, "vocab.txt"),
                                       do_lower_case=name.startswith("zh"),
                                       label_list=sentences[labels] if labels else None)
  for file in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
    with open(os.path.join(directory, file), encoding="utf-8") as f, open(os.path.join(out, file), encoding="utf-8") as g:
      assert f.read() == g.read(), file
  ours, fixture = load_file(os.path.join(out, "model.safetensors")), load_file(os.path.join(directory, "model.safetensors"))
  assert sorted(ours) == sorted(fixture)
  for key in fixture:
    np.testing.assert_array_equal(ours[key], fixture[key], err_msg=key)
  assert not [f for f in os.listdir(out) if ".tmp-" in f]


def test_tokenizer_config_follows_do_lower_case(tmp_path, tiny_config):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n[UNK]\nhello\n", encoding="utf-8")
  directory = checkpoints.save_hf_checkpoint(BertModel(tiny_config), str(tmp_path / "hf"), vocab_file=str(vocab),
                                             do_lower_case=False)
  with open(os.path.join(directory, "tokenizer_config.json"), encoding="utf-8") as f:
    settings = json.load(f)
  assert (settings["do_lower_case"], settings["strip_accents"], settings["tokenize_chinese_chars"]) == (False, False, True)
  # The repeated [UNK] line takes no id in load_vocab; the written vocab.txt has the ids we use.
  with open(os.path.join(directory, "vocab.txt"), encoding="utf-8") as f:
    assert f.read().split("\n")[5] == "hello"


def test_bad_exports_are_clear_errors(tmp_path, tiny_config):
  model = BertClassifier(tiny_config, 2)
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\nhello\n", encoding="utf-8")
  with pytest.raises(ValueError, match="vocab.txt: vocab is missing BERT's special tokens .*SEP"):
    checkpoints.save_hf_checkpoint(model, str(tmp_path / "a"), vocab_file=str(vocab), do_lower_case=True)
  vocab.write_text("".join("[%s]\n" % t for t in ("PAD", "UNK", "CLS", "SEP", "MASK")) +
                   "".join("w%d\n" % i for i in range(tiny_config.vocab_size)), encoding="utf-8")
  with pytest.raises(ValueError, match="vocab.txt: 45 tokens but the model has only 40 word embeddings"):
    checkpoints.save_hf_checkpoint(model, str(tmp_path / "b"), vocab_file=str(vocab), do_lower_case=True)
  with pytest.raises(ValueError, match="do_lower_case is required"):
    checkpoints.save_hf_checkpoint(model, str(tmp_path / "c"), vocab_file=str(vocab))
  with pytest.raises(ValueError, match="label_list has 3 labels but the classifier has 2 outputs"):
    checkpoints.save_hf_checkpoint(model, str(tmp_path / "d"), label_list=["a", "b", "c"])
  (tmp_path / "e").mkdir()
  (tmp_path / "e" / "pytorch_model.bin").write_bytes(b"")
  with pytest.raises(ValueError, match="holds pytorch_model.bin of another model"):
    checkpoints.save_hf_checkpoint(model, str(tmp_path / "e"))
