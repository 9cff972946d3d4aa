"""Chinese benchmarks as distributed: CLUE's JSON-lines tasks, the TSV corpora, their submission files,
CMRC 2018 / DRCD / DuReader-robust through run_squad, and their one-line errors.

Fixtures: tests/data/clue/<task>/ in each corpus' published layout (CLUE's *_public.zip files,
PaddleNLP's / ERNIE's TSVs, gaussic's cnews.*.txt), with their quirks: CMNLI / OCNLI rows labelled
"-", TNEWS' `label_desc` (train) and `label_des` (dev), OCNLI's train.50k.json, CSL's keyword lists,
WSC's spans, ChnSentiCorp's headers (`qid` in dev and test), BQ's unlabeled headerless test file.
"""

import json
import logging
import os
import shutil
import subprocess
import sys

import pytest

from bert_tf2.tasks.classification import chinese_tsv, clue, processors  # noqa: F401  (registering them)
from bert_tf2.tasks.squad import data as squad_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "clue")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# task: (train, dev, test examples, test guids, text_a of the first train example, its text_b, its label)
LAYOUTS = {
    "tnews": (4, 2, 3, [0, 1, 2], "江疏影甜甜圈自拍，迷之角度竟这么好看", None, "102"),
    "iflytek": (3, 1, 2, [0, 1], "朴朴快送超市，水果蔬菜30分钟配送", None, "110"),
    "afqmc": (3, 1, 2, [0, 1], "双十一花呗提额在哪", "里可以提花呗额度", "0"),
    "ocnli": (3, 1, 2, [0, 1], "身上裹一件工厂发的棉大衣", "身上至少一件衣服", "entailment"),
    "cmnli": (4, 2, 2, [0, 1], "新的权利已经足够好了", "每个人都很喜欢最新的福利", "neutral"),
    "csl": (3, 1, 2, [7, 9], "水声学 FFT 波束形成 3维成像声呐", "为解决传统均匀FFT波束形成算法引起的3维声呐成像分辨率降低的问题",
            "1"),
    "wsc": (3, 1, 2, [0, 1], "这时候放在_床_上枕头旁边的手机响了，我感到奇怪，因为欠费已被停机两个月，现在[它]突然响了。", None,
            "false"),
    "lcqmc": (3, 1, 2, [0, 1], "喜欢打篮球的男生喜欢什么样的女生", "爱打篮球的男生喜欢什么样的女生", "1"),
    "bq": (4, 1, 2, [0, 1], "用微信都6年，微信没有微粒贷功能", "4。  号码来微粒贷", "0"),
    "chnsenticorp": (3, 2, 2, ["0", "1"], "选择珠江花园的原因就是方便，有电动扶梯直接到达海边", None, "1"),
    "thucnews": (3, 2, 2, [0, 1], "马晓旭意外受伤让国奥警惕 无奈大雨格外青睐殷家军", None, "体育"),
}
SUBMISSIONS = {"tnews": "tnews11_predict.json", "iflytek": "iflytek_predict.json", "afqmc": "afqmc_predict.json",
               "ocnli": "ocnli_50k_predict.json", "cmnli": "cmnli_predict.json", "csl": "csl_predict.json",
               "wsc": "cluewsc11_predict.json", "lcqmc": "lcqmc_predict.tsv", "bq": "bq_predict.tsv",
               "chnsenticorp": "chnsenticorp_predict.tsv", "thucnews": "thucnews_predict.tsv"}


def _read(task):
  processor = processors.get_processor(task)
  directory = os.path.join(DATA, task)
  return processor, [processor.get_train_examples(directory), processor.get_dev_examples(directory),
                     processor.get_test_examples(directory)]


@pytest.mark.parametrize("task", sorted(LAYOUTS))
def test_each_reader_reads_its_distributed_layout(task):
  processor, (train, dev, test) = _read(task)
  n_train, n_dev, n_test, test_ids, text_a, text_b, label = LAYOUTS[task]
  assert (len(train), len(dev), len(test)) == (n_train, n_dev, n_test)
  assert (train[0].text_a, train[0].text_b, train[0].label) == (text_a, text_b, label)
  assert [e.guid for e in test] == test_ids and all(e.label is None for e in test)  # test files: no labels
  assert all(e.label in processor.get_labels() for e in train + dev)
  assert all(e.source.startswith(os.path.join(DATA, task)) for e in train + dev + test)


def test_label_lists_are_the_clue_baselines():
  labels = {task: processors.get_processor(task).get_labels() for task in ("tnews", "iflytek", "cmnli", "wsc")}
  assert labels["tnews"] == [str(i) for i in range(100, 117) if i not in (105, 111)]
  assert labels["iflytek"] == [str(i) for i in range(119)]
  assert labels["cmnli"] == ["contradiction", "entailment", "neutral"] == processors.get_processor("ocnli").get_labels()
  assert labels["wsc"] == ["true", "false"]


def test_rows_labelled_dash_are_skipped_counted_and_logged(caplog):
  with caplog.at_level(logging.INFO):
    train = processors.get_processor("cmnli").get_train_examples(os.path.join(DATA, "cmnli"))
  assert [e.guid for e in train] == [0, 1, 2, 4]  # line 4 is "-"; guids stay the row indexes
  skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
  assert len(skipped) == 1 and "cmnli/train.json: skipped 1 rows labelled '-'" in skipped[0]


def test_ocnli_reads_train_50k_and_says_which_files_it_looked_for(tmp_path):
  assert processors.get_processor("ocnli").path(os.path.join(DATA, "ocnli"), "train").endswith("train.50k.json")
  with pytest.raises(ValueError, match=r"ocnli/train.json: file not found \(nor train.50k.json\)"):
    processors.get_processor("ocnli").get_train_examples(str(tmp_path / "ocnli"))


def test_tsv_headers_are_found_by_name():
  _, (train, dev, test) = _read("chnsenticorp")  # train `label text_a`, dev `qid label text_a`, test `qid text_a`
  assert (dev[1].guid, dev[1].label, dev[1].text_a) == ("1", "0", "房间很小，不方便")
  assert test[0].source.endswith("chnsenticorp/test.tsv:2")  # line 1 is the header
  _, (_, _, bq_test) = _read("bq")  # headerless, 2 columns in test
  assert (bq_test[1].text_a, bq_test[1].text_b, bq_test[1].source[-11:]) == (
      "为什么借款后一直没有给我回拨电话", "怎么申请借款后没有打电话过来呢！", "/test.tsv:2")


def test_submission_files_field_by_field():
  processor, (_, _, test) = _read("tnews")
  name, text = processor.submission(test, ["103", "102", "115"])
  assert name == "tnews11_predict.json"
  assert [json.loads(line) for line in text.splitlines()] == [
      {"id": 0, "label": "103", "label_desc": "news_sports"}, {"id": 1, "label": "102", "label_desc": "news_entertainment"},
      {"id": 2, "label": "115", "label_desc": "news_agriculture"}]
  processor, (_, _, test) = _read("csl")  # CSL's own ids
  assert processor.submission(test, ["1", "0"]) == ("csl_predict.json", '{"id": 7, "label": "1"}\n{"id": 9, "label": "0"}\n')
  processor, (_, _, test) = _read("cmnli")  # no ids in the file: the row index
  assert processor.submission(test, ["neutral", "entailment"])[1].splitlines() == [
      '{"id": 0, "label": "neutral"}', '{"id": 1, "label": "entailment"}']
  processor, (_, _, test) = _read("chnsenticorp")
  assert processor.submission(test, ["0", "1"]) == ("chnsenticorp_predict.tsv", "id\tlabel\n0\t0\n1\t1\n")


def _bad_copy(tmp_path, task, split_file, edit):
  directory = tmp_path / task
  shutil.copytree(os.path.join(DATA, task), directory)
  path = directory / split_file
  lines = path.read_text(encoding="utf-8").splitlines()
  edit(lines)
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return str(directory), str(path)


def _set_label(line, label):
  row = json.loads(line)
  row["label"] = label
  return json.dumps(row, ensure_ascii=False)


JSON_FILES = {"tnews": "train.json", "iflytek": "train.json", "afqmc": "train.json", "ocnli": "train.50k.json",
              "cmnli": "train.json", "csl": "train.json", "wsc": "train.json"}


@pytest.mark.parametrize("task", sorted(JSON_FILES))
def test_a_malformed_json_line_or_an_unknown_label_names_file_and_line(task, tmp_path):
  def malformed(lines):
    lines[1] = lines[1][:-1]  # the closing brace

  directory, path = _bad_copy(tmp_path / "a", task, JSON_FILES[task], malformed)
  with pytest.raises(ValueError, match=r"^%s:2: malformed JSON: " % path):
    processors.get_processor(task).get_train_examples(directory)

  def unknown(lines):
    lines[2] = _set_label(lines[2], "999")

  directory, path = _bad_copy(tmp_path / "b", task, JSON_FILES[task], unknown)
  with pytest.raises(ValueError, match=r"^%s:3: label '999' is not one of %s's labels \(" % (path, task)):
    processors.get_processor(task).get_train_examples(directory)


@pytest.mark.parametrize("task,split_file,line", [("lcqmc", "train.tsv", 3), ("bq", "train.tsv", 2),
                                                  ("chnsenticorp", "train.tsv", 2)])
def test_a_tsv_label_not_in_the_list_or_a_short_row_names_file_and_line(task, split_file, line, tmp_path):
  def unknown(lines):
    cells = lines[line - 1].split("\t")
    cells[-1 if task != "chnsenticorp" else 0] = "2"
    lines[line - 1] = "\t".join(cells)

  directory, path = _bad_copy(tmp_path / "a", task, split_file, unknown)
  with pytest.raises(ValueError, match=r"^%s:%d: label '2' is not one of %s's labels \(0, 1\)" % (path, line, task)):
    processors.get_processor(task).get_train_examples(directory)

  def short(lines):
    lines[line - 1] = lines[line - 1].split("\t", 1)[1]

  directory, path = _bad_copy(tmp_path / "b", task, split_file, short)
  with pytest.raises(ValueError, match=r"^%s:%d: expected \d tab-separated columns \(as line 1\), found" % (path, line)):
    processors.get_processor(task).get_train_examples(directory)


def test_a_thucnews_dev_label_unseen_in_train_names_file_and_line(tmp_path, model_files):
  from bert_tf2 import tokenization  # pylint: disable=g-import-not-at-top
  from bert_tf2.core import features  # pylint: disable=g-import-not-at-top
  directory, path = _bad_copy(tmp_path, "thucnews", "cnews.val.txt", lambda lines: lines.__setitem__(1, "财经\t股市"))
  processor = processors.get_processor("thucnews")
  processor.get_train_examples(directory)  # the label set: the train file's
  with pytest.raises(ValueError, match=r"%s:2: label '财经' is not one of" % path):
    features.convert_examples_to_features(processor.get_dev_examples(directory), processor.get_labels(), 32,
                                          tokenization.FullTokenizer(model_files[0]))


def test_wsc_spans_not_at_their_index_name_the_line(tmp_path):
  def moved(lines):
    row = json.loads(lines[0])
    row["target"]["span2_index"] += 1
    lines[0] = json.dumps(row, ensure_ascii=False)

  directory, path = _bad_copy(tmp_path, "wsc", "train.json", moved)
  with pytest.raises(ValueError, match=r"^%s:1: target span2_text '它' is not at span2_index 38" % path):
    processors.get_processor("wsc").get_train_examples(directory)


@pytest.mark.parametrize("corpus,train,dev", [("cmrc2018", "train.json", "dev.json"),
                                              ("drcd", "DRCD_training.json", "DRCD_dev.json"),
                                              ("dureader_robust", "train.json", "dev.json")])
def test_squad_layout_corpora_read_every_answer_at_its_offset(corpus, train, dev):
  directory = os.path.join(DATA, "squad", corpus)
  skipped = []
  examples = squad_data.read_squad_examples(os.path.join(directory, train), True, split_cjk_chars=True,
                                            skipped=skipped)
  assert examples and not skipped
  for e in examples:  # CJK characters are doc tokens; a Latin run keeps its punctuation ("。1963" + "年")
    assert e.orig_answer_text in "".join(e.doc_tokens[e.start_position:e.end_position + 1])
  assert squad_data.read_squad_examples(os.path.join(directory, dev), False, split_cjk_chars=True)


# --- End to end on a tiny model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
  """vocab.txt (every character of the fixtures, alone and as ##c) and a 2-layer config to match."""
  chars = set()
  for root, _, names in os.walk(DATA):
    for name in names:
      with open(os.path.join(root, name), encoding="utf-8") as f:
        chars.update(c for c in f.read().lower() if not c.isspace())
  vocab = SPECIALS + sorted(chars) + sorted("##" + c for c in chars)
  directory = tmp_path_factory.mktemp("clue_model")
  (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  config = {"vocab_size": len(vocab), "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 128, "type_vocab_size": 2,
            "initializer_range": 0.02}
  (directory / "bert_config.json").write_text(json.dumps(config))
  return str(directory / "vocab.txt"), str(directory / "bert_config.json")


def _run(model_files, output_dir, task, data_dir, **kwargs):
  from bert_tf2.tasks.classification import task as classifier  # pylint: disable=g-import-not-at-top
  return classifier.run_classifier(processors.get_processor(task), data_dir, str(output_dir), *model_files,
                                   max_seq_length=48, train_batch_size=2, num_train_epochs=1.0, log_steps=1,
                                   **kwargs)


def _check_submission(task, output_dir):
  processor, (_, _, test) = _read(task)
  path = os.path.join(output_dir, SUBMISSIONS[task])
  with open(path, encoding="utf-8") as f:
    text = f.read()
  if path.endswith(".tsv"):
    rows = [line.split("\t") for line in text.splitlines()]
    assert rows[0] == ["id", "label"] and [r[0] for r in rows[1:]] == [str(e.guid) for e in test]
    labels = [r[1] for r in rows[1:]]
  else:
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["id"] for r in rows] == [e.guid for e in test]
    assert all(set(r) == ({"id", "label", "label_desc"} if task == "tnews" else {"id", "label"}) for r in rows)
    assert task != "tnews" or all(r["label_desc"] == clue.TNEWS_LABEL_DESC[r["label"]] for r in rows)
    labels = [r["label"] for r in rows]
  assert labels and all(label in processor.get_labels() for label in labels)
  with open(os.path.join(output_dir, "test_results.tsv"), encoding="utf-8") as f:
    assert len(f.read().splitlines()) == len(test)


def test_script_trains_evaluates_predicts_and_writes_the_clue_submission(tmp_path, model_files):
  out = tmp_path / "out"
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_classifier.py"), "--task_name=tnews",
                        "--data_dir=" + os.path.join(DATA, "tnews"), "--vocab_file=" + model_files[0],
                        "--bert_config_file=" + model_files[1], "--output_dir=%s" % out, "--do_train", "--do_eval",
                        "--do_predict", "--max_seq_length=48", "--train_batch_size=2", "--num_train_epochs=1"],
                       capture_output=True, text=True, env=env, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  assert "run_classifier: submission_file = %s" % (out / "tnews11_predict.json") in run.stdout
  assert "eval_accuracy" in (out / "eval_results.txt").read_text()
  _check_submission("tnews", str(out))
  # The baselines' own name beside the leaderboard's versioned one, same rows.
  assert (out / "tnews_predict.json").read_text() == (out / "tnews11_predict.json").read_text()


@pytest.mark.slow  # a training run each (~3 s); the default suite runs tnews through the script above
@pytest.mark.parametrize("task", sorted(set(LAYOUTS) - {"tnews"}))
def test_each_task_trains_evaluates_predicts_and_writes_its_submission(task, tmp_path, model_files):
  results = _run(model_files, tmp_path / "out", task, os.path.join(DATA, task), do_train=True, do_eval=True,
                 do_predict=True)
  assert results["num_predictions"] == LAYOUTS[task][2] and "eval_accuracy" in results
  assert results["submission_file"] == str(tmp_path / "out" / SUBMISSIONS[task])
  _check_submission(task, str(tmp_path / "out"))


@pytest.mark.slow  # a training subprocess; the library's errors are tested above
def test_script_bad_input_is_one_line_and_leaves_nothing(tmp_path, model_files):
  directory, path = _bad_copy(tmp_path, "cmnli", "train.json", lambda lines: lines.__setitem__(0, lines[0][:-1]))
  out = tmp_path / "out"
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "run_classifier.py"), "--task_name=cmnli",
                        "--data_dir=" + directory, "--vocab_file=" + model_files[0], "--bert_config_file=" + model_files[1],
                        "--output_dir=%s" % out, "--do_train", "--do_eval"], capture_output=True, text=True, env=env, timeout=600)
  assert run.returncode == 1 and "Traceback" not in run.stderr
  errors = [line for line in run.stderr.splitlines() if line.startswith("run_classifier: error:")]
  assert errors == ["run_classifier: error: %s:1: malformed JSON: Expecting ',' delimiter (column %d)"
                    % (path, len(open(path, encoding="utf-8").readline()))] and not out.exists()


@pytest.mark.slow  # a fine-tuning run each (~5 s)
@pytest.mark.parametrize("corpus,train,dev", [("cmrc2018", "train.json", "dev.json"),
                                              ("drcd", "DRCD_training.json", "DRCD_dev.json"),
                                              ("dureader_robust", "train.json", "dev.json")])
def test_squad_layout_corpora_train_evaluate_and_predict(corpus, train, dev, tmp_path, model_files):
  from bert_tf2.tasks.squad import task as squad_job  # pylint: disable=g-import-not-at-top
  directory = os.path.join(DATA, "squad", corpus)
  out = str(tmp_path / "out")
  results = squad_job.run_squad(out, *model_files, train_file=os.path.join(directory, train),
                                predict_file=os.path.join(directory, dev), do_train=True, do_predict=True,
                                train_batch_size=2, num_train_epochs=2.0, split_cjk_chars=True, max_seq_length=64,
                                doc_stride=24, max_query_length=16)
  with open(os.path.join(out, "predictions.json"), encoding="utf-8") as f:
    predictions = json.load(f)
  with open(os.path.join(directory, dev), encoding="utf-8") as f:
    ids = [qa["id"] for a in json.load(f)["data"] for p in a["paragraphs"] for qa in p["qas"]]
  assert results["train_skipped"] == 0 and results["TOTAL"] == len(ids) and results["SKIP"] == 0  # CMRC 2018's scores
  assert sorted(predictions) == sorted(ids) and all(isinstance(v, str) for v in predictions.values())
  if corpus == "cmrc2018":  # CLUE's test.json has no answers: predictions only, no scores
    again = squad_job.run_squad(out, *model_files, predict_file=os.path.join(directory, "test.json"), do_predict=True,
                                split_cjk_chars=True, max_seq_length=64, doc_stride=24, max_query_length=16)
    assert "F1" not in again
    with open(os.path.join(out, "predictions.json"), encoding="utf-8") as f:
      assert list(json.load(f)) == ["TEST_0_QUERY_0"]
