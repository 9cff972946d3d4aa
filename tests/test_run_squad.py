"""The run_squad job and script: training learns, outputs as the original's, resume, bad input."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from bert_tf2.tasks import registry
from bert_tf2.tasks.squad import task as squad_job
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


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
  """(output_dir, results) of fine-tuning on the Chinese 2.0 file until it is learned by heart."""
  output_dir = str(tmp_path_factory.mktemp("trained") / "out")
  results = squad_job.run_squad(
      output_dir, files["vocab"], files["config"], train_file=files["zh"], predict_file=files["zh"],
      do_train=True, do_predict=True, train_batch_size=8, num_train_epochs=250.0, learning_rate=3e-3,
      version_2_with_negative=True, split_cjk_chars=True, save_checkpoints_steps=10000, **SIZES)
  return output_dir, results


def test_training_learns_a_small_chinese_set_and_predicting_again_gives_the_same_files(files, trained):
  output_dir, results = trained
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


def test_export_from_an_output_dir_answers_as_trained(trained, tmp_path):
  output_dir, _ = trained
  path = registry.export_from_dir(output_dir, str(tmp_path / "export"))
  serve = tf.saved_model.load(path).signatures["serving_default"]
  out = serve(question=tf.constant(["文中提到的人名是什么？", "文中提到的组织机构名是什么？"]),
              context=tf.constant([squad_data.ZH_2] * 2))
  assert [a.decode() for a in out["answer"].numpy()] == ["李鹏", ""]
  start, end = out["start"].numpy()[0], out["end"].numpy()[0]
  assert squad_data.ZH_2[start:end] == "李鹏" and squad_data.ZH_2.index("李鹏", 20) == start  # the annotated one


@pytest.mark.slow  # test_squad.py counts them in read_squad_examples; this checks the job passes the count on
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
  """One run of the script (the other bad inputs are library errors tested above and in test_squad.py)."""
  not_squad = tmp_path / "rows.json"
  not_squad.write_text("[{\"question\": \"q\"}]", encoding="utf-8")
  output_dir = tmp_path / "out"
  done = _script("--vocab_file=" + files["vocab"], "--bert_config_file=" + files["config"], "--max_seq_length=64",
                 "--max_query_length=16", "--output_dir=%s" % output_dir, "--do_train", "--train_file=%s" % not_squad)
  assert done.returncode == 1, done.stderr[-2000:]
  assert done.stderr.strip().splitlines()[-1] == (
      'run_squad: error: %s: not a SQuAD file: expected a JSON object with a "data" list' % not_squad)
  assert not output_dir.exists()  # nothing left behind by a failed run
