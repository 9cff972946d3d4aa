"""Google's README commands, as written (paths aside), chained as Google's users chain them.

    create_pretraining_data -> run_pretraining --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt
      -> run_classifier --task_name=MRPC --init_checkpoint=$OUTPUT_DIR/model.ckpt-20
      -> run_classifier --do_predict --init_checkpoint=$TRAINED_CLASSIFIER (its model.ckpt-N)
      -> extract_features

and the same fine-tuning and prediction for CoLA, MNLI and XNLI, on tiny files in the real GLUE
layouts with a tiny `$BERT_BASE_DIR` (tests/readme_fixtures.py). Set BERT_BASE_DIR, GLUE_DIR (and
XNLI_DIR) to run them on real checkpoints and data. The flags are the README's; only
`create_pretraining_data` is `python -m data_prep.create_pretraining_data` here. The chains run
subprocesses for minutes on 2 cores, so they are `slow` (`bash test.sh -m slow`); the default run
checks the task names on the GLUE files in-process.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests import readme_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")


def _run(command):
  """Runs a README command line (a str, `\\`-continued as in the README); returns stdout+stderr."""
  args = command.replace("\\\n", " ").split()
  program = args[0]
  if program == "python":  # `python run_classifier.py` in the README
    script = args[1]
    args = ([sys.executable, "-m", "data_prep.create_pretraining_data"] if script == "create_pretraining_data.py"
            else [sys.executable, os.path.join(ROOT, "scripts", script)]) + args[2:]
  result = subprocess.run(args, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=1800)
  assert result.returncode == 0, "%s\n%s" % (" ".join(args), result.stderr[-3000:])
  assert "Traceback" not in result.stderr
  return result.stdout + result.stderr


def _key_values(path):
  with open(path, encoding="utf-8") as f:
    return dict(line.rstrip("\n").split(" = ") for line in f if " = " in line)


def _trained_classifier(output_dir):
  """$TRAINED_CLASSIFIER: the fine-tuned classifier's newest `model.ckpt-N`, from its `checkpoint` file."""
  with open(os.path.join(output_dir, "checkpoint"), encoding="utf-8") as f:
    name = re.search(r'^model_checkpoint_path: "(model\.ckpt-\d+)"', f.read(), re.M).group(1)
  return os.path.join(output_dir, name)


@pytest.fixture(scope="module")
def pretraining_output(tmp_path_factory, bert_base_dir):
  """create_pretraining_data and run_pretraining exactly as Google's README (sample_text.txt aside)."""
  tmp = tmp_path_factory.mktemp("readme")
  _run(r"""python create_pretraining_data.py \
  --input_file=%s \
  --output_file=%s/tf_examples.tfrecord \
  --vocab_file=%s/vocab.txt \
  --do_lower_case=True \
  --max_seq_length=128 \
  --max_predictions_per_seq=20 \
  --masked_lm_prob=0.15 \
  --random_seed=12345 \
  --dupe_factor=5""" % (readme_fixtures.SAMPLE_TEXT, tmp, bert_base_dir))
  log = _run(r"""python run_pretraining.py \
  --input_file=%s/tf_examples.tfrecord \
  --output_dir=%s/pretraining_output \
  --do_train=True \
  --do_eval=True \
  --bert_config_file=%s/bert_config.json \
  --init_checkpoint=%s/bert_model.ckpt \
  --train_batch_size=32 \
  --max_seq_length=128 \
  --max_predictions_per_seq=20 \
  --num_train_steps=20 \
  --num_warmup_steps=10 \
  --learning_rate=2e-5""" % (tmp, tmp, bert_base_dir, bert_base_dir))
  assert "Loaded" in log and "bert_model.ckpt" in log  # seeded from $BERT_BASE_DIR
  return str(tmp / "pretraining_output")


@pytest.mark.parametrize("task", ["MRPC", "mrpc", "CoLA", "MNLI", "XNLI"])
def test_original_task_names_read_glue_files_with_the_scripts_options(task, glue_dir):
  """The processor is built as scripts/run_classifier.py builds it (all its generic options passed),
  which raised `TypeError: MrpcProcessor() takes no arguments`; train, dev and test all read."""
  from bert_tf2.tasks.classification import processors
  options = dict(has_header=True, label_column="0", text_a_column="1", text_b_column=None, labels=None,
                 errors="strict")
  processor = processors.get_processor(task, **options)
  data_dir = readme_fixtures.data_dir(glue_dir, task.upper() if task != "CoLA" else task)
  for split in ("train", "dev", "test"):
    examples = getattr(processor, "get_%s_examples" % split)(data_dir)
    assert examples and all(e.text_a for e in examples)
    assert all(e.label in processor.get_labels() for e in examples)


def test_pretraining_writes_the_checkpoint_names_users_chain(pretraining_output):
  assert os.path.exists(os.path.join(pretraining_output, "model.ckpt-20.index"))
  assert _trained_classifier(pretraining_output).endswith("model.ckpt-20")
  assert os.path.exists(os.path.join(pretraining_output, "bert_model.ckpt.index"))
  results = _key_values(os.path.join(pretraining_output, "eval_results.txt"))
  assert results["global_step"] == "20"
  assert {"masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy", "next_sentence_loss", "loss"} <= set(results)


def _fine_tune_and_predict(task, bert_base_dir, glue_dir, pretraining_output, tmp_path, learning_rate, epochs):
  """The README's fine-tuning command from `$OUTPUT_DIR/model.ckpt-20`, then its prediction command
  from `$TRAINED_CLASSIFIER`. Returns (output dir, prediction dir, training log)."""
  data_dir = readme_fixtures.data_dir(glue_dir, task)
  output_dir = tmp_path / ("%s_output" % task.lower())
  log = _run(r"""python run_classifier.py \
  --task_name=%s \
  --do_train=true \
  --do_eval=true \
  --data_dir=%s \
  --vocab_file=%s/vocab.txt \
  --bert_config_file=%s/bert_config.json \
  --init_checkpoint=%s/model.ckpt-20 \
  --max_seq_length=128 \
  --train_batch_size=32 \
  --learning_rate=%s \
  --num_train_epochs=%s \
  --output_dir=%s/""" % (task, data_dir, bert_base_dir, bert_base_dir, pretraining_output, learning_rate, epochs,
                         output_dir))
  # The encoder came from the pretraining checkpoint, the classifier head was new (not the MLM's bias).
  loaded = re.search(r"Loaded (\d+) variables from \S*model\.ckpt-20; missing (\d+)", log)
  assert loaded and int(loaded.group(1)) > 0 and loaded.group(2) == "2", log[-3000:]
  results = _key_values(output_dir / "eval_results.txt")
  assert {"eval_accuracy", "eval_loss", "global_step"} <= set(results)
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  trained_classifier = _trained_classifier(str(output_dir))
  assert trained_classifier.endswith("model.ckpt-%s" % results["global_step"])
  predict_dir = tmp_path / ("%s_predict" % task.lower())
  _run(r"""python run_classifier.py \
  --task_name=%s \
  --do_predict=true \
  --data_dir=%s \
  --vocab_file=%s/vocab.txt \
  --bert_config_file=%s/bert_config.json \
  --init_checkpoint=%s \
  --max_seq_length=128 \
  --output_dir=%s/""" % (task, data_dir, bert_base_dir, bert_base_dir, trained_classifier, predict_dir))
  return output_dir, predict_dir, log


def _expected_probabilities(task, bert_base_dir, glue_dir, trained_classifier):
  """What the trained classifier gives the test examples, computed here with the library."""
  from bert_tf2 import checkpoints, tokenization
  from bert_tf2.core import features
  from bert_tf2.tasks.classification import processors
  from bert_tf2.tasks.classification.model import BertClassifier
  from bert_tf2.modeling import BertConfig
  processor = processors.get_processor(task)
  labels = processor.get_labels()
  model = BertClassifier(BertConfig.from_json_file(os.path.join(bert_base_dir, "bert_config.json")), len(labels))
  status = checkpoints.load_checkpoint(model, trained_classifier)
  assert not status.missing
  tokenizer = tokenization.FullTokenizer(os.path.join(bert_base_dir, "vocab.txt"), do_lower_case=True)
  examples = processor.get_test_examples(readme_fixtures.data_dir(glue_dir, task))
  converted = features.convert_examples_to_features(examples, labels, 128, tokenizer)
  inputs, _ = features.features_to_arrays(converted)
  return model.probabilities(model(inputs, training=False)).numpy()


def _check_predictions(task, bert_base_dir, glue_dir, output_dir, predict_dir):
  with open(predict_dir / "test_results.tsv", encoding="utf-8") as f:
    rows = np.array([[float(x) for x in line.split("\t")] for line in f.read().splitlines()])
  expected = _expected_probabilities(task, bert_base_dir, glue_dir, _trained_classifier(str(output_dir)))
  assert rows.shape == expected.shape
  np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)
  np.testing.assert_allclose(rows, expected, atol=1e-5)  # the fine-tuned head, not a fresh one


def test_mrpc_chain_fine_tunes_from_pretraining_predicts_from_the_trained_classifier_and_extracts(
    tmp_path, bert_base_dir, glue_dir, pretraining_output):
  output_dir, predict_dir, _ = _fine_tune_and_predict("MRPC", bert_base_dir, glue_dir, pretraining_output,
                                                      tmp_path, "2e-5", "3.0")
  _check_predictions("MRPC", bert_base_dir, glue_dir, output_dir, predict_dir)
  (tmp_path / "input.txt").write_text("Who was Jim Henson ? ||| Jim Henson was a puppeteer\n", encoding="utf-8")
  _run(r"""python extract_features.py \
  --input_file=%s/input.txt \
  --output_file=%s/output.jsonl \
  --vocab_file=%s/vocab.txt \
  --bert_config_file=%s/bert_config.json \
  --init_checkpoint=%s/bert_model.ckpt \
  --layers=-1,-2,-3,-4 \
  --max_seq_length=128 \
  --batch_size=8""" % (tmp_path, tmp_path, bert_base_dir, bert_base_dir, bert_base_dir))
  with open(tmp_path / "output.jsonl", encoding="utf-8") as f:
    (line,) = [json.loads(line) for line in f]
  with open(os.path.join(bert_base_dir, "bert_config.json"), encoding="utf-8") as f:
    hidden_size = json.load(f)["hidden_size"]
  from bert_tf2 import tokenization
  tokenizer = tokenization.FullTokenizer(os.path.join(bert_base_dir, "vocab.txt"), do_lower_case=True)
  assert line["linex_index"] == 0
  assert [feature["token"] for feature in line["features"]] == (
      ["[CLS]"] + tokenizer.tokenize("Who was Jim Henson ?") + ["[SEP]"]
      + tokenizer.tokenize("Jim Henson was a puppeteer") + ["[SEP]"])
  for feature in line["features"]:
    assert [layer["index"] for layer in feature["layers"]] == [-1, -2, -3, -4]
    assert all(len(layer["values"]) == hidden_size for layer in feature["layers"])


@pytest.mark.slow
@pytest.mark.parametrize("task,learning_rate,epochs", [("CoLA", "2e-5", "3.0"), ("MNLI", "2e-5", "3.0"),
                                                       ("XNLI", "5e-5", "2.0")])
def test_glue_task_fine_tunes_from_pretraining_and_predicts_from_the_trained_classifier(
    task, learning_rate, epochs, tmp_path, bert_base_dir, glue_dir, pretraining_output):
  output_dir, predict_dir, _ = _fine_tune_and_predict(task, bert_base_dir, glue_dir, pretraining_output,
                                                      tmp_path, learning_rate, epochs)
  _check_predictions(task, bert_base_dir, glue_dir, output_dir, predict_dir)
