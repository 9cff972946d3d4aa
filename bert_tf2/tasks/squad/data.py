"""SQuAD reading comprehension data: run_squad.py's examples and features, under its names.

    examples = read_squad_examples("train-v1.1.json", is_training=True)
    features = convert_examples_to_features(examples, tokenizer, max_seq_length=384, doc_stride=128,
                                            max_query_length=64, is_training=True)
    # features[i].input_ids / input_mask / segment_ids: int lists [max_seq_length]
    # features[i].start_position / end_position: the answer's token positions (training)

The same examples and features as Google's `run_squad.py` (bert-tensorflow 1.0.4) for the same file,
vocab and flags (tests/test_squad.py compares every field):
  * A context is split into `doc_tokens` on " ", tab, CR, LF and U+202F only. A Chinese context
    without spaces is therefore ONE doc token; `split_cjk_chars=True` (ours, off by default) also
    makes every CJK character its own doc token, as the CMRC 2018 baselines did, so that an answer is
    labelled where it was annotated and predictions map back to a few characters, not the paragraph.
  * Training drops (warns about) an answer whose text is not found in the doc tokens its offset
    points at; pass `skipped=[]` to get them counted as (qas_id, reason) pairs.
  * Each context is cut into windows ("doc spans") of at most max_seq_length - len(query) - 3 word
    pieces, `doc_stride` apart; a token's logits count only in the span where it has the most
    context (`_check_is_max_context`; both from `bert_tf2.core.windows`). Training labels a span
    without the whole answer, and an unanswerable (SQuAD 2.0) question, at [CLS] (position 0).
Predictions from the model's logits live in `bert_tf2.tasks.squad.predictions` (`RawResult`,
`write_predictions`, `get_final_text`); scores in `bert_tf2.tasks.squad.metrics`. `bert_tf2.squad`
holds all of the original run_squad.py's names.
"""

import dataclasses
import json
import typing

from absl import logging

from bert_tf2 import tokenization
from bert_tf2.core import checks, windows
from bert_tf2.tasks.squad.predictions import orig_span_text

FIRST_UNIQUE_ID = 1000000000  # the original numbers features from here, over one call


def is_whitespace(c):
  """run_squad.py's doc-token separators: " ", tab, CR, LF and U+202F (not U+00A0, not Zs)."""
  return c in " \t\r\n\u202f"


@dataclasses.dataclass
class SquadExample:
  """One question on one context, as the original's `SquadExample`.

  `doc_tokens`: the context split on `is_whitespace` (and CJK characters with split_cjk_chars);
  `start_position` / `end_position`: the answer's first and last doc token (training only; -1 for an
  impossible one). Ours, not in the original: `paragraph_text` (the context) and `doc_token_offsets`,
  each doc token's [start, end) character offsets in it.
  """
  qas_id: str
  question_text: str
  doc_tokens: list
  orig_answer_text: typing.Optional[str] = None
  start_position: typing.Optional[int] = None
  end_position: typing.Optional[int] = None
  is_impossible: bool = False
  paragraph_text: typing.Optional[str] = None
  doc_token_offsets: typing.Optional[list] = None


@dataclasses.dataclass
class InputFeatures:
  """One doc span of one example as model inputs, as the original's `InputFeatures`.

  tokens: `[CLS] query [SEP] span [SEP]`, word pieces (strings).
  token_to_orig_map: {position in tokens: doc token index}, span positions only.
  token_is_max_context: {position in tokens: bool}, span positions only.
  input_ids, input_mask, segment_ids: int lists [max_seq_length], zero-padded.
  start_position, end_position: int positions in tokens (training; 0 = [CLS]), else None.
  """
  unique_id: int
  example_index: int
  doc_span_index: int
  tokens: list
  token_to_orig_map: dict
  token_is_max_context: dict
  input_ids: list
  input_mask: list
  segment_ids: list
  start_position: typing.Optional[int] = None
  end_position: typing.Optional[int] = None
  is_impossible: typing.Optional[bool] = None


def split_doc_tokens(paragraph_text, split_cjk_chars=False):
  """Context -> (doc_tokens, char_to_word_offset, doc_token_offsets), as the original reads it.

  char_to_word_offset[i] is the doc token holding character i (a separator belongs to the token
  before it; -1 before the first). doc_token_offsets[k] = (start, end) character offsets of token k.

  Example: split_doc_tokens("a bc") == (["a", "bc"], [0, 0, 1, 1], [(0, 1), (2, 4)])
  """
  doc_tokens, char_to_word_offset, offsets = [], [], []
  prev_is_whitespace = True
  for i, c in enumerate(paragraph_text):
    if is_whitespace(c):
      prev_is_whitespace = True
    else:
      cjk = split_cjk_chars and tokenization.is_chinese_char(ord(c))
      if prev_is_whitespace or cjk or (offsets and offsets[-1][2]):
        doc_tokens.append(c)
        offsets.append([i, i + 1, cjk])
      else:
        doc_tokens[-1] += c
        offsets[-1][1] = i + 1
      prev_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset, [(start, end) for start, end, _ in offsets]


def make_example(qas_id, question_text, paragraph_text, split_cjk_chars=False):
  """A prediction `SquadExample` for one (question, context) pair, as `read_squad_examples` makes it."""
  doc_tokens, _, offsets = split_doc_tokens(paragraph_text, split_cjk_chars)
  return SquadExample(qas_id=qas_id, question_text=question_text, doc_tokens=doc_tokens,
                      paragraph_text=paragraph_text, doc_token_offsets=offsets)


def load_squad_json(input_file):
  """The `data` list of a SQuAD-format JSON file; ValueError naming the file when it is not one."""
  try:
    text = checks.read_text(input_file)
  except OSError as e:
    raise ValueError("%s: cannot read: %s" % (input_file, e.strerror)) from None
  if not text.strip():
    raise ValueError("%s: empty file (expected SQuAD JSON: {\"data\": [...]})" % input_file)
  try:
    dataset = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError("%s:%d: not valid JSON: %s" % (input_file, e.lineno, e.msg)) from None
  if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
    raise ValueError('%s: not a SQuAD file: expected a JSON object with a "data" list' % input_file)
  for i, entry in enumerate(dataset["data"]):
    if not isinstance(entry, dict) or not isinstance(entry.get("paragraphs"), list):
      raise ValueError('%s: data[%d] has no "paragraphs" list' % (input_file, i))
    for j, paragraph in enumerate(entry["paragraphs"]):
      where = "%s: data[%d].paragraphs[%d]" % (input_file, i, j)
      if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
        raise ValueError('%s has no "context" string' % where)
      if not isinstance(paragraph.get("qas"), list):
        raise ValueError('%s has no "qas" list' % where)
      for k, qa in enumerate(paragraph["qas"]):
        if not isinstance(qa, dict) or "id" not in qa or not isinstance(qa.get("question"), str):
          raise ValueError('%s.qas[%d] needs an "id" and a "question" string' % (where, k))
        answers = qa.get("answers", [])
        if not isinstance(answers, list) or not all(
            isinstance(a, dict) and isinstance(a.get("text"), str) and isinstance(a.get("answer_start"), int)
            for a in answers):
          raise ValueError('%s.qas[%d] (id %s): "answers" must be a list of {"text": str, '
                           '"answer_start": int}' % (where, k, qa["id"]))
  return dataset["data"]


def _training_answer(qa, paragraph_text, doc_tokens, char_to_word_offset, example):
  """(start word, end word) of a training answer, or a reason string when it is skipped."""
  answer = qa["answers"][0]
  text, offset = answer["text"], answer["answer_start"]
  if not text:
    return "empty answer text"
  if offset < 0 or offset + len(text) > len(paragraph_text):
    return "answer_start %d + len(text) %d is outside the context (%d characters)" % (
        offset, len(text), len(paragraph_text))
  start, end = char_to_word_offset[offset], char_to_word_offset[offset + len(text) - 1]
  actual_text = orig_span_text(example, start, end)
  cleaned_answer_text = " ".join(tokenization.whitespace_tokenize(text))
  if actual_text.find(cleaned_answer_text) == -1:
    return "answer %r (as doc tokens: %r) is not in the context's doc tokens at answer_start %d: %r" % (
        text, cleaned_answer_text, offset, actual_text)
  return start, end


def read_squad_examples(input_file, is_training, version_2_with_negative=False,
                        split_cjk_chars=False, skipped=None):
  """A SQuAD 1.1 / 2.0 JSON file -> [SquadExample], as the original function of this name.

  Args:
    input_file: str, SQuAD-format JSON ({"data": [{"paragraphs": [{"context", "qas"}]}]}).
    is_training: bool, read answers (exactly one per answerable question) and label positions.
      As the original, prediction examples never read answers (`is_impossible` stays False).
    version_2_with_negative: bool, training reads `is_impossible` (SQuAD 2.0).
    split_cjk_chars: bool, every CJK character is its own doc token (see the module docstring).
    skipped: None, or a list that gets a (qas_id, reason) pair per training answer dropped because
      its text is not at its offset (the original's "Could not find answer" warning; also an offset
      outside the context, or an empty answer text, which the original does not check).

  Raises:
    ValueError naming the file (and the question) when it is not SQuAD-shaped, has no questions,
    or a training question without is_impossible does not have exactly one answer.
  """
  examples = []
  num_skipped = 0
  num_questions = 0
  for entry in load_squad_json(input_file):
    for paragraph in entry["paragraphs"]:
      paragraph_text = paragraph["context"]
      doc_tokens, char_to_word_offset, offsets = split_doc_tokens(paragraph_text, split_cjk_chars)
      for qa in paragraph["qas"]:
        num_questions += 1
        example = SquadExample(qas_id=qa["id"], question_text=qa["question"], doc_tokens=doc_tokens,
                               paragraph_text=paragraph_text, doc_token_offsets=offsets)
        if is_training:
          if version_2_with_negative:
            example.is_impossible = bool(qa.get("is_impossible", False))
          if example.is_impossible:
            example.start_position, example.end_position, example.orig_answer_text = -1, -1, ""
          else:
            if len(qa.get("answers", [])) != 1:
              raise ValueError("%s: question %s: for training, each question should have exactly 1 "
                               "answer (it has %d)" % (input_file, qa["id"], len(qa.get("answers", []))))
            span = _training_answer(qa, paragraph_text, doc_tokens, char_to_word_offset, example)
            if isinstance(span, str):
              logging.warning("%s: question %s skipped: %s", input_file, qa["id"], span)
              num_skipped += 1
              if skipped is not None:
                skipped.append((qa["id"], span))
              continue
            example.start_position, example.end_position = span
            example.orig_answer_text = qa["answers"][0]["text"]
        examples.append(example)
  if not num_questions:
    raise ValueError("%s: no questions in the file" % input_file)
  if num_skipped:
    logging.warning("%s: skipped %d of %d training questions whose answer does not match its offset",
                    input_file, num_skipped, num_questions)
  return examples


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer, orig_answer_text):
  """The first sub-span of [input_start, input_end] whose pieces are the tokenized answer, else as is.

  The original joins each candidate with spaces and compares strings, start ascending, end
  descending; word pieces hold no spaces, so that is a match of the piece lists, and only
  end = start + len(answer pieces) - 1 can match ("(1895-1943)." -> "1895").
  """
  answer = tokenizer.tokenize(orig_answer_text)
  for new_start in range(input_start, input_end - len(answer) + 2):
    if answer and doc_tokens[new_start:new_start + len(answer)] == answer:
      return new_start, new_start + len(answer) - 1
  return input_start, input_end


DocSpan = windows.DocSpan  # the original's name


def make_doc_spans(num_tokens, max_tokens_for_doc, doc_stride):
  """[DocSpan] over `num_tokens` pieces: run_squad's doc spans (`windows.doc_spans`; [] if none)."""
  return windows.doc_spans(num_tokens, max_tokens_for_doc, doc_stride)


def _check_is_max_context(doc_spans, cur_span_index, position):
  """True if span `cur_span_index` gives piece `position` its most context (`windows.max_context_span`)."""
  return windows.max_context_span(doc_spans, position) == cur_span_index


def doc_pieces(example, tokenizer):
  """(all_doc_tokens, tok_to_orig_index, orig_to_tok_index): the context's word pieces, each piece's
  doc token and each doc token's first piece (the next token's when it has none)."""
  tok_to_orig_index, orig_to_tok_index, all_doc_tokens = [], [], []
  for i, token in enumerate(example.doc_tokens):
    orig_to_tok_index.append(len(all_doc_tokens))
    for sub_token in tokenizer.tokenize(token):
      tok_to_orig_index.append(i)
      all_doc_tokens.append(sub_token)
  return all_doc_tokens, tok_to_orig_index, orig_to_tok_index


def answer_token_span(example, all_doc_tokens, orig_to_tok_index, tokenizer):
  """The training answer's first and last piece in the document (-1, -1 when impossible)."""
  if example.is_impossible:
    return -1, -1
  start = orig_to_tok_index[example.start_position]
  if example.end_position < len(example.doc_tokens) - 1:
    end = orig_to_tok_index[example.end_position + 1] - 1
  else:
    end = len(all_doc_tokens) - 1
  return _improve_answer_span(all_doc_tokens, start, end, tokenizer, example.orig_answer_text)


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                                 is_training, output_fn=None):
  """[SquadExample] -> [InputFeatures], one per doc span, as the original function of this name.

  Args:
    examples: from `read_squad_examples`.
    tokenizer: a `FullTokenizer`.
    max_seq_length: int, T; must exceed max_query_length + 3 (the original's flag check).
    doc_stride: int, pieces between the starts of consecutive doc spans.
    max_query_length: int, the question is cut to its first this many pieces.
    is_training: bool, label start/end positions.
    output_fn: optional callable, also called with each feature (the original's callback).

  Returns:
    The features, unique_id counting from 1000000000.
  """
  if max_seq_length <= max_query_length + 3:
    raise ValueError("The max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                     % (max_seq_length, max_query_length))
  features = []
  unique_id = FIRST_UNIQUE_ID
  for example_index, example in enumerate(examples):
    query_tokens = tokenizer.tokenize(example.question_text)[:max_query_length]
    all_doc_tokens, tok_to_orig_index, orig_to_tok_index = doc_pieces(example, tokenizer)
    if is_training:
      tok_start, tok_end = answer_token_span(example, all_doc_tokens, orig_to_tok_index, tokenizer)
    doc_spans = make_doc_spans(len(all_doc_tokens), max_seq_length - len(query_tokens) - 3, doc_stride)
    doc_offset = len(query_tokens) + 2  # [CLS] query [SEP]
    for doc_span_index, span in enumerate(doc_spans):
      tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
      token_to_orig_map, token_is_max_context = {}, {}
      for i in range(span.start, span.start + span.length):
        token_to_orig_map[len(tokens)] = tok_to_orig_index[i]
        token_is_max_context[len(tokens)] = _check_is_max_context(doc_spans, doc_span_index, i)
        tokens.append(all_doc_tokens[i])
      tokens.append("[SEP]")
      segment_ids = [0] * doc_offset + [1] * (span.length + 1)
      input_ids = tokenizer.convert_tokens_to_ids(tokens)
      padding = [0] * (max_seq_length - len(input_ids))
      start_position = end_position = None
      if is_training:
        inside = span.start <= tok_start and tok_end <= span.start + span.length - 1
        if example.is_impossible or not inside:
          start_position = end_position = 0
        else:
          start_position = tok_start - span.start + doc_offset
          end_position = tok_end - span.start + doc_offset
      feature = InputFeatures(
          unique_id=unique_id, example_index=example_index, doc_span_index=doc_span_index,
          tokens=tokens, token_to_orig_map=token_to_orig_map, token_is_max_context=token_is_max_context,
          input_ids=input_ids + padding, input_mask=[1] * len(input_ids) + padding,
          segment_ids=segment_ids + padding, start_position=start_position, end_position=end_position,
          is_impossible=example.is_impossible)
      if example_index < 5:
        logging.info("*** Example %d (unique_id %d, span %d) ***\ntokens: %s\nstart/end: %s/%s",
                     example_index, unique_id, doc_span_index, " ".join(tokens), start_position,
                     end_position)
      features.append(feature)
      if output_fn is not None:
        output_fn(feature)
      unique_id += 1
  return features


class FeatureWriter:
  """Writes `InputFeatures` to a TFRecord file as the original's FeatureWriter (its train.tf_record).

  Each record: int64 `unique_ids`, `input_ids`, `input_mask`, `segment_ids`; when training also
  `start_positions`, `end_positions`, `is_impossible` (0/1).
  """

  def __init__(self, filename, is_training):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top  (the rest of the module needs no TF)
    self._tf = tf
    self.filename = filename
    self.is_training = is_training
    self.num_features = 0
    self._writer = tf.io.TFRecordWriter(filename)

  def process_feature(self, feature):
    tf = self._tf
    self.num_features += 1

    def ints(values):
      return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    record = {"unique_ids": ints([feature.unique_id]), "input_ids": ints(feature.input_ids),
              "input_mask": ints(feature.input_mask), "segment_ids": ints(feature.segment_ids)}
    if self.is_training:
      record["start_positions"] = ints([feature.start_position])
      record["end_positions"] = ints([feature.end_position])
      record["is_impossible"] = ints([int(bool(feature.is_impossible))])
    self._writer.write(tf.train.Example(features=tf.train.Features(feature=record)).SerializeToString())

  def close(self):
    self._writer.close()
