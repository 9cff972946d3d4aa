"""BertTagger (softmax and CRF heads), windowed prediction, and its raw-text SavedModel."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2.tasks.tagging import crf
from bert_tf2.tasks.tagging import model as tagging
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import export as tagging_export
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.tagging.model import BertTagger
from bert_tf2.tokenization import FullTokenizer

CHARS = list("江泽民在北京上海新华社记者报道中国人民银行") + ["ｉ", "１", "a", "b", "##b", "##c"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS
LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
CONFIG = dict(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)
# Whitespace, an unknown character, full-width and Latin letters, a control character, a text of 70
# characters (longer than the 8-piece windows below) with sentence ends and newlines inside.
TEXTS = ["江泽民在北京", "新华社 记者\t报道：ｉ１ab", "", "中国人民银行\x00在上海" * 4 + "。！\n江泽民在北京？" * 3, " "]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  return str(path)


@pytest.fixture(scope="module")
def models():
  keras.utils.set_random_seed(1)
  softmax = BertTagger(BertConfig(**CONFIG), len(LABELS))
  with_crf = BertTagger(BertConfig(**CONFIG), len(LABELS), use_crf=True, crf_lr_multiplier=1.0)
  rng = np.random.default_rng(0)
  for weight in (with_crf.crf.transitions, with_crf.crf.start_transitions, with_crf.crf.end_transitions):
    weight.assign(rng.normal(size=weight.shape).astype(np.float32))
  # Larger output weights than the init's, so that tags vary along a text.
  for model in (softmax, with_crf):
    model.output_weights.assign(rng.normal(size=model.output_weights.shape).astype(np.float32))
  return {"softmax": softmax, "crf": with_crf}


def test_crf_head_decodes_the_tagged_positions_by_viterbi(models):
  model = models["crf"]
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(2, 6, len(LABELS))).astype(np.float32)
  mask = np.array([[0, 1, 0, 1, 1, 0], [0, 1, 1, 0, 0, 0]], np.int32)
  got = model.decode(logits, mask).numpy()
  params = [w.numpy() for w in (model.crf.transitions, model.crf.start_transitions, model.crf.end_transitions)]
  for b in range(2):
    positions = np.flatnonzero(mask[b])
    expected, _ = crf.viterbi_decode(logits[b:b + 1, positions], [len(positions)], *params)
    assert got[b, positions].tolist() == expected.numpy()[0].tolist()
    assert np.all(got[b][mask[b] == 0] == 0)


def test_losses_count_only_tagged_positions(models):
  logits = np.random.default_rng(2).normal(size=(1, 4, len(LABELS))).astype(np.float32)
  labels, mask = np.array([[0, 3, 5, 0]]), np.array([[0, 1, 1, 0]])
  expected = -np.mean([tf.nn.log_softmax(logits[0, i])[labels[0, i]] for i in (1, 2)])
  assert models["softmax"].tagging_loss(logits, labels, mask).numpy() == pytest.approx(expected, rel=1e-5)
  crf_model = models["crf"]
  log_likelihood = crf_model.crf.log_likelihood(logits[:, 1:3], labels[:, 1:3], [2]).numpy()[0]
  assert crf_model.tagging_loss(logits, labels, mask).numpy() == pytest.approx(-log_likelihood / 2, rel=1e-5)


def test_tagger_config_and_keras_file_round_trip(models, tmp_path):
  model = models["crf"]
  path = str(tmp_path / "tagger.keras")
  model.save(path)
  loaded = keras.models.load_model(path)  # registered: no custom_objects
  assert isinstance(loaded, BertTagger) and loaded.use_crf and loaded.num_labels == len(LABELS)
  inputs = {"input_ids": np.array([[2, 5, 6, 3]]), "input_mask": np.ones((1, 4)), "segment_ids": np.zeros((1, 4))}
  np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-6)
  np.testing.assert_array_equal(loaded.crf.transitions.numpy(), model.crf.transitions.numpy())


def test_training_steps_fit_a_tiny_tagging_set(vocab_file):
  tokenizer = FullTokenizer(vocab_file)
  examples = [tagging_data.TaggingExample(str(i), list("江泽民在北京"), ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"])
              for i in range(4)]
  arrays = tagging_data.features_to_arrays(tagging_data.convert_examples_to_features(examples, LABELS, 10, tokenizer))
  keras.utils.set_random_seed(0)
  model = BertTagger(BertConfig(**CONFIG), len(LABELS), use_crf=True)
  optimizer = keras.optimizers.Adam(1e-2)
  batch = {k: tf.constant(v) for k, v in arrays.items()}

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss, _ = tagging.loss_fn(model, batch, True)
    optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
    return loss

  losses = [float(step()) for _ in range(30)]
  assert losses[-1] < 0.2 * losses[0]
  assert tagging.predict_examples(model, examples[:1], LABELS, 10, tokenizer, 4) == [examples[0].tags]


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_windowed_prediction_equals_one_pass_when_the_text_fits(models, vocab_file, head):
  model = models[head]
  tokenizer = FullTokenizer(vocab_file)
  text = "新华社记者在北京报道中国人民银行"
  [tags] = tagging.tag_texts(model, [text], LABELS, 32, tokenizer, doc_stride=3)
  ids = tokenizer.convert_tokens_to_ids(["[CLS]"] + list(text) + ["[SEP]"])
  inputs = {"input_ids": np.array([ids]), "input_mask": np.ones((1, len(ids)), np.int32),
            "segment_ids": np.zeros((1, len(ids)), np.int32)}
  mask = np.array([[0] + [1] * len(text) + [0]])
  one_pass = model.decode(model(inputs, training=False), mask).numpy()[0, 1:-1]
  assert tags == [LABELS[i] for i in one_pass]
  assert len(set(tags)) > 1  # the check means something only if the tags vary


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
    out[key + "/" + name] = [[s.decode() for s in row] for row in value] if value.dtype == object else value.tolist()
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow  # ~20 s; the default run exports a tagger through run_ner.py and loads exports in fresh
# processes in test_question_answering / test_keras_serialization
def test_export_serves_raw_text_of_any_length_in_a_fresh_process(models, vocab_file, tmp_path):
  tokenizer = FullTokenizer(vocab_file)
  dirs, expected, request = {}, {}, {}
  for head, model in models.items():
    dirs[head] = tagging_export.export_tagger(model, str(tmp_path / head), vocab_file, True, 10, 3, LABELS)
    expected[head] = tagging.tag_texts(model, TEXTS, LABELS, 10, tokenizer, doc_stride=3)
    request[head] = (dirs[head], "serving_default", {"text": TEXTS})
  features = tagging_data.convert_examples_to_features([tagging_data.char_example(TEXTS[0])], LABELS, 10, tokenizer)
  arrays = tagging_data.features_to_arrays(features)
  request["ids"] = (dirs["crf"], "serve_ids", {k: arrays[k].tolist() for k in ("input_ids", "input_mask",
                                                                               "segment_ids", "label_mask")})
  run = subprocess.run([sys.executable, "-c", SERVE, json.dumps(request)], capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  served = json.loads(run.stdout.split("RESULT", 1)[1])
  for head in models:
    width = max(len(t) for t in TEXTS)
    assert served[head + "/tags"] == [tags + [""] * (width - len(tags)) for tags in expected[head]]
    assert served[head + "/lengths"] == [len(t) for t in TEXTS]
    assert len({t for row in expected[head] for t in row}) > 2
  # Whitespace and the control character get O; the long text used several windows.
  assert served["crf/tags"][1][3] == "O" and served["crf/tags"][3][6] == "O"
  assert len(features) == 1 and served["ids/tag_ids"][0] == tagging.predict_tag_ids(models["crf"], arrays, 8)[0].tolist()
  entities = tagging_export.entities(TEXTS[3], [t.encode() for t in served["crf/tags"][3]])
  assert entities == [(k, s, e, TEXTS[3][s:e]) for k, s, e, _ in entities]


def test_serving_graph_takes_batches_without_any_character(models, vocab_file):
  module = tagging_export.TaggerModule(models["crf"], vocab_file, True, 10, 3, LABELS)
  for batch, width in (([""], 0), (["", " "], 1), ([], 0)):
    out = module.tag_text(tf.constant(batch, tf.string))
    assert out["tags"].shape == (len(batch), width)
    assert out["lengths"].numpy().tolist() == [len(t) for t in batch]
