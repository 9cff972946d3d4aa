"""The one runner, for every family alike: the same bad-input classes end in one line before any work,
and restoring never leaves a head silently at its initial values."""

import json
import os

import pytest

from bert_tf2.tasks import registry, runner
from bert_tf2.tasks.classification import processors
from bert_tf2 import checkpoints
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tasks.classification.task import ClassificationTask
from bert_tf2.tasks.multiple_choice.task import MultipleChoiceTask
from bert_tf2.tasks.regression.task import RegressionTask
from bert_tf2.tasks.squad.task import SquadTask
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging.task import TaggingTask
from tests import multiple_choice_data, squad_data

FAMILIES = ["classifier", "regression", "multiple_choice", "tagger", "squad"]

CONLL = "the B-X\ncat I-X\nsat O\n\na O\ndog B-X\n"


GBK = "\n一个\n".encode("gbk")  # the first byte that is no UTF-8 is on line 2 (0xd2)


@pytest.fixture(scope="module")
def data(tmp_path_factory, glue_dir):
  """{family: task factory(bad)}: each family's tiny files; bad=True: its train file with GBK bytes."""
  root = tmp_path_factory.mktemp("families")
  for name in ("ner", "ner_bad", "squad", "mrpc_bad", "stsb_bad", "swag", "swag_bad"):
    (root / name).mkdir()
  for split in ("train", "dev", "test"):
    (root / "ner" / (split + ".txt")).write_text(CONLL, encoding="utf-8")
  (root / "ner_bad" / "train.txt").write_bytes(b"the O" + GBK)
  (root / "mrpc_bad" / "train.tsv").write_bytes(b"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String" + GBK)
  squad = squad_data.write_files(root / "squad", version_2=False)
  (root / "squad" / "bad.json").write_bytes(b'{"data": []' + GBK)
  (root / "stsb_bad" / "train.tsv").write_bytes(b"index\tsentence1\tsentence2\tscore" + GBK)
  multiple_choice_data.write_swag(root / "swag")
  (root / "swag_bad" / "train.csv").write_bytes(b",video-id,fold-ind,startphrase,sent1,sent2" + GBK)
  mrpc = os.path.join(glue_dir, "MRPC")
  stsb = os.path.join(os.path.dirname(__file__), "data", "regression", "stsb")
  return {
      "regression": lambda bad=False: RegressionTask(processors.get_processor("sts-b"),
                                                     str(root / "stsb_bad") if bad else stsb),
      "multiple_choice": lambda bad=False: MultipleChoiceTask("swag", str(root / ("swag_bad" if bad else "swag"))),
      "classifier": lambda bad=False: ClassificationTask(processors.get_processor("mrpc"),
                                                         str(root / "mrpc_bad") if bad else mrpc),
      "tagger": lambda bad=False: TaggingTask(tagging_data.get_tagging_processor("conll"),
                                              str(root / ("ner_bad" if bad else "ner")), doc_stride=4),
      "squad": lambda bad=False: SquadTask(str(root / "squad" / "bad.json") if bad else squad["en"], squad["en"],
                                           doc_stride=8, max_query_length=8),
  }


def _run(task, bert_base_dir, output_dir, **kwargs):
  args = dict(vocab_file=os.path.join(bert_base_dir, "vocab.txt"),
              bert_config_file=os.path.join(bert_base_dir, "bert_config.json"), max_seq_length=32,
              do_train=True, train_batch_size=2, num_train_epochs=1.0)
  args.update(kwargs)
  return runner.run(task, str(output_dir), **args)


def _one_line(excinfo, *fragments):
  message = str(excinfo.value)
  assert "\n" not in message, message
  for fragment in fragments:
    assert fragment in message, message


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_checks_inputs_and_outputs_before_any_work(family, data, bert_base_dir, tmp_path):
  config = json.load(open(os.path.join(bert_base_dir, "bert_config.json"), encoding="utf-8"))
  small = tmp_path / "small_config.json"
  small.write_text(json.dumps(dict(config, vocab_size=100)), encoding="utf-8")
  out = tmp_path / "out"
  cases = [
      (dict(bert_config_file=str(small)), ("vocab.txt has", "vocab_size=100")),
      (dict(init_checkpoint=str(tmp_path / "nothing" / "bert_model.ckpt")), ("init_checkpoint", "no checkpoint")),
      (dict(max_seq_length=1000), ("max_seq_length 1000 exceeds max_position_embeddings",)),
      (dict(export_dir="/proc/1/export" if os.geteuid() == 0 else "/nonexistent/export"), ("export_dir",)),
  ]
  for kwargs, fragments in cases:
    with pytest.raises(ValueError) as excinfo:
      _run(data[family](), bert_base_dir, out, **kwargs)
    _one_line(excinfo, *fragments)
    assert not out.exists()  # nothing made before the checks passed
  with pytest.raises(ValueError) as excinfo:
    _run(data[family](bad=True), bert_base_dir, out)
  _one_line(excinfo, ":2: ", "UTF-8")
  assert not out.exists()


@pytest.mark.parametrize("family, head", [("classifier", "output_weights"), ("regression", "output_weights"),
                                          ("multiple_choice", "output_weights"), ("tagger", "output_weights"),
                                          ("squad", "cls/squad/output_weights")])
def test_restoring_a_checkpoint_without_the_head_fails_naming_it(family, head, data, bert_base_dir, tmp_path):
  """A pretrained encoder is fine to start training from, never to evaluate, predict or export with."""
  with pytest.raises(ValueError) as excinfo:
    _run(data[family](), bert_base_dir, tmp_path / "out", do_train=False, do_predict=True,
         init_checkpoint=os.path.join(bert_base_dir, "bert_model.ckpt"))
  _one_line(excinfo, "bert_model.ckpt: has no weights for", head, "fine-tune it with do_train first")
  assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def other_shape_checkpoint(bert_base_dir, tmp_path_factory):
  """A Google checkpoint of an encoder with another intermediate size than bert_base_dir's config."""
  config = BertConfig.from_json_file(os.path.join(bert_base_dir, "bert_config.json"))
  path = str(tmp_path_factory.mktemp("other_shape") / "bert_model.ckpt")
  return checkpoints.save_google_checkpoint(BertModel(config.copy(intermediate_size=48)), path)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_checkpoint_of_other_shapes_fails_naming_the_variable(family, data, bert_base_dir, other_shape_checkpoint,
                                                                tmp_path):
  with pytest.raises(ValueError) as excinfo:
    _run(data[family](), bert_base_dir, tmp_path / "out", do_train=False, do_predict=True,
         init_checkpoint=other_shape_checkpoint)
  _one_line(excinfo, "intermediate/dense/kernel has shape (32, 48) but the model expects (32, 64)")
  assert not (tmp_path / "out").exists()


def test_export_from_a_directory_of_no_family_is_one_line(tmp_path):
  with pytest.raises(ValueError) as excinfo:
    registry.export_from_dir(str(tmp_path), str(tmp_path / "export"))
  _one_line(excinfo, "not a fine-tuning output_dir", "classifier_config.json", "tagger_config.json")


@pytest.mark.slow  # a training subprocess per family (~10 s each); Ctrl-C handling itself is `cli.run`'s, shared
@pytest.mark.parametrize("script", ["run_classifier", "run_multiple_choice", "run_ner", "run_squad"])
def test_ctrl_c_while_fine_tuning_is_one_line_and_leaves_nothing(script, bert_base_dir, glue_dir, tmp_path):
  import signal  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  out = tmp_path / "out"
  flags = ["--vocab_file=%s/vocab.txt" % bert_base_dir, "--bert_config_file=%s/bert_config.json" % bert_base_dir,
           "--output_dir=%s" % out, "--do_train", "--max_seq_length=32", "--train_batch_size=2",
           "--num_train_epochs=100000", "--save_checkpoints_steps=1000000", "--log_steps=1"]
  if script == "run_classifier":
    flags += ["--task_name=mrpc", "--data_dir=%s" % os.path.join(glue_dir, "MRPC")]
  elif script == "run_multiple_choice":
    multiple_choice_data.write_swag(tmp_path)
    flags += ["--task_name=swag", "--data_dir=%s" % tmp_path]
  elif script == "run_ner":
    (tmp_path / "train.txt").write_text(CONLL, encoding="utf-8")
    flags += ["--task_name=conll", "--data_dir=%s" % tmp_path]
  else:
    files = squad_data.write_files(tmp_path, version_2=False)
    flags += ["--train_file=%s" % files["en"], "--doc_stride=8", "--max_query_length=8"]
  env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3")
  proc = subprocess.Popen([sys.executable, os.path.join(root, "scripts", script + ".py")] + flags, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ours is ignored
  deadline = time.time() + 300
  # Interrupted once the first step's scalars are in TensorBoard's file: training is under way.
  while proc.poll() is None and time.time() < deadline and not (
      (out / "train").is_dir() and any(p.stat().st_size > 200 for p in (out / "train").iterdir())):
    time.sleep(0.05)
  assert proc.poll() is None, proc.stderr.read()[-2000:]
  os.killpg(proc.pid, signal.SIGINT)
  _, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 130, stderr[-2000:]
  assert "Traceback" not in stderr and stderr.rstrip().splitlines()[-1] == "%s: interrupted" % script
  assert not out.exists()  # no checkpoint yet: nothing worth keeping
