"""Chinese NER readers on fixtures in the distributed layouts (tests/data/ner/), in-process, no model.

resume/: Lattice LSTM's Resume files (train.char.bmes ..., space-separated BMES, a separator line of
spaces); same_bioes/, same_bio/: the same five sentences in BIOES (tab) and MSRA's BIO layout
(msra_train_bio.txt, no dev file); weibo/: golden-horse's weiboNER_2nd_conll files (tab, BIO,
"口0" = character + its position in its word); cluener/: CLUENER2020 JSON lines, test rows unlabelled.
"""

import json
import os
import random
import shutil

import pytest
from seqeval import metrics as seqeval_metrics
from seqeval.metrics.sequence_labeling import get_entities

from bert_tf2.tasks.tagging import datasets, metrics

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ner")
SAME = {"BMES": ("resume", "char"), "BIOES": ("same_bioes", "char"), "BIO": ("same_bio", "msra")}


def _train(directory, task="char"):
  processor = datasets.get_processor(task)
  return processor, processor.get_train_examples(os.path.join(DATA, directory))


def test_resume_bmes_space_separated_with_a_line_of_spaces_between_sentences():
  processor, examples = _train("resume", "resume")
  assert processor.scheme == "BMES"
  assert [("".join(e.words), e.source.rsplit(":", 1)[1]) for e in examples] == [
      ("高勇：男，中国国籍。", "1"), ("张任董事长。", "12"), ("汉族，北京大学本科。", "19"), ("张王二人", "30"),
      ("现任上海银行行长李明", "35")]
  assert examples[1].tags == ["S-NAME", "O", "B-TITLE", "M-TITLE", "E-TITLE", "O"]
  kinds = ["CONT", "EDU", "NAME", "ORG", "RACE", "TITLE"]
  assert processor.get_labels() == ["O"] + ["%s-%s" % (p, k) for k in kinds for p in "BMES"]
  assert len(processor.get_dev_examples(os.path.join(DATA, "resume"))) == 3


def test_weibo_tab_separated_bio_drops_the_word_position_digits():
  processor, examples = _train("weibo", "weibo")
  assert processor.scheme == "BIO"
  assert examples[0].words == list("我们在北京大学") and examples[0].tags[3] == "B-ORG.NAM"
  assert processor.get_labels() == ["O", "B-GPE.NAM", "I-GPE.NAM", "B-ORG.NAM", "I-ORG.NAM", "B-PER.NAM",
                                    "I-PER.NAM", "B-PER.NOM", "I-PER.NOM"]
  _, kept = _train("weibo", "char")  # the generic task keeps the tokens as written
  assert kept[0].words[:2] == ["我0", "们1"]


def test_bmes_bioes_and_bio_versions_give_the_same_entities_and_seqeval_counts():
  read = {scheme: _train(directory, task) for scheme, (directory, task) in SAME.items()}
  assert {scheme: processor.scheme for scheme, (processor, _) in read.items()} == {s: s for s in SAME}
  spans = {scheme: [metrics.entity_spans(e.tags) for e in examples] for scheme, (_, examples) in read.items()}
  assert spans["BMES"] == spans["BIOES"] == spans["BIO"]
  assert sum(map(len, spans["BIO"])) == 12
  for scheme in ("BIOES", "BIO"):  # seqeval reads no M-: it is given the BIOES and BIO files
    assert [[(k, s, e + 1) for k, s, e in get_entities(ex.tags)] for ex in read[scheme][1]] == spans["BIO"]


def _perturbed(tags, rng, kinds):
  """Predictions: gold with entities dropped, retyped, cut short, and stray tags (ill-formed too)."""
  out = list(tags)
  for i, tag in enumerate(out):
    r = rng.random()
    if r < 0.1:
      out[i] = "O"
    elif r < 0.2 and tag != "O":
      out[i] = tag[:2] + rng.choice(kinds)
    elif r < 0.25:
      out[i] = rng.choice("BIES") + "-" + rng.choice(kinds)
  return out


@pytest.mark.parametrize("scheme", ["BMES", "BIOES", "BIO"])
def test_entity_f1_equals_seqeval_on_each_version(scheme):
  processor, examples = _train(*SAME[scheme])
  kinds = sorted({t[2:] for e in examples for t in e.tags if t != "O"})
  rng = random.Random(3)
  gold = [e.tags for e in examples] * 8
  predicted = [_perturbed(t, rng, kinds) for t in gold]
  if scheme == "BMES":
    predicted = [[t.replace("I-", "M-") for t in p] for p in predicted]
  ours = metrics.entity_scores(gold, predicted)
  as_seqeval = [[t.replace("M-", "I-") for t in seq] for seq in gold], [[t.replace("M-", "I-") for t in seq]
                                                                       for seq in predicted]
  assert ours["f1"] == pytest.approx(seqeval_metrics.f1_score(*as_seqeval))
  assert ours["precision"] == pytest.approx(seqeval_metrics.precision_score(*as_seqeval))
  assert 0.2 < ours["f1"] < 0.95


def test_cluener_nested_label_dict_to_bioes_and_unlabelled_test_rows():
  processor, examples = _train("cluener", "cluener")
  assert processor.scheme == "BIOES" and len(processor.get_labels()) == 41
  second = examples[1]
  assert second.tags[:2] == ["B-address", "E-address"] and second.tags[6:8] == ["B-address", "E-address"]
  assert second.tags[9:14] == ["B-movie", "I-movie", "I-movie", "I-movie", "E-movie"]
  assert examples[2].tags == ["O"] * 10
  test = processor.get_test_examples(os.path.join(DATA, "cluener"))
  assert [(e.row_id, e.tags) for e in test] == [(0, None), (1, None), (2, None)]


def test_cluener_submission_file_field_by_field(tmp_path):
  processor = datasets.get_processor("cluener")
  directory = os.path.join(DATA, "cluener")
  dev = processor.get_dev_examples(directory)
  path = processor.write_predictions(str(tmp_path), dev, [e.tags for e in dev])
  assert os.path.basename(path) == "cluener_predict.json" and os.listdir(tmp_path) == ["cluener_predict.json"]
  with open(os.path.join(directory, "dev.json"), encoding="utf-8") as f:
    expected = [json.loads(line)["label"] for line in f]
  rows = [json.loads(line) for line in open(path, encoding="utf-8")]
  assert [r["id"] for r in rows] == [0, 1]  # dev rows have no id: their row numbers
  for row, label in zip(rows, expected):
    assert set(row) == {"id", "label"}
    assert row["label"] == label  # type -> span text -> [[start, end], ...], inclusive ends
  test = processor.get_test_examples(directory)
  processor.write_predictions(str(tmp_path), test, [["O", "B-address", "E-address", "O", "O", "S-name"],
                                                    ["B-address", "E-address", "O", "B-name", "E-name"], []])
  rows = [json.loads(line) for line in open(path, encoding="utf-8")]
  assert rows == [{"id": 0, "label": {"address": {"川敦": [[1, 2]]}, "name": {"。": [[5, 5]]}}},
                  {"id": 1, "label": {"address": {"台湾": [[0, 1]]}, "name": {"张三": [[3, 4]]}}},
                  {"id": 2, "label": {}}]


BAD = {  # name: (directory, file, line number, replacement line (None: append), task, message fragment)
    "malformed_json": ("cluener", "train.json", 2, '{"text": "台湾", "label": ', "cluener", "not valid JSON"),
    "unknown_type": ("cluener", "dev.json", 1, '{"text": "台湾", "label": {"city": {"台湾": [[0, 1]]}}}', "cluener",
                     "label type 'city' is not one of address"),
    "offsets_outside": ("cluener", "train.json", 3, '{"text": "台湾", "label": {"address": {"台湾": [[1, 2]]}}}',
                        "cluener", "outside the text (2 characters)"),
    "offsets_mismatch": ("cluener", "train.json", 1, '{"text": "去台湾", "label": {"address": {"台湾": [[0, 1]]}}}',
                         "cluener", "does not match the text there ('去台')"),
    "m_without_b": ("resume", "train.char.bmes", 4, "男 M-CONT", "resume", "M-CONT with no B-CONT before it"),
    "e_without_b": ("resume", "test.char.bmes", 2, "王 E-NAME", "resume", "E-NAME with no B-NAME before it"),
    "one_column": ("resume", "dev.char.bmes", 3, "：", "resume", "expected 'char tag', found one column"),
    "i_in_bmes": ("resume", "dev.char.bmes", 2, "勇 I-NAME", "msra_bmes", "I- tag in a BMES file"),
    "i_and_m_mixed": ("resume", "dev.char.bmes", 2, "勇 I-NAME", "resume", "I- tag, but M- tags before it"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_error_naming_file_and_line(case, tmp_path):
  directory, name, number, line, task, fragment = BAD[case]
  shutil.copytree(os.path.join(DATA, directory), tmp_path / "data")
  path = tmp_path / "data" / name
  lines = path.read_text(encoding="utf-8").split("\n")
  lines[number - 1] = line
  path.write_text("\n".join(lines), encoding="utf-8")
  with pytest.raises(ValueError) as error:
    datasets.get_processor(task).get_train_examples(str(tmp_path / "data"))
    datasets.get_processor(task).get_dev_examples(str(tmp_path / "data"))  # CLUENER reads per split
  message = str(error.value)
  assert message.startswith("%s:%d: " % (path, number)) and fragment in message and "\n" not in message


def test_unclosed_b_and_mixed_schemes_are_errors(tmp_path):
  (tmp_path / "train.char.bmes").write_text("北 B-LOC\n在 O\n\n京 M-LOC\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"train.char.bmes:1: the entity B-LOC of line 1 is not closed"):
    datasets.get_processor("char").get_train_examples(str(tmp_path))
  (tmp_path / "train.char.bmes").write_text("北 B-LOC\n京 I-LOC\n\n上 B-LOC\n海 M-LOC\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"train.char.bmes:5: M- tag, but I- tags before it \(.*:2\)"):
    datasets.get_processor("char").get_train_examples(str(tmp_path))


def test_saved_labels_fix_the_scheme_and_reject_unknown_tags(tmp_path):
  processor = datasets.get_processor("resume")
  processor.set_labels(["O"] + ["%s-%s" % (p, k) for k in ("NAME", "ORG", "TITLE") for p in "BMES"], "tagger_config.json")
  assert processor.scheme == "BMES"
  assert len(processor.get_test_examples(os.path.join(DATA, "resume"))) == 2  # NAME, ORG, TITLE only
  with pytest.raises(ValueError, match=r"dev.char.bmes:6: tag 'B-CONT' is not one of the model's tags "
                                       r"\(tagger_config.json\)"):
    processor.get_dev_examples(os.path.join(DATA, "resume"))
  with pytest.raises(ValueError, match="unknown task_name 'nope'; one of char, char_bio"):
    datasets.get_processor("nope")
  with pytest.raises(ValueError, match="tag_scheme is for the character-per-line tasks"):
    datasets.get_processor("cluener", "bio")
