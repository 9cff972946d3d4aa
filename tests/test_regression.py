"""Sentence-pair regression: processors, Pearson/Spearman, run_classifier.py --task_name=sts-b end to end,
its one-line error on a bad score, and transformers parity of the Hugging Face export."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, tokenization
from bert_tf2.core.features import InputExample
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks import registry, runner
from bert_tf2.tasks.classification import processors
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.tasks.regression import metrics
from bert_tf2.tasks.regression.processors import ScorePairsProcessor, StsbProcessor
from bert_tf2.tasks.regression.task import RegressionTask, predict_scores

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "regression")
CONFIG = {"vocab_size": 56, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "on", "mat", "a", ",",
         "car", "he", "she", "it", "is", "tea", "i", "like", "fast", "cheap", "screen", "slow", "late",
         "sun", "hot", "ran", "was", "to", "我", "喜", "欢", "爱", "喝", "茶", "今", "天", "气", "很", "好",
         "他", "跑", "得", "快", "猫", "在", "垫", "子", "上", "坐", "车", "便", "宜", "热"]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
  directory = tmp_path_factory.mktemp("model")
  (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  (directory / "bert_config.json").write_text(json.dumps(CONFIG))
  return str(directory / "vocab.txt"), str(directory / "bert_config.json")


def _script(*flags):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_classifier.py"), *flags],
                        capture_output=True, text=True, env=env, timeout=600)


# --- Processors ---

def test_stsb_reads_glue_layout_by_header_name():
  assert isinstance(processors.get_processor("sts-b"), StsbProcessor)
  assert isinstance(processors.get_processor("STSB"), StsbProcessor)
  processor = processors.get_processor("sts-b", has_header=True, label_column="0", text_a_column="1")  # script's
  assert processor.family == "regression" and registry.FAMILIES["regression"] is RegressionTask
  train = processor.get_train_examples(os.path.join(DATA, "stsb"))
  assert len(train) == 6
  first = train[0]
  assert (first.text_a, first.text_b, first.label) == ("the cat sat on the mat", "a cat sat on a mat", 4.75)
  assert first.guid == "train-0" and first.source.endswith("train.tsv:2")
  assert all(isinstance(e.label, float) for e in train)
  test = processor.get_test_examples(os.path.join(DATA, "stsb"))
  assert [e.label for e in test] == [None] * 3 and test[2].text_b == "the screen"


def test_stsb_columns_follow_the_header(tmp_path):
  (tmp_path / "dev.tsv").write_text("score\tsentence2\tindex\tsentence1\n2.5\tb\t7\ta\n", encoding="utf-8")
  [example] = StsbProcessor().get_dev_examples(str(tmp_path))
  assert (example.text_a, example.text_b, example.label, example.guid) == ("a", "b", 2.5, "dev-7")
  (tmp_path / "train.tsv").write_text("index\tsentence1\tscore\n0\ta\t1\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"train\.tsv:1: no column 'sentence2'"):
    StsbProcessor().get_train_examples(str(tmp_path))


def test_score_pairs_detects_lcqmc_and_atec_layouts(tmp_path):
  processor = processors.get_processor("score_pairs", has_header=True, label_column="0", text_a_column="1")
  assert isinstance(processor, ScorePairsProcessor) and processor.columns is None  # the script's defaults ignored
  train = processor.get_train_examples(os.path.join(DATA, "lcqmc"))  # train.txt, no header
  assert [(e.text_a, e.text_b, e.label) for e in train[:2]] == [("我喜欢喝茶", "我爱喝茶", 1.0),
                                                                 ("今天天气很好", "他跑得很快", 0.0)]
  # ATEC: id, text_a, text_b, label; its unlabeled test file has one column fewer.
  (tmp_path / "train.csv").write_text("1\t花呗怎么还\t怎么还花呗\t1\n2\t借呗\t花呗\t0\n", encoding="utf-8")
  (tmp_path / "test.csv").write_text("9\t花呗\t借呗额度\n", encoding="utf-8")
  processor = ScorePairsProcessor()
  train = processor.get_train_examples(str(tmp_path))
  assert [(e.guid, e.text_a, e.text_b, e.label) for e in train] == [("train-1", "花呗怎么还", "怎么还花呗", 1.0),
                                                                     ("train-2", "借呗", "花呗", 0.0)]
  [test] = processor.get_test_examples(str(tmp_path))
  assert (test.guid, test.text_a, test.text_b, test.label) == ("test-9", "花呗", "借呗额度", None)
  # A header row is skipped; a given layout and given columns are used as given.
  (tmp_path / "dev.tsv").write_text("text_a\ttext_b\tscore\nx\ty\t0.5\n", encoding="utf-8")
  assert [e.label for e in ScorePairsProcessor(layout="a,b,score").get_dev_examples(str(tmp_path))] == [0.5]
  (tmp_path / "dev.tsv").write_text("0.5\tx\ty\n", encoding="utf-8")
  [example] = processors.get_processor("score_pairs", label_column="0", text_a_column="1",
                                       text_b_column="2").get_dev_examples(str(tmp_path))
  assert (example.text_a, example.text_b, example.label) == ("x", "y", 0.5)


def test_bad_inputs_name_file_and_line(tmp_path):
  (tmp_path / "train.txt").write_text("a\tb\t1\nc\td\thigh\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"^.*train\.txt:2: score 'high' is not a number$"):
    ScorePairsProcessor().get_train_examples(str(tmp_path))
  (tmp_path / "dev.txt").write_text("a\tb\tnan\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"dev\.txt:1: score 'nan' is not a number"):
    ScorePairsProcessor().get_dev_examples(str(tmp_path))
  with pytest.raises(ValueError, match=r"missing.train\.tsv: file not found"):
    StsbProcessor().get_train_examples(str(tmp_path / "missing"))
  with pytest.raises(ValueError, match=r"missing.train\.tsv: file not found"):
    ScorePairsProcessor().get_train_examples(str(tmp_path / "missing"))
  (tmp_path / "train.txt").write_text("a\tb\tc\td\te\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"train\.txt:1: 5 columns"):
    ScorePairsProcessor().get_train_examples(str(tmp_path))


# --- Metrics ---

def test_pearson_and_spearman_on_hand_worked_cases():
  assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
  assert metrics.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
  assert metrics.pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # cov 4 / var 5
  assert np.isnan(metrics.pearson([1, 1, 1], [1, 2, 3]))
  np.testing.assert_array_equal(metrics.rankdata([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
  np.testing.assert_array_equal(metrics.rankdata([3, 1, 3, 3, 2]), [4, 1, 4, 4, 2])
  # Ties get average ranks: x ranks 1, 2.5, 2.5, 4 against 1, 2, 3, 4 -> 4.5 / sqrt(4.5 * 5).
  assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(22.5))
  assert metrics.spearman([1, 10, 100], [0.1, 0.2, 0.3]) == pytest.approx(1.0)  # monotone, not linear
  scores = metrics.regression_scores([1.0, 2.0, 4.0], [1.0, 3.0, 4.0])
  assert scores["eval_mse"] == pytest.approx(1 / 3)
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
  stats = pytest.importorskip("scipy.stats")
  assert metrics.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
  assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)


# --- run_classifier.py --task_name=sts-b ---

@pytest.mark.slow  # a training subprocess (~29 s); the family runs in-process above and run_classifier.py runs in the MRPC chain
def test_script_trains_evaluates_predicts_and_exports_stsb(tmp_path, model_files):
  vocab_file, config_file = model_files
  out, export = tmp_path / "out", tmp_path / "export"
  run = _script("--task_name=sts-b", "--data_dir=" + os.path.join(DATA, "stsb"), "--vocab_file=" + vocab_file,
                "--bert_config_file=" + config_file, "--output_dir=%s" % out, "--export_dir=%s" % export,
                "--do_train", "--do_eval", "--do_predict", "--max_seq_length=16", "--train_batch_size=2",
                "--num_train_epochs=2", "--log_steps=1", "--learning_rate=1e-3")
  assert run.returncode == 0, run.stderr[-3000:]
  results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
  assert set(results) == {"eval_pearson", "eval_spearman", "eval_mse", "eval_loss", "eval_truncated", "global_step"}
  assert results["global_step"] == "6" and results["eval_loss"] == results["eval_mse"]
  assert -1 <= float(results["eval_pearson"]) <= 1 and -1 <= float(results["eval_spearman"]) <= 1
  assert json.loads((out / "regression_config.json").read_text())["is_pair"] is True
  written = np.array([float(line) for line in (out / "test_results.tsv").read_text().splitlines()], np.float32)
  assert written.shape == (3,)

  # In process: the checkpoint restored strictly, eval and predict agree with the script's files.
  task = RegressionTask(StsbProcessor(), os.path.join(DATA, "stsb"))
  settings = dict(runner.read_settings(str(out), task.settings_file))
  model = task.build_model(BertConfig.from_json_file(config_file), settings)
  runner.restore(model, str(out), None, task)
  tokenizer = tokenization.FullTokenizer(vocab_file, True)
  scores = task.evaluate(model, settings, tokenizer, 8).values
  assert scores["eval_pearson"] == pytest.approx(float(results["eval_pearson"]), abs=1e-5)
  inputs, _, _ = task._arrays(StsbProcessor().get_test_examples(os.path.join(DATA, "stsb")), settings, tokenizer)
  ours = predict_scores(model, inputs, 8)
  np.testing.assert_allclose(ours, written, atol=TOLERANCE, rtol=0)

  # The raw-text SavedModel gives the model's scores.
  loaded = tf.saved_model.load(str(export))
  examples = StsbProcessor().get_test_examples(os.path.join(DATA, "stsb"))
  served = loaded.signatures["serving_default"](text_a=tf.constant([e.text_a for e in examples]),
                                                text_b=tf.constant([e.text_b for e in examples]))
  assert served["score"].dtype == tf.float32 and served["score"].shape == (3,)
  np.testing.assert_allclose(served["score"].numpy(), ours, atol=TOLERANCE, rtol=0)
  by_ids = loaded.signatures["serve_ids"](**{k: tf.constant(v) for k, v in inputs.items()})
  np.testing.assert_allclose(by_ids["score"].numpy(), ours, atol=TOLERANCE, rtol=0)

  # registry.export_from_dir finds the family by its settings file.
  again = registry.export_from_dir(str(out), str(tmp_path / "export2"))
  reloaded = tf.saved_model.load(again).signatures["serve_ids"](**{k: tf.constant(v) for k, v in inputs.items()})
  np.testing.assert_allclose(reloaded["score"].numpy(), ours, atol=TOLERANCE, rtol=0)

  # Its weights out to Hugging Face and back.
  hf = checkpoints.save_hf_checkpoint(model, str(tmp_path / "hf"), vocab_file=vocab_file, do_lower_case=True)
  config = json.loads((tmp_path / "hf" / "config.json").read_text())
  assert config["problem_type"] == "regression" and len(config["id2label"]) == 1
  assert config["architectures"] == ["BertForSequenceClassification"]
  back = BertClassifier(BertConfig.from_json_file(os.path.join(hf, "config.json")), 1)
  status = checkpoints.load_checkpoint(back, hf)
  assert not status.missing and not status.unused
  np.testing.assert_allclose(predict_scores(back, inputs, 8), ours, atol=TOLERANCE, rtol=0)


def test_script_bad_score_is_one_line_error_and_leaves_nothing(tmp_path, model_files):
  vocab_file, config_file = model_files
  data = tmp_path / "data"
  shutil.copytree(os.path.join(DATA, "stsb"), data)
  lines = (data / "train.tsv").read_text().splitlines()
  lines[3] = lines[3].rsplit("\t", 1)[0] + "\tn/a"
  (data / "train.tsv").write_text("\n".join(lines) + "\n")
  out = tmp_path / "out"
  run = _script("--task_name=sts-b", "--data_dir=%s" % data, "--vocab_file=" + vocab_file,
                "--bert_config_file=" + config_file, "--output_dir=%s" % out, "--do_train", "--max_seq_length=16")
  assert run.returncode != 0
  assert run.stderr.strip().splitlines()[-1] == ("run_classifier: error: %s:4: score 'n/a' is not a number"
                                                 % (data / "train.tsv"))
  assert not out.exists()


def test_score_pairs_trains_in_process(tmp_path, model_files):
  vocab_file, config_file = model_files
  results = runner.run(RegressionTask(ScorePairsProcessor(), os.path.join(DATA, "lcqmc")), str(tmp_path), vocab_file,
                       config_file, max_seq_length=16, do_train=True, do_eval=True, train_batch_size=2,
                       num_train_epochs=1.0, log_steps=1)
  assert results["global_step"] == 2 and {"eval_pearson", "eval_spearman", "eval_mse"} <= set(results)


# --- Hugging Face parity (transformers ran once, in a torch venv: tests/make_regression_reference.py) ---

def test_transformers_regression_model_gives_our_numbers():
  path = os.path.join(DATA, "reference.npz")
  if not os.path.exists(path):
    pytest.skip("no %s (run tests/make_regression_reference.py in a torch venv)" % path)
  reference = np.load(path)
  directory = os.path.join(DATA, "hf_regressor")
  with open(os.path.join(DATA, "pairs.json"), encoding="utf-8") as f:
    fixture = json.load(f)
  assert str(reference["problem_type"]) == "regression" and int(reference["num_labels"]) == 1
  model = BertClassifier(BertConfig.from_json_file(os.path.join(directory, "config.json")), 1)
  status = checkpoints.load_checkpoint(model, directory)
  assert not status.missing and not status.unused
  task = RegressionTask()
  tokenizer = tokenization.FullTokenizer(os.path.join(directory, "vocab.txt"), True)
  examples = [InputExample(i, a, b, s) for i, ((a, b), s) in enumerate(zip(fixture["pairs"], fixture["scores"]))]
  length = reference["input_ids"].shape[1]
  inputs, scores, _ = task._arrays(examples, {"max_seq_length": length, "is_pair": True}, tokenizer)
  np.testing.assert_array_equal(inputs["input_ids"], reference["input_ids"])
  np.testing.assert_array_equal(inputs["input_mask"], reference["attention_mask"])
  np.testing.assert_array_equal(inputs["segment_ids"], reference["token_type_ids"])
  logits = model(inputs, training=False).numpy()
  np.testing.assert_allclose(logits, reference["logits"], atol=TOLERANCE, rtol=0)
  np.testing.assert_allclose(scores, reference["labels"], atol=0, rtol=0)
  loss, _ = task.loss_fn(model, dict(inputs, scores=scores), training=False)
  assert float(loss) == pytest.approx(float(reference["loss"]), abs=TOLERANCE)
