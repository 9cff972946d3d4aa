"""SQuAD 1.1 / 2.0 and CMRC 2018 evaluation, as the official scripts compute it.

    dataset = squad.load_squad_json("dev-v2.0.json")
    evaluate_v1(dataset, predictions)                 # {"exact_match": .., "f1": ..}  (evaluate-v1.1.py)
    evaluate_v2(dataset, predictions, null_odds)      # exact, f1, total, HasAns_*, NoAns_*, best_*
    evaluate_cmrc2018(dataset, predictions)           # {"AVERAGE", "F1", "EM", "TOTAL", "SKIP"}
    evaluate(dataset, predictions, null_odds, version_2_with_negative=True, language="zh")

English (the official scripts): answers are lower-cased, stripped of ASCII punctuation and of the
articles a/an/the, whitespace-joined; EM compares the strings, F1 the bags of tokens; the best over
the gold answers counts. v1.1 scores a missing prediction 0 and counts it; v2.0 skips it. v2.0:
an unanswerable question's only gold answer is "", and with `na_probs` (null_odds.json) a question
whose no-answer score exceeds `na_prob_thresh` (default 1.0, as the script) counts as answered "";
`best_exact` / `best_f1` are the scores at the best such threshold, `*_thresh` the threshold.

Chinese (CMRC 2018's script): answers are lower-cased, CJK characters (U+4E00-U+9FA5) and listed
punctuation become single tokens, other runs are word-tokenized (the script uses nltk's
word_tokenize; here runs of word characters and single other symbols, equal on letters and digits);
punctuation is removed; F1 is on the longest common SUBSTRING of the two token lists, EM compares
the punctuation-free strings. `evaluate(..., language="zh")` with version_2_with_negative scores
answerable questions that way and unanswerable ones as SQuAD 2.0 does ("" is right, anything else
wrong), so it reports the same keys as `evaluate_v2`.
"""

import collections
import re
import string

from bert_tf2 import tokenization

# === SQuAD (English) ===

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(s):
  """Lower case, no ASCII punctuation, no articles, single spaces (the official scripts)."""
  s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
  return " ".join(_ARTICLES.sub(" ", s).split())


def get_tokens(s):
  return normalize_answer(s).split() if s else []


def compute_exact(a_gold, a_pred):
  return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
  """Token-bag F1 of two answers; if either is empty (no answer), 1 if both are, else 0 (v2.0)."""
  gold_toks, pred_toks = get_tokens(a_gold), get_tokens(a_pred)
  if not gold_toks or not pred_toks:
    return int(gold_toks == pred_toks)
  num_same = sum((collections.Counter(gold_toks) & collections.Counter(pred_toks)).values())
  if num_same == 0:
    return 0
  precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
  return 2 * precision * recall / (precision + recall)


def _questions(dataset):
  for article in dataset:
    for paragraph in article["paragraphs"]:
      yield from paragraph["qas"]


def evaluate_v1(dataset, predictions):
  """evaluate-v1.1.py: {"exact_match", "f1"} in percent; a missing prediction scores 0."""
  exact = f1 = total = 0
  for qa in _questions(dataset):
    total += 1
    if qa["id"] not in predictions:
      continue
    prediction = predictions[qa["id"]]
    golds = [a["text"] for a in qa["answers"]]
    exact += max([normalize_answer(prediction) == normalize_answer(g) for g in golds], default=0)
    f1 += max([_f1_v1(prediction, g) for g in golds], default=0)
  return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def _f1_v1(prediction, ground_truth):
  """v1.1's F1: no special case for empty answers (0 when nothing is shared)."""
  pred_toks, gold_toks = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
  num_same = sum((collections.Counter(pred_toks) & collections.Counter(gold_toks)).values())
  if num_same == 0:
    return 0
  precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
  return 2 * precision * recall / (precision + recall)


def get_raw_scores(dataset, predictions, exact_fn=compute_exact, f1_fn=compute_f1, normalize_fn=normalize_answer):
  """({qid: exact}, {qid: f1}) before any no-answer threshold; questions without a prediction skipped."""
  exact_scores, f1_scores = {}, {}
  for qa in _questions(dataset):
    qid = qa["id"]
    golds = [a["text"] for a in qa["answers"] if normalize_fn(a["text"])] or [""]
    if qid not in predictions:
      continue
    prediction = predictions[qid]
    exact_scores[qid] = max(exact_fn(g, prediction) for g in golds)
    f1_scores[qid] = max(f1_fn(g, prediction) for g in golds)
  return exact_scores, f1_scores


def apply_no_ans_threshold(scores, na_probs, qid_to_has_ans, na_prob_thresh):
  """A question with na_probs > threshold counts as answered "": 1 if it has no answer, else 0."""
  return {qid: float(not qid_to_has_ans[qid]) if na_probs[qid] > na_prob_thresh else s
          for qid, s in scores.items()}


def make_eval_dict(exact_scores, f1_scores, qid_list=None):
  qids = list(exact_scores) if not qid_list else qid_list
  total = len(qids)
  return collections.OrderedDict([
      ("exact", 100.0 * sum(exact_scores[k] for k in qids) / total),
      ("f1", 100.0 * sum(f1_scores[k] for k in qids) / total),
      ("total", total)])


def find_best_thresh(predictions, scores, na_probs, qid_to_has_ans):
  """(best score in percent, its threshold) over thresholds at each question's na_probs."""
  cur_score = best_score = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
  best_thresh = 0.0
  for qid in sorted(na_probs, key=lambda k: na_probs[k]):
    if qid not in scores:
      continue
    if qid_to_has_ans[qid]:
      diff = scores[qid]
    else:
      diff = -1 if predictions[qid] else 0
    cur_score += diff
    if cur_score > best_score:
      best_score, best_thresh = cur_score, na_probs[qid]
  return 100.0 * best_score / len(scores), best_thresh


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0, exact_fn=compute_exact,
                f1_fn=compute_f1, normalize_fn=normalize_answer):
  """evaluate-v2.0.py's output dict (without its plots).

  Args:
    dataset: the file's `data` list; predictions: {qid: text}.
    na_probs: {qid: no-answer score} (run_squad's null_odds.json) or None (all 0.0, no best_*).
    na_prob_thresh: float, the script's --na-prob-thresh.
    exact_fn, f1_fn, normalize_fn: the per-answer scores (English by default; see `evaluate`).
  """
  qid_to_has_ans = {qa["id"]: bool(qa["answers"]) for qa in _questions(dataset)}
  has_ans = [k for k, v in qid_to_has_ans.items() if v]
  no_ans = [k for k, v in qid_to_has_ans.items() if not v]
  exact_raw, f1_raw = get_raw_scores(dataset, predictions, exact_fn, f1_fn, normalize_fn)
  if not exact_raw:
    raise ValueError("no prediction for any question of the dataset")
  probs = na_probs if na_probs is not None else {k: 0.0 for k in predictions}
  exact_thresh = apply_no_ans_threshold(exact_raw, probs, qid_to_has_ans, na_prob_thresh)
  f1_thresh = apply_no_ans_threshold(f1_raw, probs, qid_to_has_ans, na_prob_thresh)
  out = make_eval_dict(exact_thresh, f1_thresh)
  for prefix, qids in (("HasAns", has_ans), ("NoAns", no_ans)):
    if qids:
      for key, value in make_eval_dict(exact_thresh, f1_thresh, qids).items():
        out["%s_%s" % (prefix, key)] = value
  if na_probs is not None:
    out["best_exact"], out["best_exact_thresh"] = find_best_thresh(predictions, exact_raw, na_probs,
                                                                   qid_to_has_ans)
    out["best_f1"], out["best_f1_thresh"] = find_best_thresh(predictions, f1_raw, na_probs, qid_to_has_ans)
  return out


# === CMRC 2018 (Chinese) ===

_CMRC_PUNCTUATION = frozenset(["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？",
                               "！", "“", "”", "；", "’", "《", "》", "·", "、", "「", "」", "（", "）", "－",
                               "～", "『", "』"])  # the script's list ("……" is two characters: never one)
_CMRC_CJK = re.compile("[\u4e00-\u9fa5]")
_WORDS = re.compile(r"\w+|[^\w\s]")


def mixed_segmentation(text, rm_punc=False):
  """'ＢＥＲＴ模型 v2.0' -> ['ｂｅｒｔ', '模', '型', 'v2', '.', '0']: CJK characters and the listed
  punctuation one token each, other runs word-tokenized."""
  segments, run = [], ""
  for char in str(text).lower().strip():
    if rm_punc and char in _CMRC_PUNCTUATION:
      continue
    if _CMRC_CJK.match(char) or char in _CMRC_PUNCTUATION:
      segments.extend(_WORDS.findall(run))
      run = ""
      segments.append(char)
    else:
      run += char
  segments.extend(_WORDS.findall(run))
  return segments


def remove_punctuation(text):
  return "".join(c for c in str(text).lower().strip() if c not in _CMRC_PUNCTUATION)


def find_lcs(s1, s2):
  """(longest common substring of two lists, its length); the first longest in s1."""
  table = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
  best, end = 0, 0
  for i in range(len(s1)):
    for j in range(len(s2)):
      if s1[i] == s2[j]:
        table[i + 1][j + 1] = table[i][j] + 1
        if table[i + 1][j + 1] > best:
          best, end = table[i + 1][j + 1], i + 1
  return s1[end - best:end], best


def cmrc_f1(answer, prediction):
  """CMRC 2018 F1 of one gold answer: longest common substring of the mixed segmentations."""
  ans_segs = mixed_segmentation(answer, rm_punc=True)
  pred_segs = mixed_segmentation(prediction, rm_punc=True)
  _, lcs_len = find_lcs(ans_segs, pred_segs)
  if lcs_len == 0:
    return 0
  precision, recall = lcs_len / len(pred_segs), lcs_len / len(ans_segs)
  return 2 * precision * recall / (precision + recall)


def cmrc_exact(answer, prediction):
  return int(remove_punctuation(answer) == remove_punctuation(prediction))


def evaluate_cmrc2018(dataset, predictions):
  """cmrc2018_evaluate.py: {"AVERAGE", "F1", "EM", "TOTAL", "SKIP"}; a missing prediction scores 0."""
  f1 = em = total = skip = 0
  for qa in _questions(dataset):
    total += 1
    qid = str(qa["id"]).strip()
    if qid not in predictions:
      skip += 1
      continue
    answers = [a["text"] for a in qa["answers"]]
    prediction = str(predictions[qid])
    f1 += max([cmrc_f1(a, prediction) for a in answers], default=0)
    em += max([cmrc_exact(a, prediction) for a in answers], default=0)
  f1, em = 100.0 * f1 / total, 100.0 * em / total
  return collections.OrderedDict([("AVERAGE", (em + f1) * 0.5), ("F1", f1), ("EM", em), ("TOTAL", total),
                                  ("SKIP", skip)])


def _zh_exact(gold, prediction):
  return int(remove_punctuation(gold) == remove_punctuation(prediction))


def _zh_f1(gold, prediction):
  """CMRC F1, and SQuAD 2.0's rule when either side is empty (no answer)."""
  if not mixed_segmentation(gold, True) or not mixed_segmentation(prediction, True):
    return int(mixed_segmentation(gold, True) == mixed_segmentation(prediction, True))
  return cmrc_f1(gold, prediction)


# === Which one ===


def is_chinese(dataset, min_fraction=0.3):
  """True when at least `min_fraction` of the contexts' non-space characters are CJK ideographs."""
  cjk = total = 0
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for c in paragraph["context"]:
        if not c.isspace():
          total += 1
          cjk += tokenization.is_chinese_char(ord(c))
  return total > 0 and cjk >= min_fraction * total


def evaluate(dataset, predictions, na_probs=None, version_2_with_negative=False, language="auto"):
  """The official numbers for this dataset: SQuAD 1.1 / 2.0 for English, CMRC 2018 for Chinese.

  Args:
    language: "en", "zh", or "auto" (`is_chinese`).
  Returns:
    An ordered dict: evaluate_v1's keys (en, 1.1), evaluate_cmrc2018's (zh, 1.1), or evaluate_v2's
    (2.0; in Chinese with CMRC's character-level EM/F1 on answerable questions).
  """
  if language == "auto":
    language = "zh" if is_chinese(dataset) else "en"
  if language not in ("en", "zh"):
    raise ValueError("language must be en, zh or auto, got %r" % language)
  if not version_2_with_negative:
    return evaluate_v1(dataset, predictions) if language == "en" else evaluate_cmrc2018(dataset, predictions)
  if language == "en":
    return evaluate_v2(dataset, predictions, na_probs)
  return evaluate_v2(dataset, predictions, na_probs, exact_fn=_zh_exact, f1_fn=_zh_f1, normalize_fn=remove_punctuation)
