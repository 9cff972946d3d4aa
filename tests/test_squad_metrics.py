"""squad_metrics: the official SQuAD 1.1 / 2.0 and CMRC 2018 numbers on small hand-worked cases."""

import pytest

from bert_tf2.tasks.squad import metrics as squad_metrics


def _dataset(qas):
  return [{"paragraphs": [{"context": "c", "qas": [
      {"id": qid, "question": "q", "answers": [{"text": t, "answer_start": 0} for t in golds]}
      for qid, golds in qas]}]}]


def test_normalize_answer_as_the_official_script():
  assert squad_metrics.normalize_answer("The  Eiffel-Tower, (Paris)!") == "eiffeltower paris"
  assert squad_metrics.normalize_answer("an apple a day") == "apple day"
  assert squad_metrics.normalize_answer("Théâtre") == "théâtre"  # only ASCII punctuation is removed


def test_squad_v1_hand_worked():
  dataset = _dataset([("q1", ["The Eiffel Tower", "Eiffel Tower"]), ("q2", ["Paris, France"]),
                      ("q3", ["1889"]), ("q4", ["Gustave Eiffel"])])
  predictions = {"q1": "eiffel tower.", "q2": "France", "q3": "in 1889 and 1890"}  # q4 missing: 0
  # q1: EM 1, F1 1. q2: F1 = 2 * 1 * 1/2 / (1 + 1/2) = 2/3. q3: P 1/4, R 1: F1 = 0.4.
  result = squad_metrics.evaluate_v1(dataset, predictions)
  assert result["exact_match"] == pytest.approx(25.0)
  assert result["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0.4 + 0) / 4)  # 51.67


def test_squad_v2_hand_worked():
  dataset = _dataset([("q1", ["Eiffel Tower"]), ("q2", ["Paris, France"]), ("q3", []), ("q4", []),
                      ("q5", ["1889"])])
  predictions = {"q1": "the Eiffel Tower", "q2": "France", "q3": "", "q4": "1889", "q5": ""}
  null_odds = {"q1": 0.5, "q2": -1.0, "q3": 2.0, "q4": -0.5, "q5": 3.0}
  # Raw exact [1, 0, 1, 0, 0], f1 [1, 2/3, 1, 0, 0]. With null odds > 1.0 (q3, q5) counted as "":
  # q3 (no answer) 1, q5 (has one) 0: unchanged here.
  result = squad_metrics.evaluate_v2(dataset, predictions, null_odds)
  expected = {
      "exact": 40.0, "f1": 100 * (1 + 2 / 3 + 1) / 5, "total": 5,
      "HasAns_exact": 100 / 3, "HasAns_f1": 100 * (1 + 2 / 3) / 3, "HasAns_total": 3,
      "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
      # Thresholds in null-odds order q2 -1.0, q4 -0.5, q1 0.5, q3 2.0, q5 3.0 from 2 (the no-answer
      # count): exact 2, 2, 1, 2, 2, 2 -> best 2 at 0.0; f1 2 + 2/3 at q2 (-1.0) is never beaten.
      "best_exact": 40.0, "best_exact_thresh": 0.0,
      "best_f1": 100 * (2 + 2 / 3) / 5, "best_f1_thresh": -1.0,
  }
  assert list(result) == list(expected)
  for key, value in expected.items():
    assert result[key] == pytest.approx(value), key
  without_odds = squad_metrics.evaluate_v2(dataset, predictions)
  assert "best_f1" not in without_odds and without_odds["exact"] == 40.0


def test_null_odds_above_the_threshold_count_as_no_answer():
  dataset = _dataset([("q1", []), ("q2", ["Paris"])])
  predictions = {"q1": "Paris", "q2": "Paris"}
  result = squad_metrics.evaluate_v2(dataset, predictions, {"q1": 1.5, "q2": 1.5})
  assert result["exact"] == 50.0  # q1 counted as "" (right), q2 as "" (wrong)
  result = squad_metrics.evaluate_v2(dataset, predictions, {"q1": 1.5, "q2": 1.5}, na_prob_thresh=2.0)
  assert result["exact"] == 50.0 and result["NoAns_exact"] == 0.0 and result["HasAns_exact"] == 100.0


def test_cmrc2018_hand_worked():
  assert squad_metrics.mixed_segmentation("ＢＥＲＴ模型 v2.0，好") == ["ｂｅｒｔ", "模", "型", "v2", ".", "0", "，", "好"]
  dataset = _dataset([("q1", ["江泽民"]), ("q2", ["《人民日报》"]), ("q3", ["1998年"]), ("q4", ["北京"])])
  predictions = {"q1": "江泽民主席", "q2": "人民日报", "q3": "1998年1月"}  # q4 missing
  # q1: LCS 3 of 5 predicted, 3 gold: F1 = 2 * 0.6 * 1 / 1.6 = 0.75, EM 0.
  # q2: 《》 are removed: EM 1, F1 1. q3: ["1998", "年"] vs ["1998", "年", "1", "月"]: F1 = 2/3, EM 0.
  result = squad_metrics.evaluate_cmrc2018(dataset, predictions)
  f1 = 100 * (0.75 + 1 + 2 / 3) / 4
  assert result == pytest.approx({"AVERAGE": (25.0 + f1) / 2, "F1": f1, "EM": 25.0, "TOTAL": 4, "SKIP": 1})


def test_chinese_2_0_scores_no_answer_as_squad_and_answers_as_cmrc():
  dataset = [{"paragraphs": [{"context": "新华社北京电李鹏总理会见客人", "qas": [
      {"id": "a", "question": "q", "answers": [{"text": "李鹏", "answer_start": 6}]},
      {"id": "b", "question": "q", "answers": []},
      {"id": "c", "question": "q", "answers": []}]}]}]
  predictions = {"a": "李鹏总理", "b": "", "c": "北京"}
  result = squad_metrics.evaluate(dataset, predictions, {"a": -1.0, "b": 0.5, "c": -0.2},
                                  version_2_with_negative=True)
  # a: EM 0, F1 = 2 * (2/4) * 1 / 1.5 = 2/3. b: right (1, 1). c: wrong (0, 0).
  assert result["exact"] == pytest.approx(100 / 3)
  assert result["f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)
  assert result["HasAns_f1"] == pytest.approx(200 / 3) and result["NoAns_exact"] == 50.0
  assert squad_metrics.is_chinese(dataset) and not squad_metrics.is_chinese(_dataset([("x", ["y"])]))
