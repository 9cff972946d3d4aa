"""SavedModel of a `BertQuestionAnswerer` that answers raw (question, context) pairs of any length.

    export_squad(model, "export/", vocab_file, do_lower_case=True, max_seq_length=384, doc_stride=128,
                 max_query_length=64, max_answer_length=30, n_best_size=20,
                 version_2_with_negative=False, null_score_diff_threshold=0.0)

    # Any process with TensorFlow and tensorflow-text:
    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    out = serve(question=tf.constant(["谁会见了客人？"]), context=tf.constant(["……李鹏总理会见了外国客人。"]))
    out["answer"]           # string [B]: the answer, "" for none
    out["start"], out["end"]  # int32 [B]: its characters context[start:end] (-1, -1 for none)
    out["score"]            # float32 [B]: start + end logit of the answer (of [CLS] for none)
    out["null_score_diff"]  # float32 [B]: null score - best span score (null_odds.json's number)

Signatures:
  serving_default: question, context string [B] -> answer, start, end, score, null_score_diff.
  serve_ids: input_ids, input_mask, segment_ids int32 [B, T] -> start_logits, end_logits [B, T].

What the graph does (what `squad.convert_examples_to_features` and `squad_predictions` do in Python):
  1. The context is tokenized with each word piece's character offsets (`OffsetTokenizer`: the ids
     of `FullTokenizer`, plus where each piece came from); the question is cut to max_query_length.
  2. The pieces are cut into run_squad's doc spans (max_seq_length - len(question) - 3 long,
     doc_stride apart; `windows.doc_spans_tf`); every window of the batch goes through the model at
     once, padded to max_seq_length as in fine-tuning.
  3. As `write_predictions`: the n_best_size best start and end positions of each window; a pair
     counts when both are in the context, the start has its maximum context in that window
     (`windows.max_context_tf`), and it
     is at most max_answer_length pieces long; the best pair over all windows wins (the first on
     ties, sums in float64 as the original's Python floats). SQuAD 2.0 models answer "" when the
     smallest [CLS] score over the windows exceeds it by more than null_score_diff_threshold.
  4. The answer is the context from the first piece's first character to the last piece's last one.
     That equals write_predictions' text except where the original falls back to whole
     whitespace-separated words (a span with [UNK]) or rejoins words with single spaces.
A context without pieces, or (SQuAD 1.1 models) without any valid span, answers "" (-1, -1).
"""

import tensorflow as tf

from bert_tf2.core import export, windows
from bert_tf2.fast_tokenizer import _CJK_PATTERN, _FINAL_SIGMA, MAX_CHARS_PER_WORD, FastTokenizer

SETTINGS = ("do_lower_case", "max_seq_length", "doc_stride", "max_query_length", "max_answer_length",
            "n_best_size", "version_2_with_negative", "null_score_diff_threshold")


class OffsetTokenizer(FastTokenizer):
  """`FastTokenizer` that also returns each piece's character span in its text."""

  def tokenize_with_offsets(self, texts):
    """string [B] -> (ids, starts, ends), int32 RaggedTensors [B, (pieces)].

    ids equal FullTokenizer's; a piece comes from characters starts..ends-1 of its text (Unicode
    code points, as Python indexes a str). The text is normalized character by character as in
    `FastTokenizer.words`, so every normalized character knows the character it came from.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    if self.do_lower_case:
      texts = tf.strings.regex_replace(texts, _FINAL_SIGMA, "\\1\u03c2\\2\\3")  # Σ -> ς: one char for one
    chars = tf.strings.unicode_split(texts, "UTF-8", errors="replace")  # (B, (N))
    flat = chars.flat_values  # (N,) every character of the batch
    mapped = self._chars.lookup(flat)
    mapped = tf.where(tf.equal(mapped, "\x00"), flat, mapped)
    mapped = tf.where(tf.strings.regex_full_match(flat, _CJK_PATTERN), " " + mapped + " ", mapped)
    normalized = tf.strings.unicode_split(mapped, "UTF-8")  # (N, (k)) what each character became
    norm = normalized.flat_values  # (M,)
    source = tf.cast(normalized.value_rowids(), tf.int32)  # (M,) its character in `flat`
    char_row = tf.cast(chars.value_rowids(), tf.int32)  # (N,)
    row = tf.gather(char_row, source)  # (M,)
    # Words: runs of non-space normalized characters within one text.
    keep = tf.not_equal(norm, " ")
    first = tf.concat([[True], tf.not_equal(row[1:], row[:-1])], 0)[:tf.size(norm)]
    after_space = tf.concat([[True], tf.logical_not(keep[:-1])], 0)[:tf.size(norm)]
    starts_word = keep & (first | after_space)
    word_of = tf.boolean_mask(tf.cumsum(tf.cast(starts_word, tf.int32)) - 1, keep)  # (K,) kept chars
    kept = tf.boolean_mask(norm, keep)  # (K,)
    kept_source = tf.boolean_mask(source, keep)
    num_words = tf.reduce_sum(tf.cast(starts_word, tf.int32))
    words = tf.strings.unsorted_segment_join(kept, word_of, num_words)  # (Wd,)
    word_row = tf.boolean_mask(row, starts_word)
    word_first = tf.cast(tf.where(tf.boolean_mask(starts_word, keep))[:, 0], tf.int32)  # (Wd,) in kept
    word_chars = tf.math.bincount(word_of, minlength=num_words, maxlength=num_words)
    too_long = word_chars > MAX_CHARS_PER_WORD
    ids, byte_start, byte_end = self._wordpiece.tokenize_with_offsets(tf.where(too_long, "[UNK]", words))
    # Byte offsets within a word -> indexes into `kept` (G: each kept character's first byte).
    g = tf.cumsum(tf.strings.length(kept, unit="BYTE"), exclusive=True)
    piece_word = tf.cast(ids.value_rowids(), tf.int32)
    word_byte = tf.gather(g, word_first)
    piece_byte = tf.gather(word_byte, piece_word)
    first_char = tf.searchsorted(g, piece_byte + tf.cast(byte_start.flat_values, tf.int32), side="left",
                                 out_type=tf.int32)
    last_char = tf.searchsorted(g, piece_byte + tf.cast(byte_end.flat_values, tf.int32), side="left",
                                out_type=tf.int32) - 1
    piece_too_long = tf.gather(too_long, piece_word)  # "[UNK]" for the whole word
    first_char = tf.where(piece_too_long, tf.gather(word_first, piece_word), first_char)
    last_char = tf.where(piece_too_long, tf.gather(word_first + word_chars - 1, piece_word), last_char)
    row_start = tf.cast(chars.row_starts(), tf.int32)
    piece_row = tf.gather(word_row, piece_word)
    starts = tf.gather(kept_source, first_char) - tf.gather(row_start, piece_row)
    ends = tf.gather(kept_source, last_char) + 1 - tf.gather(row_start, piece_row)
    nrows = tf.shape(texts, out_type=tf.int64)[0]
    rowids = tf.cast(piece_row, tf.int64)
    return tuple(tf.RaggedTensor.from_value_rowids(v, rowids, nrows)
                 for v in (ids.flat_values, starts, ends))


class SquadModule(tf.Module):
  """The exported object of a `BertQuestionAnswerer`; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, doc_stride, max_query_length,
               max_answer_length, n_best_size, version_2_with_negative, null_score_diff_threshold):
    super().__init__()
    self.model = model
    self.tokenizer = OffsetTokenizer(vocab_file, do_lower_case)
    self.vocab_asset = tf.saved_model.Asset(vocab_file)
    self.max_seq_length, self.doc_stride, self.max_query_length = max_seq_length, doc_stride, max_query_length
    self.max_answer_length, self.n_best_size = max_answer_length, min(n_best_size, max_seq_length)
    self.version_2_with_negative = version_2_with_negative
    self.null_score_diff_threshold = null_score_diff_threshold

  def serve_ids(self, input_ids, input_mask, segment_ids):
    outputs = self.model({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids},
                         training=False)
    return {"start_logits": tf.cast(outputs["start_logits"], tf.float32),  # float32 at any precision
            "end_logits": tf.cast(outputs["end_logits"], tf.float32)}

  def _windows(self, question, context):
    """Model inputs of every window of the batch, and where each window's pieces come from."""
    special = self.tokenizer.special_ids
    query = self.tokenizer(question)[:, :self.max_query_length]  # (B, (Q))
    pieces, char_start, char_end = self.tokenizer.tokenize_with_offsets(context)  # (B, (P))
    query_len = tf.cast(query.row_lengths(), tf.int32)
    num_pieces = tf.cast(pieces.row_lengths(), tf.int32)
    starts, lengths, counts = windows.doc_spans_tf(num_pieces, self.max_seq_length - query_len - 3,
                                                   self.doc_stride)
    text = tf.repeat(tf.range(tf.shape(counts)[0]), counts)  # (W,) the pair of each window
    first = tf.gather(tf.cast(pieces.row_starts(), tf.int32), text) + starts  # (W,) global piece index
    positions = tf.ragged.range(first, first + lengths)  # (W, (len)) global piece indexes
    num_windows = tf.shape(text)[0]
    cls = tf.fill([num_windows, 1], special["[CLS]"])
    sep = tf.fill([num_windows, 1], special["[SEP]"])
    head = tf.concat([cls, tf.gather(query, text), sep], axis=1)  # [CLS] query [SEP]
    tail = tf.concat([tf.gather(pieces.flat_values, positions), sep], axis=1)  # span [SEP]
    ids = tf.concat([head, tail], axis=1)
    shape = [None, self.max_seq_length]
    inputs = {"input_ids": ids.to_tensor(0, shape=shape),
              "input_mask": tf.ones_like(ids).to_tensor(0, shape=shape),
              "segment_ids": tf.concat([tf.zeros_like(head), tf.ones_like(tail)], 1).to_tensor(0, shape=shape)}
    is_max = windows.max_context_tf(starts, lengths, counts)  # (W, (len)) over each span's pieces
    max_context = tf.concat([tf.zeros_like(head, tf.bool), is_max], 1).to_tensor(False, shape=shape)  # (W, T)
    window = dict(text=text, lengths=lengths, counts=counts, first=first, max_context=max_context,
                  offset=tf.gather(query_len, text) + 2,  # position of the span's first piece
                  char_start=char_start.flat_values, char_end=char_end.flat_values)
    return inputs, window

  def answer(self, question, context):
    inputs, window = self._windows(question, context)
    outputs = self.model(inputs, training=False)
    start_logits = tf.cast(outputs["start_logits"], tf.float32)  # (W, T)
    end_logits = tf.cast(outputs["end_logits"], tf.float32)
    n = self.n_best_size
    start_index = tf.math.top_k(start_logits, k=n).indices  # (W, n), ties: lower index first
    end_index = tf.math.top_k(end_logits, k=n).indices
    offset, lengths = window["offset"][:, None], window["lengths"][:, None]

    def in_doc(index):
      return (index >= offset) & (index < offset + lengths)

    start_ok = in_doc(start_index) & tf.gather(window["max_context"], start_index, batch_dims=1)
    s, e = start_index[:, :, None], end_index[:, None, :]  # (W, n, 1), (W, 1, n)
    valid = start_ok[:, :, None] & in_doc(end_index)[:, None, :] & (e >= s) & (e - s + 1 <= self.max_answer_length)
    score = (tf.cast(tf.gather(start_logits, start_index, batch_dims=1), tf.float64)[:, :, None]
             + tf.cast(tf.gather(end_logits, end_index, batch_dims=1), tf.float64)[:, None, :])  # (W, n, n)
    flat_score = tf.reshape(tf.where(valid, score, -float("inf")), [-1])  # window, start rank, end rank
    batch = tf.shape(context)[0]
    pair_text = tf.repeat(window["text"], n * n)
    best = tf.math.unsorted_segment_max(flat_score, pair_text, batch)  # (B,) -inf: none
    index = tf.range(tf.shape(flat_score)[0])
    chosen = tf.math.unsorted_segment_min(tf.where(tf.equal(flat_score, tf.gather(best, pair_text)), index,
                                                   tf.shape(flat_score)[0]), pair_text, batch)
    has_span = tf.math.unsorted_segment_max(tf.cast(tf.reshape(valid, [-1]), tf.int32), pair_text, batch) > 0
    chosen = tf.where(has_span, chosen, 0)
    w, rank = chosen // (n * n), chosen % (n * n)
    start_pos = tf.gather_nd(start_index, tf.stack([w, rank // n], 1))
    end_pos = tf.gather_nd(end_index, tf.stack([w, rank % n], 1))
    first = tf.gather(window["first"] - window["offset"], w)  # global piece index = first + position
    piece_start, piece_end = first + start_pos, first + end_pos
    null = tf.math.unsorted_segment_min(tf.cast(start_logits[:, 0], tf.float64) + tf.cast(end_logits[:, 0], tf.float64),
                                        window["text"], batch)  # (B,) +inf without windows
    has_windows = window["counts"] > 0
    null = tf.where(has_windows, null, 0.0)
    diff = tf.where(has_span, null - best, null)
    answered = has_span
    if self.version_2_with_negative:
      answered &= diff <= self.null_score_diff_threshold
    char_start = tf.where(answered, tf.gather(window["char_start"], tf.where(has_span, piece_start, 0)), -1)
    char_end = tf.where(answered, tf.gather(window["char_end"], tf.where(has_span, piece_end, 0)), -1)
    text = tf.strings.substr(context, tf.maximum(char_start, 0), tf.maximum(char_end - char_start, 0),
                             unit="UTF8_CHAR")
    return {"answer": tf.where(answered, text, ""), "start": char_start, "end": char_end,
            "score": tf.cast(tf.where(answered, best, null), tf.float32),
            "null_score_diff": tf.cast(diff, tf.float32)}

  def text_function(self):
    """serving_default's function: question, context -> answer, start, end, score, null_score_diff."""
    return tf.function(self.answer, input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                                     tf.TensorSpec([None], tf.string, name="context")])

  def signatures(self):
    text = self.text_function()
    ids = tf.function(self.serve_ids, input_signature=[
        tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "input_mask", "segment_ids")])
    return {"serving_default": text.get_concrete_function(), "serve_ids": ids.get_concrete_function()}


def export_squad(model, export_dir, vocab_file, do_lower_case, max_seq_length, doc_stride, max_query_length,
                 max_answer_length=30, n_best_size=20, version_2_with_negative=False,
                 null_score_diff_threshold=0.0, precision="float32"):
  """Writes a SavedModel of a `BertQuestionAnswerer` answering raw (question, context) strings.

  Args: the fine-tuning tokenizer (the vocab is copied into assets/) and run_squad's settings;
  `precision` "int8" adds the model as LiteRT int8 (`core.text_model`; the model is float32 then).
  Returns export_dir (written to a temporary directory, then renamed).
  """
  module = SquadModule(model, vocab_file, do_lower_case, max_seq_length, doc_stride, max_query_length,
                       max_answer_length, n_best_size, version_2_with_negative, null_score_diff_threshold)
  return export.save_module(module, export_dir, precision=precision)
