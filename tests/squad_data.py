"""Small SQuAD 1.1 / 2.0 files and a vocab to match, for tests/test_squad*.py.

English paragraphs long enough for several doc spans at max_seq_length 32-48, answers at the edges
of the context, punctuation inside answers, a character sub-span of a word ("Japan" in "Japanese"),
an answer holding U+00A0 and one whose offset points elsewhere (both skipped in training), accents,
tabs, double spaces, U+202F; Chinese paragraphs without spaces, with a repeated answer (annotated at
its second occurrence), full-width digits and mixed Latin text; SQuAD 2.0 unanswerable questions.
"""

import json

from bert_tf2 import tokenization

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

EN_1 = ("The Japanese electronics industry is the largest in the world. John Smith (1895-1943) was born in "
        "Hamburg, Germany. Steve Smith's company, U.S. Robotics, sold 3,000 modems  in 1998.\nIts motto: "
        "\"faster, better!\" Zoë Ångström visited the Naïve Café\u00a0Paris on 12\u202fMay.")
EN_2 = ("the dog is hairy . the cat runs fast and the dog runs fast and the cat is hairy .\tunwanted , "
        "running dogs were seen in the park near the old mill , where jim henson was a puppeteer . "
        "the puppeteer liked the dog and the cat , but the cat liked the mill more than the park .")
ZH_1 = ("中共中央总书记、国家主席江泽民发表了１９９８年新年讲话《迈向充满希望的新世纪》。江泽民指出，"
        "北京和上海的经济发展很快，ＢＥＲＴ模型也在2018年发布。北京是首都。")
ZH_2 = "新华社北京十二月三十一日电　今天，李鹏总理在人民大会堂会见了外国客人。李鹏说，中国人民欢迎朋友。"


def _qa(qid, question, context, answer=None, occurrence=0, offset=None):
  """A question with its answer at the `occurrence`-th place `answer` appears (or at `offset`)."""
  if answer is None:
    return {"id": qid, "question": question, "answers": [], "is_impossible": True,
            "plausible_answers": [{"text": "x", "answer_start": 0}]}
  if offset is None:
    offset = -1
    for _ in range(occurrence + 1):
      offset = context.index(answer, offset + 1)
  return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": offset}],
          "is_impossible": False}


def english_qas(version_2):
  qas_1 = [
      _qa("en-edge-start", "What industry is the largest?", EN_1, "The Japanese electronics"),
      _qa("en-subword", "Which country is the top exporter of electronics in the whole world today?", EN_1,
          "Japan"),
      _qa("en-paren", "When was John Smith born?", EN_1, "1895"),
      _qa("en-possessive", "Whose company sold modems?", EN_1, "Steve Smith"),
      _qa("en-comma", "How many modems were sold?", EN_1, "3,000 modems"),
      _qa("en-quotes", "What is the motto?", EN_1, "\"faster, better!\""),
      _qa("en-accents", "Who visited?", EN_1, "Zoë Ångström"),
      _qa("en-nbsp", "Which café?", EN_1, "Café\u00a0Paris"),  # skipped in training, as the original
      _qa("en-wrong-offset", "Where was he born?", EN_1, "Hamburg", offset=EN_1.index("Germany")),
      _qa("en-edge-end", "On which day?", EN_1, "May."),
      _qa("en-across", "Which company?", EN_1, "U.S. Robotics"),
  ]
  qas_2 = [
      _qa("en2-first", "what is hairy ?", EN_2, "the dog"),
      _qa("en2-second", "what runs fast and is hairy ?", EN_2, "the cat", occurrence=2),
      _qa("en2-puppeteer", "who was a puppeteer ?", EN_2, "jim henson"),
      _qa("en2-end", "what did the cat like more than the park ?", EN_2, "the mill more than the park ."),
      _qa("en2-unwanted", "what was unwanted ?", EN_2, "unwanted , running dogs"),
  ]
  if version_2:
    qas_1.append(_qa("en-impossible-1", "Who founded Robotics in 1990?", EN_1))
    qas_2.append(_qa("en2-impossible", "what did the puppeteer eat ?", EN_2))
  return [{"title": "en", "paragraphs": [{"context": EN_1, "qas": qas_1}, {"context": EN_2, "qas": qas_2}]}]


def chinese_qas(version_2):
  qas_1 = [
      _qa("zh-start", "谁是总书记？", ZH_1, "中共中央"),
      _qa("zh-second", "谁指出经济发展很快？", ZH_1, "江泽民", occurrence=1),
      _qa("zh-year", "讲话是哪一年的？", ZH_1, "１９９８年"),
      _qa("zh-title", "讲话的题目是什么？", ZH_1, "《迈向充满希望的新世纪》"),
      _qa("zh-latin", "什么模型发布了？", ZH_1, "ＢＥＲＴ模型"),
      _qa("zh-digits", "哪年发布？", ZH_1, "2018年"),
      _qa("zh-end", "北京是什么？", ZH_1, "首都。"),
  ]
  qas_2 = [
      _qa("zh2-person", "文中提到的人名是什么？", ZH_2, "李鹏", occurrence=1),
      _qa("zh2-place", "会见在哪里？", ZH_2, "人民大会堂"),
  ]
  if version_2:
    qas_2.append(_qa("zh2-impossible", "文中提到的组织机构名是什么？", ZH_2))
  return [{"title": "zh", "paragraphs": [{"context": ZH_1, "qas": qas_1}, {"context": ZH_2, "qas": qas_2}]}]


# Words given to the vocab as pieces, and words left out of it ([UNK]).
_SPLIT = {"japanese": ["japan", "##ese"], "electronics": ["electron", "##ics"], "modems": ["modem", "##s"],
          "hairy": ["hair", "##y"], "puppeteer": ["puppet", "##eer"], "unwanted": ["un", "##want", "##ed"],
          "running": ["runn", "##ing"], "1998": ["19", "##98"], "１９９８": ["１", "##９", "##８"]}
_UNKNOWN = {"hamburg", "mill"}


def vocab_tokens(texts):
  """SPECIALS, then every basic token of `texts` (both casings; _SPLIT words as their pieces)."""
  tokens = list(SPECIALS)
  for do_lower_case in (True, False):
    basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    for text in texts:
      for word in basic.tokenize(text):
        pieces = _SPLIT.get(word.lower(), [word]) if word.lower() not in _UNKNOWN else []
        tokens.extend(p for p in pieces if p not in tokens)
  return tokens


def write_files(directory, version_2):
  """Writes en.json, zh.json (SQuAD 2.0 questions when version_2) and vocab.txt; returns their paths."""
  paths = {}
  texts = []
  for name, data in (("en", english_qas(version_2)), ("zh", chinese_qas(version_2))):
    path = directory / ("%s%s.json" % (name, "-v2" if version_2 else ""))
    path.write_text(json.dumps({"version": "2.0" if version_2 else "1.1", "data": data}, ensure_ascii=False),
                    encoding="utf-8")
    paths[name] = str(path)
    texts += [p["context"] for d in data for p in d["paragraphs"]]
    texts += [q["question"] for d in data for p in d["paragraphs"] for q in p["qas"]]
  vocab = directory / "vocab.txt"
  vocab.write_text("\n".join(vocab_tokens(texts)) + "\n", encoding="utf-8")
  paths["vocab"] = str(vocab)
  return paths
