"""Doc-stride windows over long texts and run_squad's maximum-context rule, in Python and in TF.

    spans = doc_spans(12, max_pieces=5, doc_stride=3)   # [DocSpan(0, 5), (3, 5), (6, 5), (9, 3)]
    max_context_span(spans, 7)                         # 2: piece 7 is best seen from span 2

    starts, lengths, counts = doc_spans_tf(num_pieces, max_pieces, doc_stride)  # every text at once
    is_max = max_context_tf(starts, lengths, counts)   # bool RaggedTensor [W, (length)]

The windows are Google run_squad.py's doc spans: at most `max_pieces` long, each starting
min(length, doc_stride) after the previous one, the last one ending at the end of the text (so
doc_stride > max_pieces never skips a piece). A piece covered by several windows counts in the one
where it has the most context: score = min(left context, right context) + 0.01 * window length, the
highest score wins, the earliest window on ties (run_squad's `_check_is_max_context`). SQuAD
features and predictions, tagging features and merging, and both SavedModel exports use these.

The score is the original's float64 one everywhere: an integer 100 * min + length is NOT the
same rule, because the original's float sums break some of its exact ties. For windows of 118 and
18 pieces, 1 + 0.01 * 118 = 2.1799999999999997 < 2 + 0.01 * 18 = 2.18, so the original picks the
later (short, last) window where the integers tie (218) and pick the earlier one. `max_context_tf`
therefore computes the same float64 values with the same two roundings (fl(0.01 * length), then
+ min) in separate TF ops, which are bitwise Python's; tests/test_windows.py checks it picks the
same window on many random layouts, windows longer than 100 pieces included.

The TF twins import TensorFlow when called, so that the Python data modules do not need it.
"""

import typing


class DocSpan(typing.NamedTuple):
  """One window: pieces start .. start + length - 1 (run_squad's `_DocSpan` namedtuple)."""
  start: int
  length: int


def doc_spans(num_pieces, max_pieces, doc_stride, empty_window=False):
  """The windows over `num_pieces` pieces, as run_squad's doc-span loop makes them.

  Args:
    num_pieces: int >= 0, pieces in the text.
    max_pieces: int >= 1, the longest window.
    doc_stride: int >= 1, the largest step between window starts.
    empty_window: a text without pieces gets one window (0, 0) instead of none (tagging keeps a
      `[CLS] [SEP]` feature for every sentence).

  Returns:
    [DocSpan], in text order.
  """
  if max_pieces <= 0:
    raise ValueError("windows need room for at least one piece, got max_pieces %d" % max_pieces)
  if doc_stride <= 0:
    raise ValueError("doc_stride must be positive, got %d" % doc_stride)
  if num_pieces == 0 and empty_window:
    return [DocSpan(0, 0)]
  spans, start = [], 0
  while start < num_pieces:
    length = min(num_pieces - start, max_pieces)
    spans.append(DocSpan(start, length))
    if start + length == num_pieces:
      break
    start += min(length, doc_stride)
  return spans


def max_context_score(span, position):
  """run_squad's float score of `position` in window `span` (a (start, length) pair that holds it)."""
  start, length = span
  return min(position - start, start + length - 1 - position) + 0.01 * length


def max_context_span(spans, position):
  """Index in `spans` ((start, length) pairs) of the window where `position` has the most context.

  The highest `max_context_score` wins, the earliest window on ties; None if no window holds it.
  """
  best, best_score = None, None
  for index, (start, length) in enumerate(spans):
    if start <= position < start + length:
      score = max_context_score((start, length), position)
      if best_score is None or score > best_score:
        best, best_score = index, score
  return best


def doc_spans_tf(num_pieces, max_pieces, doc_stride, empty_window=False):
  """`doc_spans` of a batch of texts, all windows flat.

  Args:
    num_pieces: int32 [B], pieces per text.
    max_pieces: int32 [] or [B] (>= 1), the longest window of each text.
    doc_stride: int32 [] or [B] (>= 1), the largest step between window starts.
    empty_window: as `doc_spans`, one window (0, 0) for a text without pieces.

  Returns:
    (starts, lengths, counts): int32 [W] each window's first piece (in its text) and length, text
    after text; int32 [B] windows per text.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (see the module docstring)
  num_pieces = tf.convert_to_tensor(num_pieces, tf.int32)
  max_pieces = tf.broadcast_to(tf.convert_to_tensor(max_pieces, tf.int32), tf.shape(num_pieces))
  # Every window but the last is max_pieces long, so the starts are a fixed step apart; windows
  # are added until one reaches the end: 1 + ceil((num_pieces - max_pieces) / step) of them.
  step = tf.minimum(tf.convert_to_tensor(doc_stride, tf.int32), max_pieces)
  extra = tf.maximum(num_pieces - max_pieces, 0)
  counts = tf.where(num_pieces > 0, 1 + (extra + step - 1) // step, 1 if empty_window else 0)
  text = tf.repeat(tf.range(tf.shape(num_pieces)[0]), counts)  # (W,) each window's text
  starts = tf.ragged.range(counts).flat_values * tf.gather(step, text)
  lengths = tf.minimum(tf.gather(num_pieces, text) - starts, tf.gather(max_pieces, text))
  return starts, lengths, counts


def max_context_tf(starts, lengths, counts):
  """Where each window gives its pieces their maximum context, for windows from `doc_spans_tf`.

  Args:
    starts, lengths: int32 [W], the windows of all texts, text after text, in text order.
    counts: int32 [B], windows per text.

  Returns:
    bool RaggedTensor [W, (lengths)]: True at i of window w if piece starts[w] + i of its text is
    best seen from w (`max_context_span`: exactly one True per piece).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (see the module docstring)
  num_texts = tf.shape(counts)[0]
  text = tf.repeat(tf.range(num_texts), counts)  # (W,)
  ends = starts + lengths
  positions = tf.ragged.range(starts, ends)  # (W, (len)) each (window, piece) pair's piece in its text
  # A key per piece of the batch: its text's first key + its position (the last window ends the text).
  text_len = tf.maximum(tf.math.unsorted_segment_max(ends, text, num_texts), 0)
  piece = (positions + tf.expand_dims(tf.gather(tf.cumsum(text_len, exclusive=True), text), 1)).flat_values
  within = (positions - tf.expand_dims(starts, 1)).flat_values  # left context of each pair
  length = tf.repeat(lengths, lengths)
  # The original's float64 score: min + fl(0.01 * length), one rounding per op as in Python.
  score = (tf.cast(tf.minimum(within, length - 1 - within), tf.float64)
           + 0.01 * tf.cast(length, tf.float64))
  num_keys = tf.reduce_sum(text_len)
  best = tf.math.unsorted_segment_max(score, piece, num_keys)
  # Among a piece's pairs with the best score, the first (pairs run window by window) wins.
  pair = tf.range(tf.shape(piece)[0])
  candidate = tf.where(tf.equal(score, tf.gather(best, piece)), pair, tf.shape(piece)[0])
  first = tf.math.unsorted_segment_min(candidate, piece, num_keys)
  return positions.with_flat_values(tf.equal(tf.gather(first, piece), pair))
