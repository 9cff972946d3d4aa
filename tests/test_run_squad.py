"""The run_squad job and script: training learns, outputs as the original's, resume, bad input."""

import json
import os
import subprocess
import sys

import pytest

from bert_tf2.jobs import squad as squad_job
from tests import squad_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = dict(max_seq_length=64, doc_stride=24, max_query_length=16)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  directory = tmp_path_factory.mktemp("run_squad")
  paths = squad_data.write_files(directory, version_2=True)
  vocab = open(paths["vocab"], encoding="utf-8").read().split()
  config = {"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64, "type_vocab_size": 2,
            "initializer_range": 0.02}
  paths["config"] = str(directory / "bert_config.json")
  with open(paths["config"], "w", encoding="utf-8") as f:
    json.dump(config, f)
  return paths


def test_training_learns_a_small_chinese_set_and_predicting_again_gives_the_same_files(files, tmp_path):
  output_dir = str(tmp_path / "out")
  results = squad_job.run_squad(
      output_dir, files["vocab"], files["config"], train_file=files["zh"], predict_file=files["zh"],
      do_train=True, do_predict=True, train_batch_size=8, num_train_epochs=250.0, learning_rate=3e-3,
      version_2_with_negative=True, split_cjk_chars=True, save_checkpoints_steps=10000, **SIZES)
  # 10 questions (one unanswerable), 312 steps: learned by heart, by the official 2.0 numbers.
  assert results["train_examples"] == 10 and results["train_skipped"] == 0
  assert results["exact"] == 100.0 and results["HasAns_total"] == 9 and results["NoAns_total"] == 1
  names = ("predictions.json", "nbest_predictions.json", "null_odds.json", "eval_results.txt", "squad_config.json",
           "vocab.txt", "bert_config.json")
  assert all(os.path.isfile(os.path.join(output_dir, name)) for name in names)
  assert os.path.isfile(os.path.join(output_dir, "model.ckpt-%d.index" % results["global_step"]))
  with open(os.path.join(output_dir, "predictions.json"), encoding="utf-8") as f:
    predictions = json.load(f)
  assert predictions["zh2-person"] == "李鹏" and predictions["zh2-impossible"] == ""
  with open(os.path.join(output_dir, "eval_results.txt"), encoding="utf-8") as f:
    assert "HasAns_exact = 100.0\n" in f.read()
  first = {n: open(os.path.join(output_dir, n), "rb").read() for n in names[:3]}
  again = squad_job.run_squad(output_dir, files["vocab"], files["config"], predict_file=files["zh"],
                              do_predict=True, version_2_with_negative=True, split_cjk_chars=True, **SIZES)
  assert again["global_step"] == results["global_step"]
  assert {n: open(os.path.join(output_dir, n), "rb").read() for n in names[:3]} == first


def test_answers_not_at_their_offsets_are_counted(files, tmp_path):
  results = squad_job.run_squad(str(tmp_path / "out"), files["vocab"], files["config"], train_file=files["en"],
                                do_train=True, train_batch_size=8, num_train_epochs=1.0,
                                version_2_with_negative=True, **SIZES)
  assert results["train_skipped"] == 2 and results["train_examples"] == 16  # 18 questions, 2 skipped


def test_predicting_without_a_checkpoint_is_an_error(files, tmp_path):
  with pytest.raises(ValueError, match="no checkpoint to predict with"):
    squad_job.run_squad(str(tmp_path / "out"), files["vocab"], files["config"], predict_file=files["en"],
                        do_predict=True, **SIZES)


def _script(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_squad.py"), *args], capture_output=True,
                        text=True, env=env, check=False)


def test_script_reports_bad_input_in_one_line(files, tmp_path):
  common = ["--vocab_file=" + files["vocab"], "--bert_config_file=" + files["config"],
            "--max_seq_length=64", "--max_query_length=16"]
  not_squad = tmp_path / "rows.json"
  not_squad.write_text("[{\"question\": \"q\"}]", encoding="utf-8")
  empty = tmp_path / "empty.json"
  empty.write_text("", encoding="utf-8")
  cases = [
      (["--do_train", "--train_file=%s" % not_squad], "%s: not a SQuAD file" % not_squad),
      (["--do_predict", "--predict_file=%s" % empty, "--init_checkpoint=%s" % files["config"]],
       "no checkpoint at this prefix"),
      (["--do_predict", "--predict_file=%s" % files["en"]], "no checkpoint to predict with"),
  ]
  for i, (args, message) in enumerate(cases):
    output_dir = tmp_path / ("out%d" % i)
    done = _script(*common, "--output_dir=%s" % output_dir, *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr[-2000:]
    assert lines[-1].startswith("run_squad: error: "), lines[-1]
    assert message in lines[-1], lines[-1]
    assert not output_dir.exists()  # nothing left behind by a failed run
