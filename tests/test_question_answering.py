"""BertQuestionAnswerer against the original run_squad.create_model, and its raw-text SavedModel."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, tokenization
from bert_tf2 import squad
from bert_tf2.tasks.squad import export as squad_export
from bert_tf2.tasks.squad import predictions as squad_predictions
from bert_tf2.tasks.squad import task as squad_job
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks.squad.model import BertQuestionAnswerer
from tests import original_bert, squad_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}


def _original_span_model(path, inputs, positions, seed=5):
  """The original create_model with random weights (+ noise on every variable), saved under Google's
  names; returns its start/end logits and the loss of its model_fn for `positions`."""
  run_squad = original_bert.load("run_squad")
  modeling = original_bert.load("modeling")
  v1 = tf.compat.v1
  rng = np.random.default_rng(seed)
  with original_bert.tf1_graph():
    v1.set_random_seed(seed)
    start, end = run_squad.create_model(
        modeling.BertConfig.from_dict(CONFIG), False, *(tf.constant(inputs[k]) for k in
                                                        ("input_ids", "input_mask", "segment_ids")), False)
    variables = v1.global_variables()
    assert "cls/squad/output_weights:0" in [v.name for v in variables]
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      session.run([v.assign_add(rng.normal(0, 0.1, v.shape.as_list()).astype(np.float32)) for v in variables])
      v1.train.Saver(variables).save(session, path, write_meta_graph=False, write_state=False)
      start, end = session.run([start, end])

  def compute_loss(logits, positions):  # the original model_fn's
    log_probs = logits - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    return -np.mean(np.sum(np.eye(logits.shape[1])[positions] * log_probs, -1))

  return start, end, (compute_loss(start, positions[0]) + compute_loss(end, positions[1])) / 2


def test_span_logits_and_loss_match_original_create_model(tmp_path):
  rng = np.random.default_rng(0)
  inputs = {"input_ids": rng.integers(0, 40, (3, 12)).astype(np.int32),
            "input_mask": np.array([[1] * 12, [1] * 9 + [0] * 3, [1] * 5 + [0] * 7], np.int32),
            "segment_ids": np.array([[0] * 6 + [1] * 6] * 3, np.int32)}
  positions = (np.array([3, 0, 11]), np.array([5, 0, 11]))
  ckpt = str(tmp_path / "squad_model.ckpt")
  start, end, loss = _original_span_model(ckpt, inputs, positions)
  model = BertQuestionAnswerer(BertConfig.from_dict(CONFIG))
  status = checkpoints.load_checkpoint(model, ckpt)
  assert not status.missing and not status.unused
  outputs = model(inputs, training=False)
  np.testing.assert_allclose(outputs["start_logits"], start, atol=1e-5)
  np.testing.assert_allclose(outputs["end_logits"], end, atol=1e-5)
  assert float(model.span_loss(*positions, outputs)) == pytest.approx(loss, abs=1e-5)


def test_google_checkpoint_holds_the_original_head_names(tmp_path):
  model = BertQuestionAnswerer(BertConfig.from_dict(CONFIG))
  model({k: np.zeros((1, 4), np.int32) for k in ("input_ids", "input_mask", "segment_ids")})
  path = checkpoints.save_google_checkpoint(model, str(tmp_path / "out" / "bert_model.ckpt"))
  shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
  assert shapes["cls/squad/output_weights"] == [2, 16] and shapes["cls/squad/output_bias"] == [2]


def test_hugging_face_question_answering_weights_round_trip(tmp_path):
  """qa_outputs.* (BertForQuestionAnswering, "bert."-prefixed encoder, no pooler) <-> cls/squad."""
  inputs = {k: np.ones((2, 6), np.int32) for k in ("input_ids", "input_mask", "segment_ids")}
  keras.utils.set_random_seed(1)
  ours = BertQuestionAnswerer(BertConfig.from_dict(CONFIG))
  ours(inputs)
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["t%d" % i for i in range(35)]))
  checkpoints.save_hf_checkpoint(ours, str(tmp_path / "hf"), vocab_file=str(vocab_file), do_lower_case=True)
  with open(tmp_path / "hf" / "config.json", encoding="utf-8") as f:
    assert json.load(f)["architectures"] == ["BertForQuestionAnswering"]
  keras.utils.set_random_seed(2)
  restored = BertQuestionAnswerer(BertConfig.from_dict(CONFIG))
  status = checkpoints.load_checkpoint(restored, str(tmp_path / "hf"))
  assert "qa_outputs.weight" in status.loaded and not status.unused
  for key in ("start_logits", "end_logits"):
    np.testing.assert_array_equal(restored(inputs)[key], ours(inputs)[key])


# === Export ===

CLEAN_EN = ("the dog is hairy . the cat runs fast and the dog runs fast and the cat is hairy . jim henson was "
            "a puppeteer in the park . the puppeteer liked the dog and the cat , but the cat liked the park more .")
LONG_EN = " ".join([CLEAN_EN] * 12)  # ~ 500 pieces: many windows
QUESTIONS = [("who was a puppeteer ?", CLEAN_EN), ("what is hairy ?", LONG_EN), ("谁发表了讲话？", squad_data.ZH_1),
             ("北京是什么？", squad_data.ZH_1 * 6), ("what runs fast ?", squad_data.EN_1), ("what ?", "")]
SETTINGS = dict(do_lower_case=True, max_seq_length=48, doc_stride=16, max_query_length=12, max_answer_length=8,
                n_best_size=10, null_score_diff_threshold=0.0)


@pytest.fixture(scope="module")
def qa_model(tmp_path_factory):
  """A random tiny BertQuestionAnswerer on squad_data's vocab: (model, vocab_file)."""
  paths = squad_data.write_files(tmp_path_factory.mktemp("qa_model"), True)
  vocab = open(paths["vocab"], encoding="utf-8").read().split()
  keras.utils.set_random_seed(3)
  model = BertQuestionAnswerer(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                                          num_attention_heads=4, intermediate_size=32, max_position_embeddings=64))
  return model, paths["vocab"]


@pytest.fixture(scope="module")
def exported(qa_model, tmp_path_factory):
  """The SQuAD 2.0 export of qa_model: (its directory, the same module unsaved)."""
  model, vocab_file = qa_model
  settings = dict(SETTINGS, version_2_with_negative=True)
  path = squad_export.export_squad(model, str(tmp_path_factory.mktemp("export") / "export"), vocab_file, **settings)
  return path, squad_export.SquadModule(model, vocab_file, **_module_args(settings))


def _module_args(settings):
  return {k: settings[k] for k in squad_export.SETTINGS}


def _python_predictions(model, vocab_file, settings):
  """write_predictions' answers, n-best lists and null odds for QUESTIONS, through Python and Keras."""
  examples = [squad.make_example(str(i), q, c) for i, (q, c) in enumerate(QUESTIONS)]
  tokenizer = tokenization.FullTokenizer(vocab_file, settings["do_lower_case"])
  features = squad.convert_examples_to_features(examples, tokenizer, settings["max_seq_length"],
                                                settings["doc_stride"], settings["max_query_length"], False)
  results = squad_job.predict_results(model, features, 7)
  return squad_predictions.compute_predictions(
      examples, features, results, settings["n_best_size"], settings["max_answer_length"], True,
      settings["version_2_with_negative"], settings["null_score_diff_threshold"])


def _answer(module):
  out = module.answer(tf.constant([q for q, _ in QUESTIONS]), tf.constant([c for _, c in QUESTIONS]))
  return {k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()] for k, v in out.items()}


@pytest.mark.parametrize("version_2", [False, True])
def test_served_answers_are_write_predictions_answers(qa_model, version_2):
  model, vocab_file = qa_model
  settings = dict(SETTINGS, version_2_with_negative=version_2)
  predictions, nbest, null_odds = _python_predictions(model, vocab_file, settings)
  out = _answer(squad_export.SquadModule(model, vocab_file, **_module_args(settings)))
  for i, (_, context) in enumerate(QUESTIONS):
    answer, start, end = out["answer"][i], out["start"][i], out["end"][i]
    best = next((e for e in nbest[str(i)] if e["text"] and e["text"] != "empty"), None)
    if answer:
      assert context[start:end] == answer
      assert out["score"][i] == pytest.approx(best["start_logit"] + best["end_logit"], abs=1e-4)
    else:
      assert (start, end) == (-1, -1)
    if i < 4:  # clean contexts: the original's text mapping gives the same characters
      assert answer == (predictions[str(i)] if predictions[str(i)] != "empty" else "")
    if version_2 and context:
      assert out["null_score_diff"][i] == pytest.approx(null_odds[str(i)], abs=1e-4)
  assert out["answer"][-1] == "" and any(out["answer"][:4])


def test_export_answers_the_same_in_a_fresh_process(exported):
  path, module = exported
  code = ("import json, sys, tensorflow as tf, tensorflow_text\n"
          "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
          "pairs = json.loads(sys.argv[2])\n"
          "out = serve(question=tf.constant([q for q, _ in pairs]), context=tf.constant([c for _, c in pairs]))\n"
          "print(json.dumps({k: [x.decode() if isinstance(x, bytes) else x for x in v.numpy().tolist()]"
          " for k, v in out.items()}))\n")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
  done = subprocess.run([sys.executable, "-c", code, path, json.dumps(QUESTIONS)], capture_output=True,
                        text=True, env=env, cwd="/", check=True)
  fresh = json.loads(done.stdout.strip().splitlines()[-1])
  here = _answer(module)
  assert fresh["answer"] == here["answer"] and fresh["start"] == here["start"] and fresh["end"] == here["end"]
  np.testing.assert_allclose(fresh["score"], here["score"], atol=1e-5)
  np.testing.assert_allclose(fresh["null_score_diff"], here["null_score_diff"], atol=1e-5)


def test_serve_ids_gives_the_keras_logits(qa_model, exported):
  model, _ = qa_model
  rng = np.random.default_rng(1)
  inputs = {"input_ids": rng.integers(0, 30, (2, 48)).astype(np.int32), "input_mask": np.ones((2, 48), np.int32),
            "segment_ids": np.zeros((2, 48), np.int32)}
  out = tf.saved_model.load(exported[0]).signatures["serve_ids"](**{k: tf.constant(v) for k, v in inputs.items()})
  expected = model(inputs, training=False)
  for key in ("start_logits", "end_logits"):
    np.testing.assert_allclose(out[key].numpy(), expected[key].numpy(), atol=1e-5)


def test_offset_tokenizer_ids_equal_full_tokenizer_and_spans_are_exact(tmp_path):
  paths = squad_data.write_files(tmp_path, False)
  texts = [squad_data.EN_1, squad_data.ZH_1, squad_data.ZH_2, "ΟΔΟΣ, AΣ x\u200by e\u0301 ß İstanbul", "a" * 250 + " b",
           "", " \t ", "中文English混合123，！\x00\u3000末"]
  for do_lower_case in (True, False):
    full = tokenization.FullTokenizer(paths["vocab"], do_lower_case)
    ids, starts, ends = squad_export.OffsetTokenizer(paths["vocab"], do_lower_case).tokenize_with_offsets(texts)
    for text, i, s, e in zip(texts, ids.to_list(), starts.to_list(), ends.to_list()):
      assert i == full.convert_tokens_to_ids(full.tokenize(text)), text
      assert all(0 <= a < b <= len(text) for a, b in zip(s, e)) and s == sorted(s)
  # Hand-checked: "(1895-1943)." splits into six pieces of one or four characters.
  _, starts, ends = squad_export.OffsetTokenizer(paths["vocab"], True).tokenize_with_offsets(["x (1895-1943)."])
  assert [("x (1895-1943)."[a:b]) for a, b in zip(starts.to_list()[0], ends.to_list()[0])] == [
      "x", "(", "1895", "-", "1943", ")", "."]
