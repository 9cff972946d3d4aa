"""SQuAD predictions from start/end logits: run_squad.py's `write_predictions` and its helpers.

    results = [RawResult(unique_id=f.unique_id, start_logits=..., end_logits=...) for f in features]
    write_predictions(examples, features, results, n_best_size=20, max_answer_length=30,
                      do_lower_case=True, output_prediction_file="predictions.json",
                      output_nbest_file="nbest_predictions.json",
                      output_null_log_odds_file="null_odds.json", version_2_with_negative=True)

The same files, byte for byte, as the original for the same examples, features and logits
(tests/test_squad.py). Per example:
  1. In each of its features, the top `n_best_size` start and end positions (stable descending sort);
     a pair is kept when both are in the doc span, the start has its max context there, end >= start
     and it is at most `max_answer_length` pieces long.
  2. SQuAD 2.0: the null score is the smallest `start_logits[0] + end_logits[0]` over the features.
  3. Candidates sorted by start + end logit (stable), mapped back to the context (`get_final_text`),
     deduplicated by text, cut to `n_best_size` (2.0: plus "" when it was not among them); the
     n-best list gets softmax probabilities over the kept candidates.
  4. The answer is the first candidate (1.1), or "" when null score - best non-null score >
     `null_score_diff_threshold` (2.0; that difference is what null_odds.json holds).
Where the original fails (2.0 without any valid span, e.g. an empty context or top start logits
all outside the context), we predict "" and null_odds.json holds the null score alone (0.0 when the
example has no features).
"""

import collections
import json
import math
import os

from absl import logging

from bert_tf2 import tokenization

RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])

_Prelim = collections.namedtuple("_Prelim", ["feature_index", "start_index", "end_index", "start_logit",
                                             "end_logit"])
_Nbest = collections.namedtuple("_Nbest", ["text", "start_logit", "end_logit"])


def _get_best_indexes(logits, n_best_size):
  """Indexes of the `n_best_size` largest logits, largest first; ties keep index order."""
  return sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)[:n_best_size]


def _compute_softmax(scores):
  """Softmax of a list of Python floats, summed left to right as the original (same bits)."""
  if not scores:
    return []
  max_score = max(scores)
  exp_scores = [math.exp(score - max_score) for score in scores]
  total_sum = 0.0
  for x in exp_scores:
    total_sum += x
  return [x / total_sum for x in exp_scores]


def _strip_spaces(text):
  """(text without " ", {index in that text: index in `text`})."""
  kept = [(i, c) for i, c in enumerate(text) if c != " "]
  return "".join(c for _, c in kept), {n: i for n, (i, _) in enumerate(kept)}


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """Projects a prediction made of normalized word pieces back onto the original text.

  `pred_text` ("steve smith") is searched (first occurrence) in `orig_text` ("Steve Smith's") as
  `BasicTokenizer` tokenizes it; if both have the same characters once spaces are removed, the
  match maps back character by character ("Steve Smith"). Otherwise the whole `orig_text`.
  """
  tok_text = " ".join(tokenization.BasicTokenizer(do_lower_case=do_lower_case).tokenize(orig_text))
  start_position = tok_text.find(pred_text)
  if start_position == -1:
    if verbose_logging:
      logging.info("Unable to find text: '%s' in '%s'", pred_text, orig_text)
    return orig_text
  end_position = start_position + len(pred_text) - 1
  orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
  tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    if verbose_logging:
      logging.info("Length not equal after stripping spaces: '%s' vs '%s'", orig_ns_text, tok_ns_text)
    return orig_text
  tok_s_to_ns_map = {s: ns for ns, s in tok_ns_to_s_map.items()}
  orig_start = orig_ns_to_s_map.get(tok_s_to_ns_map.get(start_position))
  if orig_start is None:
    if verbose_logging:
      logging.info("Couldn't map start position")
    return orig_text
  orig_end = orig_ns_to_s_map.get(tok_s_to_ns_map.get(end_position))
  if orig_end is None:
    if verbose_logging:
      logging.info("Couldn't map end position")
    return orig_text
  return orig_text[orig_start:orig_end + 1]


def orig_span_text(example, start, end):
  """Doc tokens start..end (inclusive) joined as in the context: " " where whitespace was, else "".

  Without split_cjk_chars every pair of doc tokens had whitespace between them, so this is the
  original's `" ".join(doc_tokens[start:end + 1])`.
  """
  tokens = example.doc_tokens
  offsets = example.doc_token_offsets
  if offsets is None:
    return " ".join(tokens[start:end + 1])
  parts = [tokens[start]] if start <= end else []
  for k in range(start + 1, end + 1):
    if offsets[k][0] != offsets[k - 1][1]:
      parts.append(" ")
    parts.append(tokens[k])
  return "".join(parts)


def _prediction_text(example, feature, start_index, end_index, do_lower_case, verbose_logging):
  """The context text of tokens start_index..end_index of `feature`."""
  tok_text = " ".join(feature.tokens[start_index:end_index + 1])
  tok_text = tok_text.replace(" ##", "").replace("##", "")  # de-tokenize word pieces
  tok_text = " ".join(tok_text.strip().split())
  orig_text = orig_span_text(example, feature.token_to_orig_map[start_index],
                                   feature.token_to_orig_map[end_index])
  return get_final_text(tok_text, orig_text, do_lower_case, verbose_logging)


def _prelim_predictions(features, results, n_best_size, max_answer_length):
  """Valid (start, end) candidates of one example's features; also its null (min over features)."""
  prelim = []
  null = None  # (score, feature_index, start_logit, end_logit)
  for feature_index, feature in enumerate(features):
    result = results[feature.unique_id]
    start_logits, end_logits = result.start_logits, result.end_logits
    feature_null_score = start_logits[0] + end_logits[0]
    if null is None or feature_null_score < null[0]:
      null = (feature_null_score, feature_index, start_logits[0], end_logits[0])
    end_indexes = _get_best_indexes(end_logits, n_best_size)
    for start_index in _get_best_indexes(start_logits, n_best_size):
      if start_index not in feature.token_to_orig_map or start_index >= len(feature.tokens):
        continue
      if not feature.token_is_max_context.get(start_index, False):
        continue
      for end_index in end_indexes:
        if end_index not in feature.token_to_orig_map or end_index >= len(feature.tokens):
          continue
        if end_index < start_index or end_index - start_index + 1 > max_answer_length:
          continue
        prelim.append(_Prelim(feature_index, start_index, end_index, start_logits[start_index],
                              end_logits[end_index]))
  return prelim, null


def _as_float_lists(result):
  """The original's main() turns the logits into Python floats; so do we (numpy in, same numbers)."""
  return RawResult(int(result.unique_id), [float(x) for x in result.start_logits],
                   [float(x) for x in result.end_logits])


def compute_predictions(all_examples, all_features, all_results, n_best_size, max_answer_length,
                        do_lower_case, version_2_with_negative=False, null_score_diff_threshold=0.0,
                        verbose_logging=False):
  """The three dicts `write_predictions` writes: predictions, n-best lists and (2.0) null odds.

  Args:
    all_examples: [SquadExample]; all_features: [InputFeatures] of those examples.
    all_results: [RawResult] with float logits [max_seq_length] per feature (any order).
    n_best_size, max_answer_length: int.
    do_lower_case: bool, the tokenizer's (for `get_final_text`).
    version_2_with_negative: bool, allow "" (no answer); null_score_diff_threshold: float.

  Returns:
    (predictions {qas_id: text}, nbest {qas_id: [{text, probability, start_logit, end_logit}]},
     null_odds {qas_id: float}, empty unless version_2_with_negative), in example order.
  """
  features_by_example = collections.defaultdict(list)
  for feature in all_features:
    features_by_example[feature.example_index].append(feature)
  results = {}
  for result in all_results:
    results[int(result.unique_id)] = _as_float_lists(result)
  predictions, all_nbest, null_odds = (collections.OrderedDict() for _ in range(3))
  for example_index, example in enumerate(all_examples):
    features = features_by_example[example_index]
    prelim, null = _prelim_predictions(features, results, n_best_size, max_answer_length)
    if version_2_with_negative and null is not None:
      prelim.append(_Prelim(null[1], 0, 0, null[2], null[3]))
    prelim.sort(key=lambda p: p.start_logit + p.end_logit, reverse=True)
    seen, nbest = set(), []
    for pred in prelim:
      if len(nbest) >= n_best_size:
        break
      if pred.start_index > 0:
        text = _prediction_text(example, features[pred.feature_index], pred.start_index, pred.end_index,
                                do_lower_case, verbose_logging)
        if text in seen:
          continue
      else:
        text = ""
      seen.add(text)
      nbest.append(_Nbest(text, pred.start_logit, pred.end_logit))
    if version_2_with_negative and "" not in seen:
      nbest.append(_Nbest("", null[2], null[3]) if null else _Nbest("", 0.0, 0.0))
    if not nbest:  # 1.1 without a valid span (2.0 always has the "" entry)
      nbest.append(_Nbest("empty", 0.0, 0.0))
    probs = _compute_softmax([entry.start_logit + entry.end_logit for entry in nbest])
    all_nbest[example.qas_id] = [
        collections.OrderedDict(text=e.text, probability=p, start_logit=e.start_logit, end_logit=e.end_logit)
        for e, p in zip(nbest, probs)]
    if not version_2_with_negative:
      predictions[example.qas_id] = nbest[0].text
      continue
    score_null = null[0] if null is not None else 0.0
    # A valid span scores at least its feature's null score, so the n-best list lacks a non-null
    # entry only when there is no valid span at all (the original fails there): no answer.
    best_non_null = next((entry for entry in nbest if entry.text), None)
    if best_non_null is None:
      null_odds[example.qas_id] = score_null
      predictions[example.qas_id] = ""
      continue
    score_diff = score_null - best_non_null.start_logit - best_non_null.end_logit
    null_odds[example.qas_id] = score_diff
    predictions[example.qas_id] = "" if score_diff > null_score_diff_threshold else best_non_null.text
  return predictions, all_nbest, null_odds


def write_json(path, value):
  """`json.dumps(value, indent=4) + "\\n"` as the original writes it (ASCII escapes), via a temp file."""
  tmp = "%s.tmp-%d" % (path, os.getpid())
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(json.dumps(value, indent=4) + "\n")
  os.replace(tmp, path)


def write_predictions(all_examples, all_features, all_results, n_best_size, max_answer_length,
                      do_lower_case, output_prediction_file, output_nbest_file, output_null_log_odds_file,
                      version_2_with_negative=False, null_score_diff_threshold=0.0, verbose_logging=False):
  """Writes predictions.json, nbest_predictions.json and (2.0) null_odds.json, as the original.

  The original's flags `version_2_with_negative`, `null_score_diff_threshold` and `verbose_logging`
  are arguments here. Returns `compute_predictions`'s three dicts.
  """
  logging.info("Writing predictions to: %s", output_prediction_file)
  predictions, nbest, null_odds = compute_predictions(
      all_examples, all_features, all_results, n_best_size, max_answer_length, do_lower_case,
      version_2_with_negative, null_score_diff_threshold, verbose_logging)
  write_json(output_prediction_file, predictions)
  write_json(output_nbest_file, nbest)
  if version_2_with_negative:
    write_json(output_null_log_odds_file, null_odds)
  return predictions, nbest, null_odds
