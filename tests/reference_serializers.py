"""The oracles of `data_prep/example_jit.py`: `tf.train.Example` bytes built in Python and numpy.

The library serializes records in compiled code only (`example_jit.serialize_framed`). These two
readable serializers are what the tests hold it to, in a chain that ends at TensorFlow:

  tf.train.Example(...).SerializeToString(deterministic=True)
    == ExampleSerializer (one `TrainingInstance`, protobuf bytes built directly, features in key order)
    == BatchSerializer   (batches of `InstanceSpec`s / `Columns`: numpy gathers the tokens, applies
                          the masking and varint-encodes; Python joins slices with fixed headers)
    == example_jit.serialize_framed, unframed
"""

import typing

import numpy as np

from tests import reference_instances


class TrainingInstance(typing.NamedTuple):
  """One sentence pair, masked, unpadded.

  Attributes:
    input_ids: list of int, [CLS] A [SEP] B [SEP] after masking. [num_tokens <= max_seq_length]
    segment_a_length: int, tokens with segment id 0 ([CLS] A [SEP]); the rest have segment id 1.
    masked_lm_positions: list of int, sorted positions that are predicted. [num_masked]
    masked_lm_ids: list of int, the original ids at those positions. [num_masked]
    is_random_next: bool, B is a random span from another document (NSP label 1).
  """
  input_ids: list
  segment_a_length: int
  masked_lm_positions: list
  masked_lm_ids: list
  is_random_next: bool


def varint(value):
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _field(tag, payload):
  """A length-delimited protobuf field: tag byte, varint length, payload."""
  return tag + varint(len(payload)) + payload


class ExampleSerializer:
  """Serializes instances to `tf.train.Example` bytes for a fixed (L, P).

  Every feature is a map entry {1: key, 2: Feature{int64_list (3) | float_list (2): {1: packed}}};
  the headers of fixed-length payloads are built once, the others per payload length.

  Example:
    >>> serialize = ExampleSerializer(max_seq_length=8, max_predictions_per_seq=2, vocab_size=10)
    >>> record = serialize(TrainingInstance([2, 4, 3, 5, 3], 3, [1], [6], False))
    >>> tf.train.Example.FromString(record).features.feature["input_ids"].int64_list.value
    [2, 4, 3, 5, 3, 0, 0, 0]
  """

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq
    self._varints = [varint(i) for i in range(max(vocab_size, max_seq_length) + 1)]
    self._headers = {}
    length, predictions = max_seq_length, max_predictions_per_seq
    self.mask_entries = [self._entry("input_mask", b"\x01" * n + b"\x00" * (length - n)) for n in range(length + 1)]
    self.weight_entries = [
        self._entry("masked_lm_weights", b"\x00\x00\x80\x3f" * n + b"\x00\x00\x00\x00" * (predictions - n),
                    float_list=True) for n in range(predictions + 1)]  # float32 1.0 / 0.0
    self.label_entries = [self._entry("next_sentence_labels", bytes([label])) for label in (0, 1)]
    self.segment_header = self.header("segment_ids", length)

  def header(self, key, payload_length, float_list=False):
    """Bytes before a packed payload of `payload_length` bytes in the `key` map entry."""
    header = self._headers.get((key, payload_length, float_list))
    if header is None:
      values = b"\x0a" + varint(payload_length)  # Int64List / FloatList {1: packed}
      feature = (b"\x12" if float_list else b"\x1a") + varint(len(values) + payload_length) + values
      entry = _field(b"\x0a", key.encode()) + b"\x12" + varint(len(feature) + payload_length) + feature
      header = b"\x0a" + varint(len(entry) + payload_length) + entry
      self._headers[(key, payload_length, float_list)] = header
    return header

  def _entry(self, key, payload, float_list=False):
    return self.header(key, len(payload), float_list) + payload

  def __call__(self, instance):
    """bytes of one `TrainingInstance`; ValueError if it does not fit (L, P)."""
    ids, positions = instance.input_ids, instance.masked_lm_positions
    num_tokens, num_masked = len(ids), len(positions)
    pad = self.max_seq_length - num_tokens
    pad_masked = self.max_predictions_per_seq - num_masked
    if pad < 0 or pad_masked < 0:
      raise ValueError("instance with %d tokens and %d predictions does not fit max_seq_length=%d, "
                       "max_predictions_per_seq=%d" % (num_tokens, num_masked, self.max_seq_length,
                                                        self.max_predictions_per_seq))
    encode = self._varints.__getitem__
    input_ids = b"".join(map(encode, ids)) + bytes(pad)
    masked_ids = b"".join(map(encode, instance.masked_lm_ids)) + bytes(pad_masked)
    masked_positions = b"".join(map(encode, positions)) + bytes(pad_masked)
    segment_a = instance.segment_a_length
    features = b"".join((  # sorted by key, as deterministic serialization
        self.header("input_ids", len(input_ids)), input_ids,
        self.mask_entries[num_tokens],
        self.header("masked_lm_ids", len(masked_ids)), masked_ids,
        self.header("masked_lm_positions", len(masked_positions)), masked_positions,
        self.weight_entries[num_masked],
        self.label_entries[instance.is_random_next],
        self.segment_header, bytes(segment_a), b"\x01" * (num_tokens - segment_a), bytes(pad),
    ))
    return b"\x0a" + varint(len(features)) + features


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
    vocab: `data_prep.instances.MaskingVocab`.
  """

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab):
    if max(vocab.size, max_seq_length) >= 1 << (7 * _MAX_VARINT_BYTES):
      raise ValueError("vocab of %d ids is too large for the batch serializer" % vocab.size)
    self.length, self.predictions, self.vocab = max_seq_length, max_predictions_per_seq, vocab
    self._table, self._lengths = _varint_table(max(vocab.size, max_seq_length))
    one = ExampleSerializer(max_seq_length, max_predictions_per_seq, vocab.size)
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
    return self.serialize(ids, reference_instances.columns_from_specs(specs, self.predictions))

  def serialize(self, ids, columns):
    """Serializes `data_prep.instances.Columns` whose ranges index `ids`: (records, total tokens, masked tokens)."""
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
        header = self._example_headers[len(features)] = b"\x0a" + varint(len(features))
      records.append(header + features)
    return records, int(num_tokens.sum()), int(num_masked.sum())
