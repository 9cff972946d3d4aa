"""Multiple choice (SWAG, C3): readers, packing, the model's mask, HF parity, the script end to end."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.core.features import InputExample, convert_single_example
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks import registry, runner
from bert_tf2.tasks.multiple_choice import data
from bert_tf2.tasks.multiple_choice.model import BertMultipleChoice, probabilities
from bert_tf2.tasks.multiple_choice.task import MultipleChoiceTask
from bert_tf2.tokenization import FullTokenizer
from tests import multiple_choice_data as mc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tests", "data", "multiple_choice", "reference.npz")
T = 16
C3_T = 32  # at 16, longest-first truncation cuts C3's options themselves (their questions are long)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  directory = tmp_path_factory.mktemp("multiple_choice")
  paths = mc.write_model_files(str(directory / "model"))
  paths["swag"] = mc.write_swag(str(directory / "swag"))
  paths["c3"] = mc.write_c3(str(directory / "c3"))
  return paths


@pytest.fixture(scope="module")
def tokenizer(files):
  return FullTokenizer(files["vocab"], do_lower_case=True)


def test_swag_reads_as_run_swag(files):
  train = data.read_split("swag", files["swag"], "train")
  assert [e.label for e in train] == [0, 1, 2, 3]
  first = train[0]
  assert (first.context, first.question, first.options[0]) == ("A man is playing a guitar.", "He", "sings a song.")
  assert data.option_text(first.question, first.options[0]) == "He sings a song."
  assert first.source.endswith("train.csv:2")
  test = data.read_split("swag", files["swag"], "test")
  assert len(test) == 4 and all(e.label is None for e in test)


def test_c3_reads_clue_split_files_and_pads_to_num_choices(files, tokenizer):
  train = data.read_split("c3", files["c3"], "train")  # d-train.json then m-train.json
  assert [e.guid for e in train] == ["d1-0", "d2-0", "m1-0", "m1-1"]
  assert [len(e.options) for e in train] == [4, 3, 2, 4]
  assert [e.label for e in train] == [0, 1, 0, 2]
  test = data.read_split("c3", files["c3"], "test")  # test1.0.json
  assert [e.label for e in test] == [None] * 4
  arrays, truncated = data.to_arrays(train, tokenizer, T, 4)
  assert arrays["input_ids"].shape == (4, 4, T) and arrays["label_ids"].tolist() == [0, 1, 0, 2]
  assert arrays["choice_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
  assert truncated == 4  # every context is longer than 16 pieces
  for row, example in enumerate(train):  # each option: the original's pair packing and truncation
    for c, option in enumerate(example.options):
      f = convert_single_example(0, InputExample(0, example.context, data.option_text(example.question, option)),
                                 None, T, tokenizer)
      for name in ("input_ids", "input_mask", "segment_ids"):
        assert arrays[name][row, c].tolist() == getattr(f, name)


@pytest.mark.parametrize("name, text, message", [
    ("d-train.json", '[[["a"], [\n{"question": "q", "choice": ["x" "y"]}], "d1"]]', "%s:2: malformed JSON: "),
    ("d-train.json", '[[["a"], [{"question": "q", "choice": ["x", "y"], "answer": "x"}], 1],'
                     ' [["a"], [{"question": "q", "choice": ["x", "y"], "answer": "z"}], 2]]',
     "%s: item 2: question 1: answer 'z' is not one of its choices"),
    ("d-train.json", '[[["a"], [{"question": "q", "choice": ["1", "2", "3", "4", "5"], "answer": "1"}], 1]]',
     "%s: item 1: question 1: 5 choices, expected 2 to num_choices=4"),
    ("d-train.json", '{"data": []}', "%s: not a C3 file"),
    ("train.csv", ",".join(mc.SWAG_HEADER) + "\n0,v,1,s,a,b,gold,e0,e1,e2,e3,0\n1,v,1,s,a,b,gold,e0,e1,e2,e3,7\n",
     "%s:3: label 7 out of range 0-3"),
    ("train.csv", ",".join(mc.SWAG_HEADER) + "\n0,v,1,s,a,b,gold,e0,e1,e2,0\n", "%s:2: 11 columns, expected 12"),
    ("train.csv", "a,b,c\n", "%s:1: not SWAG's header"),
])
def test_bad_input_names_file_and_line_or_item(tmp_path, name, text, message):
  (tmp_path / name).write_text(text, encoding="utf-8")
  with pytest.raises(ValueError) as e:
    data.read_split("swag" if name.endswith(".csv") else "c3", str(tmp_path), "train")
  assert str(e.value).startswith(message % (tmp_path / name)) and "\n" not in str(e.value)


def test_masked_options_get_probability_zero(files, tokenizer):
  model = BertMultipleChoice(BertConfig.from_json_file(files["config"]))
  arrays, _ = data.to_arrays(data.read_split("c3", files["c3"], "train"), tokenizer, T, 4)
  p = probabilities(model({k: arrays[k] for k in ("input_ids", "input_mask", "segment_ids", "choice_mask")})).numpy()
  assert np.all(p[arrays["choice_mask"] == 0] == 0.0)
  np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)
  assert [e.hf for e in checkpoints.variable_table(model)][-2:] == ["classifier.weight", "classifier.bias"]


def test_swag_trains_evaluates_and_predicts_in_process(files, tmp_path):
  output_dir = str(tmp_path / "out")
  results = runner.run(MultipleChoiceTask("swag", files["swag"]), output_dir, files["vocab"], files["config"],
                       max_seq_length=T, do_train=True, do_eval=True, do_predict=True, train_batch_size=4,
                       num_train_epochs=60.0, learning_rate=3e-3, save_checkpoints_steps=10000)
  assert results["eval_accuracy"] == 1.0 and results["num_predictions"] == 4
  rows = [list(map(float, line.split("\t"))) for line in open(os.path.join(output_dir, "test_results.tsv"))]
  assert len(rows) == 4 and all(len(r) == 4 for r in rows)
  assert [int(np.argmax(r)) for r in rows] == [0, 1, 2, 3]  # the test questions are the train ones
  assert json.load(open(os.path.join(output_dir, "multiple_choice_config.json")))["task_name"] == "swag"
  again = runner.run(MultipleChoiceTask("swag", files["swag"]), output_dir, files["vocab"], files["config"],
                     max_seq_length=T, do_eval=True)  # restores output_dir's checkpoint and settings
  assert again["eval_accuracy"] == 1.0 and again["eval_loss"] == pytest.approx(results["eval_loss"], abs=1e-6)
  with pytest.raises(ValueError, match="no train file of swag"):
    runner.run(MultipleChoiceTask("swag", output_dir), str(tmp_path / "b"), files["vocab"], files["config"],
               max_seq_length=T, do_train=True)


def _script(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_multiple_choice.py"), *args],
                        capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow  # a training subprocess (~22 s); SWAG trains in-process and the script's bad input runs by default
def test_script_end_to_end_on_c3_and_the_export_answers_as_the_keras_model(files, tokenizer, tmp_path):
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  output_dir, export_dir = tmp_path / "out", tmp_path / "export"
  done = _script("--task_name=c3", "--data_dir=" + files["c3"], "--vocab_file=" + files["vocab"],
                 "--bert_config_file=" + files["config"], "--max_seq_length=%d" % C3_T, "--output_dir=%s" % output_dir,
                 "--do_train", "--do_eval", "--do_predict", "--train_batch_size=4", "--num_train_epochs=60",
                 "--learning_rate=3e-3", "--export_dir=%s" % export_dir)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "run_multiple_choice: eval_accuracy = 1.0" in done.stdout
  assert "eval_accuracy = 1.0" in (output_dir / "eval_results.txt").read_text()
  rows = (output_dir / "test_results.tsv").read_text().splitlines()
  assert len(rows) == 4 and rows[2].split("\t")[2:] == ["0.0", "0.0"]  # m1-0 has 2 options
  # CLUE 1.0's submission name: the fixture's test file is test1.0.json.
  predictions = [json.loads(line) for line in (output_dir / "c310_predict.json").read_text().splitlines()]
  assert predictions == [{"id": "d1-0", "label": 0}, {"id": "d2-0", "label": 1}, {"id": "m1-0", "label": 0},
                         {"id": "m1-1", "label": 2}]
  assert (output_dir / "c3_predict.json").read_text() == (output_dir / "c310_predict.json").read_text()
  # The export, against the restored Keras model in this process.
  task = registry.FAMILIES["multiple_choice"]()
  settings = runner.read_settings(str(output_dir), task.settings_file)
  assert settings["num_choices"] == 4 and settings["max_seq_length"] == C3_T
  model = task.build_model(BertConfig.from_json_file(files["config"]), settings)
  runner.restore(model, str(output_dir), None, task)
  test = data.read_split("c3", files["c3"], "test")
  arrays, _ = data.to_arrays(test, tokenizer, C3_T, 4)
  expected = probabilities(model({k: arrays[k] for k in ("input_ids", "input_mask", "segment_ids",
                                                          "choice_mask")})).numpy()
  serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
  out = serve(context=tf.constant([e.context for e in test]), question=tf.constant([e.question for e in test]),
              options=tf.constant([e.options + [""] * (4 - len(e.options)) for e in test]))
  np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5, rtol=0)
  assert out["label"].numpy().tolist() == [0, 1, 0, 2]
  assert np.all(out["probabilities"].numpy()[2, 2:] == 0.0)


def test_script_reports_bad_input_in_one_line(files, tmp_path):
  c3 = tmp_path / "c3"
  c3.mkdir()
  (c3 / "train.json").write_text('[[["a"], [{"question": "q", "choice": ["x", "y"], "answer": "z"}], 1]]',
                                 encoding="utf-8")
  output_dir = tmp_path / "out"
  done = _script("--task_name=c3", "--data_dir=%s" % c3, "--vocab_file=" + files["vocab"],
                 "--bert_config_file=" + files["config"], "--max_seq_length=%d" % T, "--output_dir=%s" % output_dir,
                 "--do_train")
  assert done.returncode == 1, done.stderr[-2000:]
  assert done.stderr.strip().splitlines()[-1] == (
      "run_multiple_choice: error: %s: item 1: question 1: answer 'z' is not one of its choices" % (c3 / "train.json"))
  assert not output_dir.exists()


def test_hf_directory_is_bert_for_multiple_choice_and_loads_back(files, tmp_path):
  model = BertMultipleChoice(BertConfig.from_json_file(files["config"]))
  model.output_bias.assign([0.25])
  directory = checkpoints.save_hf_checkpoint(model, str(tmp_path / "hf"), vocab_file=files["vocab"],
                                             do_lower_case=True)
  assert json.load(open(os.path.join(directory, "config.json")))["architectures"] == ["BertForMultipleChoice"]
  again = BertMultipleChoice(BertConfig.from_json_file(files["config"]))
  status = checkpoints.load_checkpoint(again, directory)
  assert not status.missing
  for a, b in zip(model.weights, again.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.skipif(not os.path.exists(REFERENCE), reason="tests/data/multiple_choice/reference.npz not made "
                    "(tests/make_multiple_choice_reference.py, in the torch venv)")
def test_transformers_bert_for_multiple_choice_gives_our_logits():
  reference = np.load(REFERENCE)
  directory = os.path.join(ROOT, "tests", "data", "multiple_choice", "hf")
  config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
  model = BertMultipleChoice(config)
  status = checkpoints.load_checkpoint(model, directory)
  assert not status.missing
  inputs = {"input_ids": reference["input_ids"], "input_mask": reference["attention_mask"],
            "segment_ids": reference["token_type_ids"],
            "choice_mask": np.ones(reference["input_ids"].shape[:2], np.int32)}
  # Our packing gives transformers' tokenizer's ids (its batch is padded to its longest row).
  with open(os.path.join(directory, "..", "questions.json"), encoding="utf-8") as f:
    questions = json.load(f)["questions"]
  examples = [data.MultipleChoiceExample(i, q["context"], q["question"], q["options"]) for i, q in enumerate(questions)]
  ours, _ = data.to_arrays(examples, FullTokenizer(os.path.join(directory, "vocab.txt"), True),
                           int(reference["max_seq_length"]), reference["input_ids"].shape[1])
  length = reference["input_ids"].shape[2]
  for name, theirs in (("input_ids", "input_ids"), ("input_mask", "attention_mask"), ("segment_ids", "token_type_ids")):
    np.testing.assert_array_equal(ours[name][..., :length], reference[theirs])
  logits = model(inputs, training=False).numpy()
  np.testing.assert_allclose(logits, reference["logits"], atol=1e-5, rtol=0)


@pytest.mark.slow  # a subprocess (~5 s); test_keras_serialization covers the fresh-process load
def test_keras_file_loads_in_a_fresh_process_with_only_import_bert_tf2(files, tokenizer, tmp_path):
  """The contract of tests/test_keras_serialization.py: registered classes, same config, same logits."""
  import keras  # pylint: disable=g-import-not-at-top
  model = BertMultipleChoice(BertConfig.from_json_file(files["config"]), dropout_rate=0.2)
  for layer in model._flatten_layers(include_self=True, recursive=True):  # pylint: disable=protected-access
    if not type(layer).__module__.startswith("keras."):
      assert keras.saving.get_registered_name(type(layer)) == "bert_tf2>" + type(layer).__name__
  again = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(model))))
  assert type(again) is BertMultipleChoice and again.get_config() == model.get_config()
  arrays, _ = data.to_arrays(data.read_split("c3", files["c3"], "train"), tokenizer, T, 4)
  inputs = {k: arrays[k] for k in ("input_ids", "input_mask", "segment_ids", "choice_mask")}
  model.save(str(tmp_path / "m.keras"))
  np.savez(str(tmp_path / "inputs.npz"), **inputs)
  script = ("import sys, keras, bert_tf2, numpy as np\n"
            "m = keras.models.load_model(sys.argv[1] + '/m.keras')\n"
            "np.save(sys.argv[1] + '/out.npy', np.asarray(m(dict(np.load(sys.argv[1] + '/inputs.npz')))))\n")
  done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"), check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  np.testing.assert_array_equal(np.load(str(tmp_path / "out.npy")), model(inputs).numpy())
