"""CoNLL reading, word -> word-piece alignment, windows and their maximum-context merge, entity scores."""

import random

import numpy as np
import pytest

from bert_tf2.core import windows
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import metrics as tagging_metrics
from bert_tf2.tasks.tagging.data import TaggingExample
from bert_tf2.tokenization import FullTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##want", "##ed", "run", "##ning", ",",
         "北", "京", "在", "１", "##２", "ｉ", "a", "."]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
  return FullTokenizer(str(path), do_lower_case=True)


def _write(directory, name, text):
  path = directory / name
  path.write_text(text, encoding="utf-8")
  return str(path)


# --- alignment ---


def test_first_piece_of_each_word_carries_its_tag(tokenizer):
  example = TaggingExample("x", ["Unwanted", "running", ",", "北"], ["B-X", "I-X", "O", "B-LOC"])
  [feature] = tagging_data.convert_examples_to_features([example], ["O", "B-X", "I-X", "B-LOC"], 16, tokenizer)
  pieces = tokenizer.convert_ids_to_tokens(feature.input_ids[:9])
  assert pieces == ["[CLS]", "un", "##want", "##ed", "run", "##ning", ",", "北", "[SEP]"]
  assert feature.label_mask[:9] == [0, 1, 0, 0, 1, 0, 1, 1, 0]
  assert feature.label_ids[:9] == [0, 1, 0, 0, 2, 0, 0, 3, 0]
  assert feature.word_ids[:9] == [-1, 0, -1, -1, 1, -1, 2, 3, -1]


def test_unknown_full_width_and_latin_characters_inside_chinese(tokenizer):
  # Character tokens as in People's Daily: full-width digits and Latin letters are words of their own.
  words = list("在ＩＢ１２京") + ["\u200b"]  # \u200b (a format character) has no word piece
  pieces, first = tagging_data.tokenize_words(words, tokenizer)
  assert pieces == ["在", "ｉ", "[UNK]", "１", "[UNK]", "京"]  # "Ｉ" lower-cases to "ｉ"; "２" alone is not "##２"
  assert first == [0, 1, 2, 3, 4, 5, None]
  example = TaggingExample("x", words, ["O"] * 7)
  tags = tagging_data.merge_window_predictions(
      [example], tagging_data.convert_examples_to_features([example], ["O", "B-X"], 16, tokenizer),
      np.ones((1, 16), np.int32), ["O", "B-X"])
  assert tags == [["B-X"] * 6 + ["O"]]  # the word without pieces is predicted O


def test_a_word_split_by_punctuation_keeps_one_tag(tokenizer):
  pieces, first = tagging_data.tokenize_words(["a.a", "a"], tokenizer)
  assert pieces == ["a", ".", "a", "a"] and first == [0, 3]


# --- windows (the helper itself: tests/test_windows.py) ---


def test_a_sentence_without_pieces_keeps_one_empty_window(tokenizer):
  example = TaggingExample("x", ["\u200b"], ["O"])
  [feature] = tagging_data.convert_examples_to_features([example], ["O"], 8, tokenizer)
  assert tokenizer.convert_ids_to_tokens(feature.input_ids[:3]) == ["[CLS]", "[SEP]", "[PAD]"]
  assert sum(feature.label_mask) == 0 and feature.window_start == 0


def test_windowed_features_merge_each_word_from_its_maximum_context_window(tokenizer):
  words = list("北京在") * 4  # 12 one-piece words
  example = TaggingExample("x", words, ["O"] * 12)
  features = tagging_data.convert_examples_to_features([example], ["O"], 6, tokenizer, doc_stride=2)
  assert [f.window_start for f in features] == [0, 2, 4, 6, 8]
  # Every window "predicts" its own index: each word must show the window that gives it most context.
  predicted = np.array([[i] * 6 for i in range(len(features))])
  merged = tagging_data.merge_window_predictions([example], features, predicted, ["w0", "w1", "w2", "w3", "w4"])
  spans = windows.doc_spans(12, 4, 2)
  assert merged == [["w%d" % windows.max_context_span(spans, p) for p in range(12)]]
  assert all(sum(f.is_max_context) <= sum(f.label_mask) for f in features)


# --- CoNLL files and their errors ---


def test_conll_processor_reads_tags_from_train(tmp_path):
  _write(tmp_path, "train.txt", "-DOCSTART- O\n\n江 B-PER\n泽 I-PER\n\n在 O\n北 B-LOC\n")
  _write(tmp_path, "dev.txt", "北 B-LOC\n京 I-PER\n")
  processor = tagging_data.get_tagging_processor("conll")
  train = processor.get_train_examples(str(tmp_path))
  assert [e.words for e in train] == [["江", "泽"], ["在", "北"]]
  assert train[1].source.endswith("train.txt:6")
  assert processor.get_labels() == ["O", "B-LOC", "B-PER", "I-PER"]
  assert processor.get_dev_examples(str(tmp_path))[0].tags == ["B-LOC", "I-PER"]


@pytest.mark.parametrize("files, split, message", [
    ({"train.txt": "江 B-PER\n泽\n"}, "train", r"train.txt:2: expected 2 columns \(token tag\), found 1"),
    ({"train.txt": "江 B-PER extra\n"}, "train", r"train.txt:1: expected 2 columns"),
    ({"train.txt": "江 B-PER\n", "dev.txt": "\n在 O\n北 B-LOC\n"}, "dev", r"dev.txt:3: tag 'B-LOC' does not occur in .*train.txt"),
    ({"train.txt": "\n\n"}, "train", r"train.txt: the file is empty"),
    ({"train.txt": "江 B-PER\n"}, "test", r"test.txt: file not found"),
    ({"train.txt": "江 PER\n"}, "train", r"train.txt:1: tag 'PER' is not a BIO tag"),
    ({"train.txt": b"\xe6\xb1 O\n"}, "train", r"train.txt:1: not valid UTF-8"),
])
def test_bad_conll_input_is_one_error_naming_file_and_line(tmp_path, files, split, message):
  for name, text in files.items():
    (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
  processor = tagging_data.get_tagging_processor("conll")
  with pytest.raises(ValueError, match=message) as error:
    if split != "train":
      processor.get_train_examples(str(tmp_path))
    getattr(processor, "get_%s_examples" % split)(str(tmp_path))
  assert "\n" not in str(error.value)


def test_bioes_processor_accepts_e_and_s_tags(tmp_path):
  _write(tmp_path, "train.txt", "北 B-LOC\n京 E-LOC\n在 O\n江 S-PER\n")
  processor = tagging_data.get_tagging_processor("conll_bioes")
  processor.get_train_examples(str(tmp_path))
  assert processor.get_labels() == ["O", "B-LOC", "E-LOC", "S-PER"]
  with pytest.raises(ValueError, match="unknown task_name"):
    tagging_data.get_tagging_processor("nope")


# --- entities and scores ---


def test_entity_spans_as_conlleval():
  tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "O", "B-PER"]
  assert tagging_metrics.entity_spans(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("ORG", 6, 7),
                                                ("PER", 8, 9)]
  assert tagging_metrics.entity_spans(["B-X", "E-X", "S-X", "I-X", "E-X"]) == [("X", 0, 2), ("X", 2, 3), ("X", 3, 5)]


def test_entity_scores_hand_worked():
  gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
  predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-LOC"]]
  scores = tagging_metrics.entity_scores(gold, predicted)
  # gold 3 entities, predicted 3 (PER correct, ORG too short, LOC spurious): P = R = 1/3.
  assert (scores["correct"], scores["predicted"], scores["gold"]) == (1, 3, 3)
  assert scores["f1"] == pytest.approx(1 / 3)
  assert scores["token_accuracy"] == pytest.approx(4 / 7)
  assert scores["per_type"]["PER"]["f1"] == 1.0 and scores["per_type"]["LOC"]["precision"] == 0.0
  assert "eval_LOC_f1 = 0.0" in tagging_metrics.format_scores(scores)


def test_entity_scores_equal_seqeval_on_random_tags():
  seqeval = pytest.importorskip("seqeval.metrics")
  rng = random.Random(0)
  tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
  gold = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(300)]
  predicted = [[t if rng.random() < 0.7 else rng.choice(tags) for t in row] for row in gold]
  ours = tagging_metrics.entity_scores(gold, predicted)
  assert ours["f1"] == pytest.approx(seqeval.f1_score(gold, predicted))
  assert ours["precision"] == pytest.approx(seqeval.precision_score(gold, predicted))
  assert ours["recall"] == pytest.approx(seqeval.recall_score(gold, predicted))
  report = seqeval.classification_report(gold, predicted, output_dict=True)
  for kind in ("PER", "LOC", "ORG"):
    assert ours["per_type"][kind]["f1"] == pytest.approx(report[kind]["f1-score"])


def test_text_entities_read_through_whitespace():
  text = "John  Smith 在北京 "
  tags = ["B-PER", "I-PER", "I-PER", "I-PER", "O", "O", "I-PER", "I-PER", "I-PER", "I-PER", "I-PER", "O", "O",
          "B-LOC", "I-LOC", "O", "", ""]
  assert tagging_metrics.text_entities(text, tags) == [("PER", 0, 11, "John  Smith"), ("LOC", 13, 15, "北京")]


def test_raw_texts_are_cut_into_sentences_after_sentence_ends():
  assert tagging_data.split_sentences("好。再见！\n新华社") == ["好。", "再见！", "\n", "新华社"]
  assert tagging_data.split_sentences("") == [] and tagging_data.split_sentences("a。", ends="") == ["a。"]
