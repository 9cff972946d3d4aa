"""bert_tf2.core.windows: run_squad's doc spans and maximum-context rule, in Python and in TF."""

import collections
import random

import pytest
import tensorflow as tf

from bert_tf2.core import windows
from bert_tf2.core.windows import DocSpan
from tests import original_bert


@pytest.fixture(scope="module")
def run_squad():
  return original_bert.load("run_squad")


def _original_spans(num_pieces, max_pieces, doc_stride):
  """run_squad.convert_examples_to_features' doc-span loop, verbatim but for the names."""
  spans, start_offset = [], 0
  while start_offset < num_pieces:
    length = num_pieces - start_offset
    if length > max_pieces:
      length = max_pieces
    spans.append(DocSpan(start=start_offset, length=length))
    if start_offset + length == num_pieces:
      break
    start_offset += min(length, doc_stride)
  return spans


def _integer_rule(spans, position):
  """The 100 * min + length integer score tagging used before: NOT the original's rule."""
  scores = [(100 * min(position - s, s + n - 1 - position) + n, -i) for i, (s, n) in enumerate(spans)
            if s <= position < s + n]
  return -max(scores)[1]


# --- the Python helper ---


def test_doc_spans_hand_worked():
  assert windows.doc_spans(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
  assert windows.doc_spans(11, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4), (8, 3)]  # the last one is shorter
  assert windows.doc_spans(3, 4, 2) == [(0, 3)]  # fits: one window
  assert windows.doc_spans(4, 4, 2) == [(0, 4)]
  assert windows.doc_spans(7, 4, 10) == [(0, 4), (4, 3)]  # stride > window: the next starts after it
  assert windows.doc_spans(0, 4, 2) == []
  assert windows.doc_spans(0, 4, 2, empty_window=True) == [DocSpan(0, 0)]
  assert windows.doc_spans(5, 4, 2, empty_window=True) == [(0, 4), (2, 3)]
  spans = windows.doc_spans(12, 5, 3)
  assert spans[1].start == 3 and spans[1].length == 5 and isinstance(spans[1], DocSpan)


def test_doc_spans_reject_empty_windows_and_steps():
  with pytest.raises(ValueError, match="max_pieces"):
    windows.doc_spans(5, 0, 2)
  with pytest.raises(ValueError, match="doc_stride"):
    windows.doc_spans(5, 4, 0)


def test_max_context_of_the_originals_docstring_example():
  # "the man went to the store and bought a gallon of milk", spans of 5 words, stride 3:
  # A = the man went to the, B = to the store and bought, C = and bought a gallon of, D = of milk.
  spans = windows.doc_spans(12, 5, 3)
  assert spans == [(0, 5), (3, 5), (6, 5), (9, 3)]
  # "bought" (7): B has 4 left and 0 right context, C 1 left and 3 right -> C.
  assert windows.max_context_score(spans[1], 7) == 0.05 and windows.max_context_score(spans[2], 7) == 1.05
  assert windows.max_context_span(spans, 7) == 2
  # piece 3: A min(3, 1) = 1 beats B min(0, 4); piece 10: D min(1, 1) + 0.03 beats C min(4, 0) + 0.05.
  assert [windows.max_context_span(spans, p) for p in range(12)] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
  assert windows.max_context_span(spans, 12) is None


def test_max_context_with_a_stride_of_half_a_window():
  spans = windows.doc_spans(10, 4, 2)
  # piece 2: window 0 min(2 left, 1 right) = 1, window 1 min(0, 3) = 0 -> 0;
  # piece 3: window 0 min(3, 0) = 0, window 1 min(1, 2) = 1 -> 1.
  assert [windows.max_context_span(spans, p) for p in range(10)] == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_ties_go_to_the_earlier_window():
  spans = windows.doc_spans(8, 4, 1)  # (0, 4), (1, 4), ..., (4, 4)
  # piece 3: window 0 min(3, 0) = 0, window 1 min(2, 1) = 1, window 2 min(1, 2) = 1 -> 1.04 twice: 1.
  assert [windows.max_context_score(spans[i], 3) for i in range(4)] == [0.04, 1.04, 1.04, 0.04]
  assert [windows.max_context_span(spans, p) for p in range(8)] == [0, 0, 0, 1, 2, 3, 4, 4]
  same = [DocSpan(0, 5), DocSpan(0, 5)]
  assert [windows.max_context_span(same, p) for p in range(5)] == [0] * 5


def test_the_float_score_breaks_ties_as_the_original(run_squad):
  # 132 pieces, windows of 118, stride 114: (0, 118) and (114, 18). Piece 116: 1 + 0.01 * 118 =
  # 2.1799999999999997 in the first, 2 + 0.01 * 18 = 2.18 in the second: the original picks the
  # second, where the integers 100 * min + length tie (218) and would pick the first.
  spans = windows.doc_spans(132, 118, 114)
  assert spans == [(0, 118), (114, 18)]
  assert [run_squad._check_is_max_context(spans, i, 116) for i in range(2)] == [False, True]
  assert windows.max_context_span(spans, 116) == 1
  assert _integer_rule(spans, 116) == 0


def test_equals_the_original_run_squad(run_squad):
  rng = random.Random(24)
  layouts = [(10, 4, 2), (30, 7, 3), (25, 6, 5), (9, 8, 1), (40, 10, 10), (132, 118, 114), (7, 4, 10)]
  layouts += [(rng.randint(0, 300), rng.randint(1, 150), rng.randint(1, 160)) for _ in range(60)]
  for num_pieces, max_pieces, stride in layouts:
    spans = windows.doc_spans(num_pieces, max_pieces, stride)
    assert spans == _original_spans(num_pieces, max_pieces, stride)
    for p in range(num_pieces):
      best = windows.max_context_span(spans, p)
      assert [run_squad._check_is_max_context(spans, i, p) for i in range(len(spans))] == [
          i == best for i in range(len(spans))]


def test_a_namedtuple_of_spans_works_as_the_original_passes_them():
  span = collections.namedtuple("DocSpan", ["start", "length"])
  assert windows.max_context_span([span(0, 5), span(3, 5)], 4) == 1


# --- the TF twin ---


def _python_windows(num_pieces, max_pieces, doc_stride, empty_window):
  """(starts, lengths, counts, is_max) of a batch by the Python helper, flat as the TF twin's."""
  strides = doc_stride if isinstance(doc_stride, list) else [doc_stride] * len(num_pieces)
  starts, lengths, counts, is_max = [], [], [], []
  for n, m, stride in zip(num_pieces, max_pieces, strides):
    spans = windows.doc_spans(n, m, stride, empty_window)
    counts.append(len(spans))
    for index, (start, length) in enumerate(spans):
      starts.append(start)
      lengths.append(length)
      is_max.append([windows.max_context_span(spans, p) == index for p in range(start, start + length)])
  return starts, lengths, counts, is_max


@tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32),
                              tf.TensorSpec([], tf.int32)])
def _graph_windows(num_pieces, max_pieces, doc_stride):
  """The twins inside a graph, as the exports run them (SQuAD: max_pieces [B])."""
  starts, lengths, counts = windows.doc_spans_tf(num_pieces, max_pieces, doc_stride)
  return starts, lengths, counts, windows.max_context_tf(starts, lengths, counts)


def _check(num_pieces, max_pieces, doc_stride, empty_window=False, graph=False, scalar_max=False):
  """The TF twins on a batch equal the Python helper: windows, counts and every max-context flag."""
  expected = _python_windows(num_pieces, max_pieces, doc_stride, empty_window)
  if graph:
    got = _graph_windows(tf.constant(num_pieces, tf.int32), tf.constant(max_pieces, tf.int32),
                         tf.constant(doc_stride, tf.int32))
  else:
    limit = max_pieces[0] if scalar_max else tf.constant(max_pieces, tf.int32)
    starts, lengths, counts = windows.doc_spans_tf(tf.constant(num_pieces, tf.int32), limit,
                                                   tf.constant(doc_stride, tf.int32), empty_window)
    got = starts, lengths, counts, windows.max_context_tf(starts, lengths, counts)
  assert got[0].numpy().tolist() == expected[0]
  assert got[1].numpy().tolist() == expected[1]
  assert got[2].numpy().tolist() == expected[2]
  assert got[3].to_list() == expected[3]


def test_tf_twin_hand_worked():
  _check([12, 10, 0, 3, 132], [5, 4, 4, 4, 118], 3)
  _check([12, 0, 3], [5, 5, 5], 3, empty_window=True)
  _check([7, 7], [4, 4], 10)  # stride > window
  _check([], [], 2)  # no texts
  _check([0, 0], [4, 4], 2)  # texts without pieces: no windows
  _check([132, 132], [118, 118], [114, 3])  # a stride per text
  _check([132], [118], 114, graph=True)  # the float tie of test_the_float_score_breaks_ties_as_the_original


def test_tf_twin_breaks_the_float_ties_as_the_python_helper():
  # Windows of L > 100 pieces, the last one L - 100 long, stride L - 2 - 2m: the piece with m right
  # context in the window before the last has m + 1 left context in the last one, so
  # m + 0.01 L ties m + 1 + 0.01 (L - 100) in exact arithmetic; the floats break some of the ties
  # (the integer 100 * min + length rule picks another window for 46 pieces of these 1500 texts).
  family = [(s, m, 1 + (s + m) % 2) for s in range(101, 201) for m in range(15)]  # 1 or 2 full windows
  strides = [s for s, _, _ in family]
  max_pieces = [s + 2 + 2 * m for s, m, _ in family]
  num_pieces = [j * s + length - 100 for (s, _, j), length in zip(family, max_pieces)]
  _check(num_pieces, max_pieces, strides)
  disagreements = 0
  for n, length, stride in zip(num_pieces, max_pieces, strides):
    spans = windows.doc_spans(n, length, stride)
    disagreements += sum(windows.max_context_span(spans, p) != _integer_rule(spans, p) for p in range(n))
  assert disagreements > 0


def _random_layout(rng, graph, trial):
  """(num_pieces [B], max_pieces [B], doc_stride, empty_window, scalar_max) of one random batch."""
  batch = rng.randint(1, 6)
  scalar_max = not graph and trial % 3 == 0
  empty_window = not graph and rng.random() < 0.3
  long_windows = trial % 2  # every other batch: windows over 100 pieces, as SQuAD's
  max_pieces = [rng.randint(101, 300) if long_windows else rng.randint(1, 12) for _ in range(batch)]
  if scalar_max:
    max_pieces = [max_pieces[0]] * batch
  num_pieces = [rng.choice([0, rng.randint(1, m), rng.randint(m, 4 * m)]) for m in max_pieces]
  doc_stride = rng.randint(1, max(max_pieces) + 3)  # sometimes beyond the window: no overlap
  return num_pieces, max_pieces, doc_stride, empty_window, scalar_max


@pytest.mark.parametrize("graph", [False, True])
def test_tf_twin_equals_the_python_helper_on_random_layouts(graph):
  rng = random.Random(2024 + graph)
  for trial in range(40):
    num_pieces, max_pieces, doc_stride, empty_window, scalar_max = _random_layout(rng, graph, trial)
    _check(num_pieces, max_pieces, doc_stride, empty_window, graph, scalar_max)
