"""scripts/run_ner.py end to end on tiny CoNLL files, restoring a trained tagger, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import task as tagging_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHARS = list("江泽民在北京上海新华社记者报道")
CONFIG = {"vocab_size": 5 + len(CHARS), "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}
SENTENCES = [("江泽民在北京", "B-PER I-PER I-PER O B-LOC I-LOC"), ("新华社记者报道", "B-ORG I-ORG I-ORG O O O O"),
             ("上海", "B-LOC I-LOC"), ("新华社记者在上海报道江泽民" * 2,
                                      "B-ORG I-ORG I-ORG O O O B-LOC I-LOC O O B-PER I-PER I-PER " * 2)]


def _conll(sentences):
  return "".join("".join("%s %s\n" % pair for pair in zip(text, tags.split())) + "\n" for text, tags in sentences)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("ner")
  (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS) + "\n",
                                  encoding="utf-8")
  (root / "bert_config.json").write_text(json.dumps(CONFIG))
  data = root / "data"
  data.mkdir()
  for split in ("train", "dev", "test"):
    (data / (split + ".txt")).write_text(_conll(SENTENCES), encoding="utf-8")
  return {"vocab": str(root / "vocab.txt"), "config": str(root / "bert_config.json"), "data": str(data)}


def _script(*flags):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_ner.py"), *flags],
                        capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow  # a training subprocess (~19 s); run_ner.py runs end to end on CLUENER by default (test_run_ner_datasets.py)
def test_script_trains_evaluates_predicts_and_exports(files, tmp_path):
  out = tmp_path / "out"
  # 4 sentences, the long one windowed (13 * 2 pieces in windows of 14, stride 5): 7 windows.
  run = _script("--task_name=conll", "--data_dir=" + files["data"], "--vocab_file=" + files["vocab"],
                "--bert_config_file=" + files["config"], "--output_dir=%s" % out, "--export_dir=%s" % (tmp_path / "export"),
                "--do_train", "--do_eval", "--do_predict", "--crf", "--max_seq_length=16", "--doc_stride=5",
                "--train_batch_size=2", "--num_train_epochs=1", "--learning_rate=1e-3", "--log_steps=1")
  assert run.returncode == 0, run.stderr[-3000:]
  printed = dict(line[len("run_ner: "):].split(" = ") for line in run.stdout.splitlines() if line.startswith("run_ner:"))
  assert printed["train_windows"] == "7" and printed["global_step"] == "3"
  results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
  assert {"eval_precision", "eval_recall", "eval_f1", "eval_token_accuracy", "eval_PER_f1", "eval_LOC_f1",
          "eval_ORG_f1", "global_step"} <= set(results)
  lines = (out / "test_predictions.txt").read_text(encoding="utf-8").split("\n")
  assert lines[0].split()[:2] == ["江", "B-PER"] and len(lines[0].split()) == 3
  assert sum(1 for line in lines if line) == sum(len(text) for text, _ in SENTENCES)
  assert (tmp_path / "export" / "saved_model.pb").exists()
  assert json.loads((out / "tagger_config.json").read_text())["use_crf"] is True

  # A later evaluation restores the trained tagger (CRF scores included): the same numbers.
  again = tagging_job.run_ner(tagging_data.get_tagging_processor("conll"), files["data"], str(out), files["vocab"],
                              files["config"], max_seq_length=16, doc_stride=5, do_eval=True)
  assert again["eval_f1"] == pytest.approx(float(results["eval_f1"]))
  assert again["eval_token_accuracy"] == pytest.approx(float(results["eval_token_accuracy"]))


def test_bad_input_is_one_line_naming_the_file(files, tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  (data / "train.txt").write_text("江 B-PER\n泽 I-PER\n民\n", encoding="utf-8")
  run = _script("--task_name=conll", "--data_dir=%s" % data, "--vocab_file=" + files["vocab"],
                "--bert_config_file=" + files["config"], "--output_dir=%s" % (tmp_path / "out"), "--do_train",
                "--max_seq_length=16")
  assert run.returncode != 0
  assert run.stderr.strip().splitlines()[-1] == (
      "run_ner: error: %s:3: expected 2 columns (token tag), found 1: '民'" % (data / "train.txt"))
  assert not (tmp_path / "out").exists()  # a failed run leaves nothing


def test_evaluating_before_training_names_the_missing_checkpoint(files, tmp_path):
  with pytest.raises(ValueError, match="no checkpoint to evaluate"):
    tagging_job.run_ner(tagging_data.get_tagging_processor("conll"), files["data"], str(tmp_path), files["vocab"],
                        files["config"], max_seq_length=16, do_eval=True)
