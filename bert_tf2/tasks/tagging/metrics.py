"""Entities from tag sequences and entity-level precision / recall / F1, counted as conlleval does.

    entity_spans(["B-PER", "I-PER", "O", "B-LOC"])          # [("PER", 0, 2), ("LOC", 3, 4)]
    entity_scores(gold_tag_lists, predicted_tag_lists)      # {"precision": ..., "per_type": {...}}
    text_entities("江泽民在北京", tags)                       # [("PER", 0, 3, "江泽民"), ("LOC", 4, 6, "北京")]

Chunks follow conlleval.pl's `startOfChunk` / `endOfChunk` for BIO, BIOES and BMES alike (M- read
as I-; seqeval's default mode counts the same): an I- or E- tag after O, after another type or after E-/S- starts
a new entity, so ill-formed predictions are still read, not dropped. An entity is correct when
its type, start and end all equal a gold entity's. Spans are [start, end), end exclusive.
"""

import collections


def _split(tag):
  if tag in ("O", "", None):
    return "O", ""
  prefix, _, kind = tag.partition("-")
  return ("I" if prefix == "M" else prefix), kind  # BMES's M- is BIOES's I-


def _ends(prev_prefix, prefix, prev_kind, kind):
  if prev_prefix in ("E", "S"):
    return True
  if prev_prefix == "B" and prefix in ("B", "S", "O"):
    return True
  if prev_prefix == "I" and prefix in ("B", "S", "O"):
    return True
  return prev_prefix != "O" and prev_kind != kind


def _starts(prev_prefix, prefix, prev_kind, kind):
  if prefix in ("B", "S"):
    return True
  if prev_prefix in ("E", "S", "O") and prefix in ("I", "E"):
    return True
  return prefix != "O" and prev_kind != kind


def entity_spans(tags, skip=None):
  """[(type, start, end)] of a tag sequence, end exclusive.

  Args:
    tags: list of tag strings ("O", "B-PER", ...; "" counts as "O").
    skip: optional list of bool, positions to read through as if absent (e.g. whitespace in a raw
      text, tagged "O" by the SavedModel): an entity continues across them.
  """
  spans, prev_prefix, prev_kind, start, last = [], "O", "", None, None
  for i, tag in enumerate(tags):
    if skip is not None and skip[i]:
      continue
    prefix, kind = _split(tag)
    if start is not None and _ends(prev_prefix, prefix, prev_kind, kind):
      spans.append((prev_kind, start, last + 1))
      start = None
    if _starts(prev_prefix, prefix, prev_kind, kind):
      start = i
    prev_prefix, prev_kind, last = prefix, kind, i
  if start is not None:
    spans.append((prev_kind, start, last + 1))
  return spans


def text_entities(text, tags):
  """[(type, start, end, entity_text)] character spans of a raw text and its per-character tags.

  `tags` is the SavedModel's `tags` row for `text` (one per character, padding "" ignored);
  whitespace inside an entity is read through (the model tags it "O"), trailing whitespace is
  not part of an entity.
  """
  tags = [t for t in tags[:len(text)]]
  skip = [c.isspace() for c in text[:len(tags)]]
  return [(kind, start, end, text[start:end]) for kind, start, end in entity_spans(tags, skip)]


def _prf(correct, predicted, gold):
  precision = correct / predicted if predicted else 0.0
  recall = correct / gold if gold else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {"precision": precision, "recall": recall, "f1": f1, "correct": correct,
          "predicted": predicted, "gold": gold}


def entity_scores(gold_tags, predicted_tags):
  """Entity-level P/R/F1 overall and per type, and token accuracy, of lists of tag sequences.

  Returns:
    {"precision", "recall", "f1", "correct", "predicted", "gold", "token_accuracy",
     "per_type": {type: {"precision", "recall", "f1", "correct", "predicted", "gold"}}}.
  """
  correct, predicted, gold = collections.Counter(), collections.Counter(), collections.Counter()
  tokens = right = 0
  for gold_seq, predicted_seq in zip(gold_tags, predicted_tags):
    if len(gold_seq) != len(predicted_seq):
      raise ValueError("a gold sequence of %d tags has %d predictions" % (len(gold_seq), len(predicted_seq)))
    gold_spans, predicted_spans = set(entity_spans(gold_seq)), set(entity_spans(predicted_seq))
    for kind, _, _ in gold_spans:
      gold[kind] += 1
    for span in predicted_spans:
      predicted[span[0]] += 1
      correct[span[0]] += span in gold_spans
    tokens += len(gold_seq)
    right += sum(g == p for g, p in zip(gold_seq, predicted_seq))
  result = _prf(sum(correct.values()), sum(predicted.values()), sum(gold.values()))
  result["token_accuracy"] = right / tokens if tokens else 0.0
  result["per_type"] = {kind: _prf(correct[kind], predicted[kind], gold[kind])
                        for kind in sorted(set(gold) | set(predicted))}
  return result


def format_scores(scores, prefix="eval_"):
  """"key = value" lines for eval_results.txt: overall, token accuracy, then per type."""
  lines = ["%s%s = %s" % (prefix, key, scores[key])
           for key in ("precision", "recall", "f1", "correct", "predicted", "gold", "token_accuracy")]
  for kind, values in scores["per_type"].items():
    lines += ["%s%s_%s = %s" % (prefix, kind, key, values[key]) for key in ("precision", "recall", "f1", "gold")]
  return "".join(line + "\n" for line in lines)
