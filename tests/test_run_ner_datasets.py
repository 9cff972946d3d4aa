"""run_ner.py on the Chinese NER fixtures (tests/data/ner/) with a tiny model: train, eval, predict.

Default suite: CLUENER through the script (a subprocess), with --crf_learning_rate and
--layerwise_lr_decay, its submission file checked field by field. -m slow: the character-per-line
layouts in-process, predicting again from the trained output_dir, and a bad file through the script.
"""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from bert_tf2.tasks.tagging import cluener, datasets
from bert_tf2.tasks.tagging import task as tagging_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "ner")
CONFIG = {"vocab_size": 0, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
  """A vocab of every fixture character and a tiny config."""
  chars = set()
  for path in glob.glob(os.path.join(DATA, "*", "*")):
    with open(path, encoding="utf-8") as f:
      text = f.read()
    chars |= {c for c in text if not c.isspace() and not c.isascii()}
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(chars)
  root = tmp_path_factory.mktemp("model")
  (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  (root / "bert_config.json").write_text(json.dumps(dict(CONFIG, vocab_size=len(vocab))))
  return {"vocab": str(root / "vocab.txt"), "config": str(root / "bert_config.json")}


def _script(*flags):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_ner.py"), *flags],
                        capture_output=True, text=True, env=env, timeout=600)


def _flags(model_files, task, data_dir, out, *extra):
  return ["--task_name=" + task, "--data_dir=" + data_dir, "--vocab_file=" + model_files["vocab"],
          "--bert_config_file=" + model_files["config"], "--output_dir=%s" % out, "--max_seq_length=24",
          "--train_batch_size=2", "--num_train_epochs=1", "--learning_rate=1e-3", "--log_steps=1", *extra]


def test_cluener_through_the_script_writes_the_submission_file(model_files, tmp_path):
  out = tmp_path / "out"
  run = _script(*_flags(model_files, "cluener", os.path.join(DATA, "cluener"), out, "--do_train", "--do_predict",
                         "--crf", "--crf_learning_rate=0.05", "--layerwise_lr_decay=0.8"))
  assert run.returncode == 0, run.stderr[-3000:]
  printed = dict(line[len("run_ner: "):].split(" = ") for line in run.stdout.splitlines() if line.startswith("run_ner:"))
  assert printed["train_sentences"] == "4" and printed["num_predictions"] == "3"  # eval: -m slow (char layouts)
  assert "Learning-rate multipliers" in run.stderr and "(^|/)crf/" in run.stderr
  settings = json.loads((out / "tagger_config.json").read_text())
  assert settings["scheme"] == "BIOES" and settings["task"] == "cluener" and len(settings["labels"]) == 41
  assert not (out / "test_results.txt").exists()  # test.json has no labels: nothing to score
  texts = [json.loads(line)["text"] for line in open(os.path.join(DATA, "cluener", "test.json"), encoding="utf-8")]
  rows = [json.loads(line) for line in (out / "cluener_predict.json").read_text(encoding="utf-8").splitlines()]
  assert [row["id"] for row in rows] == [0, 1, 2] and all(set(row) == {"id", "label"} for row in rows)
  for row, text in zip(rows, texts):
    for kind, spans in row["label"].items():
      assert kind in cluener.CLUENER_TYPES
      for span, offsets in spans.items():
        assert all(text[start:end + 1] == span for start, end in offsets), (row, text)
  assert rows[2]["label"] == {}  # the empty text


@pytest.mark.slow
@pytest.mark.parametrize("task, directory, scheme, evaluate", [
    ("resume", "resume", "BMES", True), ("weibo", "weibo", "BIO", True), ("char_bioes", "same_bioes", "BIOES", False),
    ("msra", "same_bio", "BIO", False)])
def test_char_layouts_train_evaluate_predict_and_predict_again(model_files, tmp_path, task, directory, scheme,
                                                               evaluate):
  data_dir = os.path.join(DATA, directory)
  if directory == "same_bioes":  # predict on the train file itself
    data_dir = str(tmp_path / "data")
    shutil.copytree(os.path.join(DATA, directory), data_dir)
    shutil.copy(os.path.join(data_dir, "train.char.bioes"), os.path.join(data_dir, "test.char.bioes"))
  out = str(tmp_path / "out")
  kwargs = dict(max_seq_length=24, train_batch_size=2, num_train_epochs=1, learning_rate=1e-3, log_steps=1)
  results = tagging_job.run_ner(datasets.get_processor(task), data_dir, out, model_files["vocab"],
                                model_files["config"], use_crf=True, do_train=True, do_eval=evaluate,
                                do_predict=True, **kwargs)
  assert ("eval_f1" in results) == evaluate and "test_f1" in results
  settings = json.loads(open(os.path.join(out, "tagger_config.json")).read())
  assert settings["scheme"] == scheme and settings["task"] == datasets.get_processor(task).name
  processor = datasets.get_processor(task)
  test = processor.get_test_examples(data_dir)
  lines = [line.split(" ") for line in open(os.path.join(out, "test_predictions.txt"), encoding="utf-8").read().split("\n")]
  rows = [line for line in lines if line != [""]]
  assert [r[0] for r in rows] == [w for e in test for w in e.words]  # weibo: the digits dropped
  assert [r[1] for r in rows] == [t for e in test for t in e.tags]
  assert {r[2] for r in rows} <= set(settings["labels"])
  again = tagging_job.run_ner(datasets.get_processor(task), data_dir, out, model_files["vocab"],
                              model_files["config"], do_predict=True, max_seq_length=24)
  assert again["test_f1"] == results["test_f1"]


@pytest.mark.slow
def test_bad_cluener_offsets_through_the_script_one_line_nothing_written(model_files, tmp_path):
  data_dir = tmp_path / "data"
  shutil.copytree(os.path.join(DATA, "cluener"), data_dir)
  (data_dir / "dev.json").write_text('{"text": "台湾", "label": {}}\n{"text": "台湾", "label": {"address": '
                                     '{"台湾": [[1, 2]]}}}\n', encoding="utf-8")
  out = tmp_path / "out"
  run = _script(*_flags(model_files, "cluener", str(data_dir), out, "--do_train", "--do_eval"))
  assert run.returncode == 1, run.stderr[-2000:]
  errors = [line for line in run.stderr.splitlines() if line.startswith("run_ner: ")]
  assert errors == ["run_ner: error: %s:2: address '台湾' at [1, 2] is outside the text (2 characters)"
                    % (data_dir / "dev.json")]
  assert not out.exists()


@pytest.mark.slow
def test_cluener_evaluates_on_dev_and_predicts_again_from_the_output_dir(model_files, tmp_path):
  data_dir, out = os.path.join(DATA, "cluener"), str(tmp_path / "out")
  kwargs = dict(max_seq_length=24, train_batch_size=2, num_train_epochs=1, learning_rate=1e-3, log_steps=1)
  results = tagging_job.run_ner(datasets.get_processor("cluener"), data_dir, out, model_files["vocab"],
                                model_files["config"], use_crf=True, do_train=True, do_eval=True, **kwargs)
  assert {"eval_f1", "eval_precision", "eval_recall"} <= set(results)
  assert os.path.isfile(os.path.join(out, "eval_results.txt"))
  assert not os.path.exists(os.path.join(out, "cluener_predict.json"))
  again = tagging_job.run_ner(datasets.get_processor("cluener"), data_dir, out, model_files["vocab"],
                              model_files["config"], do_predict=True, max_seq_length=24)
  assert again["num_predictions"] == 3 and os.path.isfile(os.path.join(out, "cluener_predict.json"))
