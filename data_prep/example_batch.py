"""Serializes batches of `InstanceSpec`s to `tf.train.Example` bytes, with numpy doing the bulk.

Per batch, numpy gathers every instance's tokens from the corpus ids into a [B, L] matrix,
applies the masking, and varint-encodes input_ids, masked_lm_ids and masked_lm_positions into
flat byte strings (one table lookup per value); Python then only joins, per record, slices of
those strings with precomputed headers. The bytes equal `example_writer.ExampleSerializer`'s
(= `tf.train.Example.SerializeToString(deterministic=True)`).
"""

import numpy as np

from data_prep import example_writer
from data_prep import instances_jit

_MAX_VARINT_BYTES = 3  # ids and positions below 2**21


def _varint_table(size):
  """[size, w] uint8 varint bytes of 0..size-1 (zero-padded, w = the longest) and [size] lengths."""
  values = np.arange(size, dtype=np.int64)
  lengths = 1 + (values >= 1 << 7) + (values >= 1 << 14)
  table = np.zeros((size, int(lengths.max())), np.uint8)
  for k in range(table.shape[1]):
    more = lengths > k + 1  # continuation bit
    table[:, k] = ((values >> (7 * k)) & 0x7F) | (more << 7)
  return table, lengths


class BatchSerializer:
  """Callable: (corpus ids, list of `InstanceSpec`) -> (records, total tokens, masked tokens).

  Args:
    max_seq_length, max_predictions_per_seq: int, L and P of the records.
    vocab: `instances.MaskingVocab`.
  """

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab):
    if max(vocab.size, max_seq_length) >= 1 << (7 * _MAX_VARINT_BYTES):
      raise ValueError("vocab of %d ids is too large for the batch serializer" % vocab.size)
    self.length, self.predictions, self.vocab = max_seq_length, max_predictions_per_seq, vocab
    self._table, self._lengths = _varint_table(max(vocab.size, max_seq_length))
    one = example_writer.ExampleSerializer(max_seq_length, max_predictions_per_seq, vocab.size)
    # Headers by payload byte count, fixed entries by count, as ExampleSerializer builds them.
    self._id_headers = [one.header("input_ids", n) for n in range(3 * max_seq_length + 1)]
    self._masked_id_headers = [one.header("masked_lm_ids", n) for n in range(3 * max_predictions_per_seq + 1)]
    self._position_headers = [one.header("masked_lm_positions", n) for n in range(3 * max_predictions_per_seq + 1)]
    self._mask_entries, self._weight_entries = one.mask_entries, one.weight_entries
    self._label_entries, self._segment_header = one.label_entries, one.segment_header
    self._example_headers = {}

  def _varints(self, values):
    """[B, W] ints -> (bytes of all rows' varints, [B + 1] row offsets into it as a list)."""
    lengths = self._lengths[values]
    keep = np.arange(self._table.shape[1]) < lengths[..., None]  # [B, W, bytes]
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(lengths.sum(axis=1), out=offsets[1:])
    return self._table[values][keep].tobytes(), offsets.tolist()

  def __call__(self, ids, specs):
    """Serializes `InstanceSpec`s whose ranges index `ids` (uint16/int32 array); see class docstring."""
    if not specs:
      return [], 0, 0
    return self.serialize(ids, instances_jit.Columns.from_specs(specs, self.predictions))

  def serialize(self, ids, columns):
    """Serializes `instances_jit.Columns` whose ranges index `ids`: (records, total tokens, masked tokens)."""
    num, length, predictions = len(columns), self.length, self.predictions
    if not num:
      return [], 0, 0
    a_start, b_start, labels = columns.a_start, columns.b_start, columns.is_random_next.tolist()
    len_a, len_b = columns.a_end - a_start, columns.b_end - b_start
    num_tokens = len_a + len_b + 3
    num_masked = columns.num_masked
    if num_tokens.max() > length or num_masked.max() > predictions or columns.positions.shape[1] > predictions:
      raise ValueError("an instance does not fit max_seq_length=%d, max_predictions_per_seq=%d"
                       % (length, predictions))
    # tokens[r, t] = [CLS] A [SEP] B [SEP] 0...   [B, L]
    t = np.arange(length)
    la, end = len_a[:, None], num_tokens[:, None]
    source = np.where(t <= la, a_start[:, None] - 1 + t, b_start[:, None] - la - 2 + t)
    tokens = ids[np.clip(source, 0, len(ids) - 1)].astype(np.int32)
    rows = np.arange(num)
    tokens[:, 0] = self.vocab.cls_id
    tokens[rows, len_a + 1] = self.vocab.sep_id
    tokens[rows, num_tokens - 1] = self.vocab.sep_id
    tokens[t >= end] = 0
    # Masking: (row, slot) pairs -> masked_lm_ids/positions [B, P], tokens replaced.
    valid = np.arange(columns.positions.shape[1]) < num_masked[:, None]  # [B, P']
    mask_rows, slots = np.nonzero(valid)
    mask_cols = columns.positions[mask_rows, slots].astype(np.int64)
    new_ids = columns.replacements[mask_rows, slots]
    masked_ids = np.zeros((num, predictions), np.int32)
    masked_positions = np.zeros((num, predictions), np.int32)
    masked_ids[mask_rows, slots] = tokens[mask_rows, mask_cols]
    masked_positions[mask_rows, slots] = mask_cols
    tokens[mask_rows, mask_cols] = np.where(new_ids < 0, masked_ids[mask_rows, slots], new_ids)
    segments = ((t >= la + 2) & (t < end)).astype(np.uint8).tobytes()  # 1 byte per 0/1 varint

    id_bytes, id_offsets = self._varints(tokens)
    mid_bytes, mid_offsets = self._varints(masked_ids)
    pos_bytes, pos_offsets = self._varints(masked_positions)
    records = []
    for r, (n, m, label) in enumerate(zip(num_tokens.tolist(), num_masked.tolist(), labels)):
      i0, i1, j0, j1, k0, k1 = id_offsets[r], id_offsets[r + 1], mid_offsets[r], mid_offsets[r + 1], \
          pos_offsets[r], pos_offsets[r + 1]
      features = b"".join((  # sorted by key, as deterministic serialization
          self._id_headers[i1 - i0], id_bytes[i0:i1],
          self._mask_entries[n],
          self._masked_id_headers[j1 - j0], mid_bytes[j0:j1],
          self._position_headers[k1 - k0], pos_bytes[k0:k1],
          self._weight_entries[m],
          self._label_entries[label],
          self._segment_header, segments[r * length:(r + 1) * length]))
      header = self._example_headers.get(len(features))
      if header is None:
        header = self._example_headers[len(features)] = b"\x0a" + example_writer.varint(len(features))
      records.append(header + features)
    return records, int(num_tokens.sum()), int(num_masked.sum())
