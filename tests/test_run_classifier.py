"""scripts/run_classifier.py end to end on tiny files, and its one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from bert_tf2.tasks.classification import processors
from bert_tf2.tasks.classification import task as classifier
from tests import original_bert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
CONFIG = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "on", "mat", "a", ",",
         "car", "he", "she", "it", "is", "tea", "i", "like", "fast", "cheap", "screen", "shipping", "late",
         "##s", "##ing", "slow", "delivery", "price", "good", "great", "and", "sun", "hot", "cold", "ran",
         "was", "to"]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
  directory = tmp_path_factory.mktemp("model")
  (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
  (directory / "bert_config.json").write_text(json.dumps(CONFIG))
  return str(directory / "vocab.txt"), str(directory / "bert_config.json")


def _script(*flags):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_classifier.py"), *flags],
                        capture_output=True, text=True, env=env, timeout=600)


def _run(model_files, output_dir, processor, data_dir, **kwargs):
  vocab_file, config_file = model_files
  return classifier.run_classifier(processor, data_dir, str(output_dir), vocab_file, config_file,
                                   max_seq_length=16, train_batch_size=2, num_train_epochs=2.0,
                                   log_steps=1, **kwargs)


@pytest.mark.slow  # the default suite runs the script through Google's MRPC chain and --task_name=sts-b
def test_script_trains_evaluates_predicts_and_exports(tmp_path, model_files):
  vocab_file, config_file = model_files
  out = tmp_path / "out"
  run = _script("--task_name=csv", "--data_dir=" + os.path.join(DATA, "clf_csv"), "--vocab_file=" + vocab_file,
                "--bert_config_file=" + config_file, "--output_dir=%s" % out, "--export_dir=%s" % (tmp_path / "export"),
                "--do_train", "--do_eval", "--do_predict", "--nohas_header", "--label_column=2",
                "--text_a_column=0", "--text_b_column=1", "--max_seq_length=16", "--train_batch_size=2",
                "--num_train_epochs=2", "--save_checkpoints_steps=2", "--log_steps=1")
  assert run.returncode == 0, run.stderr[-3000:]
  results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
  assert set(results) == {"eval_accuracy", "eval_loss", "global_step", "eval_truncated"}
  assert results["global_step"] == "3"  # int(3 examples / 2 * 2 epochs)
  rows = [line.split("\t") for line in (out / "test_results.tsv").read_text().splitlines()]
  assert len(rows) == 1 and len(rows[0]) == 2 and abs(sum(map(float, rows[0])) - 1) < 1e-5
  assert (out / "model.ckpt-3.index").exists() and (out / "checkpoint").exists() and os.listdir(out / "train")
  assert json.loads((out / "classifier_config.json").read_text())["labels"] == ["no", "yes"]
  assert [name for name in os.listdir(out / "eval") if name.startswith("events.out.tfevents")]  # eval's TensorBoard
  assert (tmp_path / "export" / "saved_model.pb").exists()
  # A later predict-only run restores the fine-tuned checkpoint from output_dir.
  processor = processors.get_processor("csv", has_header=False, label_column=2, text_a_column=0, text_b_column=1)
  _run(model_files, out, processor, os.path.join(DATA, "clf_csv"), do_predict=True)
  assert [line.split("\t") for line in (out / "test_results.tsv").read_text().splitlines()] == rows


def test_multi_label_run_reports_f1(tmp_path, model_files):
  results = _run(model_files, tmp_path, processors.get_processor("jsonl_multilabel"),
                 os.path.join(DATA, "clf_jsonl"), do_train=True, do_eval=True)
  assert {"eval_micro_f1", "eval_macro_f1", "eval_accuracy", "eval_loss"} <= set(results)
  assert "eval_macro_f1" in (tmp_path / "eval_results.txt").read_text()


def test_init_checkpoint_accepts_a_google_checkpoint(tmp_path, model_files):
  ckpt = original_bert.make_google_checkpoint(CONFIG, str(tmp_path / "google" / "bert_model.ckpt"),
                                              with_pretraining_heads=False)
  results = _run(model_files, tmp_path / "out", processors.get_processor("tsv", label_column="label",
                 text_a_column="text"), os.path.join(DATA, "clf_tsv"), do_train=True, do_eval=True,
                 init_checkpoint=ckpt)
  assert results["global_step"] == 3


def test_over_long_texts_are_truncated_and_counted(tmp_path, model_files):
  (tmp_path / "train.tsv").write_text("label\ttext\n1\t" + "the cat " * 20 + "\n0\tthe dog\n")
  (tmp_path / "dev.tsv").write_text("label\ttext\n1\t" + "the cat " * 20 + "\n")
  results = _run(model_files, tmp_path / "out", processors.get_processor("tsv", label_column="label",
                 text_a_column="text"), str(tmp_path), do_train=True, do_eval=True)
  assert results["train_truncated"] == 1 and results["eval_truncated"] == 1


def test_unknown_task_name_is_one_line_listing_known_tasks(tmp_path, model_files):
  run = _script("--task_name=nope", "--data_dir=%s" % tmp_path, "--vocab_file=" + model_files[0],
                "--bert_config_file=" + model_files[1], "--output_dir=%s" % tmp_path, "--do_train")
  assert run.returncode == 1
  error_lines = [line for line in run.stderr.splitlines() if line.startswith("run_classifier:")]
  assert len(error_lines) == 1 and "known tasks: afqmc, bq, chnsenticorp, cmnli, cola, csl, csv" in error_lines[0]
  assert "Traceback" not in run.stderr


def test_do_predict_without_a_checkpoint_fails_clearly(tmp_path, model_files):
  with pytest.raises(ValueError, match="no checkpoint to evaluate or predict with"):
    _run(model_files, tmp_path, processors.get_processor("mrpc"), os.path.join(DATA, "clf_mrpc"), do_predict=True)


def test_missing_data_dir_file_is_named(tmp_path, model_files):
  with pytest.raises(ValueError, match=r"clf_missing/train.tsv: file not found"):
    _run(model_files, tmp_path, processors.get_processor("mrpc"), os.path.join(DATA, "clf_missing"), do_train=True)
