"""Processors read their files as the original run_classifier.py; bad files fail naming file:line."""

import os

import pytest

from bert_tf2.tasks.classification import processors
from bert_tf2.core.features import convert_examples_to_features
from bert_tf2.tokenization import FullTokenizer
from data_prep import corpora
from tests import original_bert

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _fields(examples):
  return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


@pytest.mark.parametrize("task", ["cola", "mnli", "mrpc", "xnli"])
def test_original_processors_read_as_the_original(task):
  original = getattr(original_bert.load("run_classifier"), task.capitalize() + "Processor")()
  ours = processors.get_processor(task)
  data_dir = os.path.join(DATA, "clf_" + task)
  splits = ["train", "dev"] + ([] if task == "xnli" else ["test"])  # the original xnli has no test
  for split in splits:
    expected = _fields(getattr(original, "get_%s_examples" % split)(data_dir))
    assert _fields(getattr(ours, "get_%s_examples" % split)(data_dir)) == expected, split
  assert ours.get_labels() == original.get_labels()


def test_xnli_keeps_its_language_and_maps_contradictory():
  processor = processors.get_processor("xnli")
  train = processor.get_train_examples(os.path.join(DATA, "clf_xnli"))
  assert [e.label for e in train] == ["neutral", "contradiction"]
  assert len(processor.get_dev_examples(os.path.join(DATA, "clf_xnli"))) == 2  # the "en" row is dropped
  assert processor.get_test_examples(os.path.join(DATA, "clf_xnli"))[0].text_b == "我还没有和他再次谈论。"


def test_tsv_with_header_picks_columns_by_name_and_labels_from_train():
  processor = processors.get_processor("tsv", label_column="label", text_a_column="text")
  data_dir = os.path.join(DATA, "clf_tsv")
  train = processor.get_train_examples(data_dir)
  assert _fields(train)[0] == ("train-1", "很好，非常满意", None, "1")
  assert processor.get_labels() == ["0", "1"]
  test = processor.get_test_examples(data_dir)  # no label column: unlabeled
  assert [(e.text_a, e.label) for e in test] == [("还可以", None), ("不好", None)]
  assert test[0].source.endswith("test.tsv:2")


def test_csv_without_header_picks_columns_by_index_and_reads_quotes():
  processor = processors.get_processor("csv", has_header=False, label_column=2, text_a_column=0,
                                       text_b_column=1)
  train = processor.get_train_examples(os.path.join(DATA, "clf_csv"))
  assert _fields(train)[0] == ("train-0", "the cat sat on the mat", "a cat, sitting on a mat", "yes")
  assert processor.get_labels() == ["no", "yes"]
  assert len(processor.get_dev_examples(os.path.join(DATA, "clf_csv"))) == 2


def test_jsonl_multilabel_reads_label_lists():
  processor = processors.get_processor("jsonl_multilabel")
  train = processor.get_train_examples(os.path.join(DATA, "clf_jsonl"))
  assert processor.is_multi_label
  assert train[0].label == ["price", "shipping"] and train[3].label == []
  assert processor.get_labels() == ["price", "quality", "shipping"]
  assert processor.get_test_examples(os.path.join(DATA, "clf_jsonl"))[0].label is None


def test_processor_module_registers_user_processors_by_name(tmp_path, monkeypatch):
  (tmp_path / "my_tasks.py").write_text(
      "from bert_tf2.tasks.classification.processors import DataProcessor\n"
      "class SpamProcessor(DataProcessor):\n"
      "  def get_labels(self):\n"
      "    return ['ham', 'spam']\n"
      "class Other(DataProcessor):\n"
      "  name = 'my_other'\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  assert sorted(processors.load_processor_module("my_tasks")) == ["SpamProcessor", "my_other"]
  assert processors.get_processor("spam").get_labels() == ["ham", "spam"]
  assert "my_other" in processors.known_tasks()


def test_unknown_task_lists_the_known_ones():
  with pytest.raises(ValueError, match=r"unknown task_name 'nope'; known tasks: (.*, )?cola, (.*, )?csv, .*mrpc"):
    processors.get_processor("nope")


def test_missing_file_is_named(tmp_path):
  with pytest.raises(ValueError, match=r"train.tsv: file not found"):
    processors.get_processor("mrpc").get_train_examples(str(tmp_path))


def test_empty_split_file_is_named(tmp_path):
  (tmp_path / "dev.tsv").write_text("")
  with pytest.raises(ValueError, match=r"dev.tsv: the file is empty"):
    processors.get_processor("tsv").get_dev_examples(str(tmp_path))
  (tmp_path / "train.jsonl").write_text("\n")
  with pytest.raises(ValueError, match=r"train.jsonl: the file is empty"):
    processors.get_processor("jsonl_multilabel").get_train_examples(str(tmp_path))


def test_wrong_number_of_columns_names_file_and_line(tmp_path):
  (tmp_path / "train.tsv").write_text("label\ttext\n1\tgood\n0\tbad\textra\n")
  with pytest.raises(ValueError, match=r"train.tsv:3: expected 2 columns \(as line 1\), found 3"):
    processors.get_processor("tsv").get_train_examples(str(tmp_path))
  (tmp_path / "dev.tsv").write_text("h\th\th\th\th\n1\t1\t2\tonly a\n")
  with pytest.raises(ValueError, match=r"dev.tsv:2: expected at least 5 columns, found 4"):
    processors.get_processor("mrpc").get_dev_examples(str(tmp_path))


def test_label_not_in_get_labels_names_file_and_line(tmp_path):
  (tmp_path / "dev.tsv").write_text("h\th\th\th\th\n2\t1\t2\ta\tb\n")
  examples = processors.get_processor("mrpc").get_dev_examples(str(tmp_path))
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n")
  with pytest.raises(ValueError, match=r"dev.tsv:2: label '2' is not one of get_labels\(\): 0, 1"):
    convert_examples_to_features(examples, ["0", "1"], 8, FullTokenizer(str(vocab)))


def test_invalid_jsonl_line_is_named(tmp_path):
  (tmp_path / "train.jsonl").write_text('{"text": "a", "label": ["x"]}\n{"text": "b", "label": "x"}\n')
  with pytest.raises(ValueError, match=r"train.jsonl:2: \"label\" must be a list"):
    processors.get_processor("jsonl_multilabel").get_train_examples(str(tmp_path))


def test_sentiment_split_is_deterministic_and_disjoint(tmp_path):
  counts = corpora.write_sentiment_split(str(tmp_path), seed=1)
  assert counts == {"train": 13928, "dev": 1741, "test": 1741}
  texts = {}
  for split in counts:
    with open(tmp_path / (split + ".tsv"), encoding="utf-8") as f:
      texts[split] = {line.split("\t", 1)[1] for line in list(f)[1:]}
  assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
