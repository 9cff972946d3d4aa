"""Instance columns -> TFRecord-framed `tf.train.Example` bytes in one compiled loop.

The bytes equal `tf.train.Example(...).SerializeToString(deterministic=True)` framed by
`tfrecord.frame_records` (the tests hold them to `tests/reference_serializers.py`); ~10x faster
than numpy, so that serializing stops being the largest cost of data prep. Per record
(L = max_seq_length, P = max_predictions_per_seq; features in sorted key order, each a map entry
{1: key, 2: Feature{int64_list (3) | float_list (2): {1: packed values}}}):

  uint64 length | masked crc32c(length) | 0x0a varint(len) features | masked crc32c(record)
"""

import numba
import numpy as np

from data_prep import example_writer
from data_prep import tfrecord

_KEYS = np.frombuffer(b"".join(k.encode() for k in example_writer.FEATURE_KEYS), np.uint8)
_KEY_ENDS = np.cumsum([0] + [len(k) for k in example_writer.FEATURE_KEYS]).astype(np.int64)
_FLOAT_KEY = example_writer.FEATURE_KEYS.index("masked_lm_weights")
_jit = numba.njit(cache=True, nogil=True)


@_jit
def _vlen(x):
  n = 1
  while x >= 128:
    x >>= 7
    n += 1
  return n


@_jit
def _put_varint(buf, pos, x):
  while x >= 128:
    buf[pos] = (x & 0x7F) | 0x80
    x >>= 7
    pos += 1
  buf[pos] = x
  return pos + 1


@_jit
def _entry_lengths(key_length, payload_length):
  """(values, feature, entry) lengths of a map entry holding `payload_length` packed bytes."""
  values = 1 + _vlen(payload_length) + payload_length
  feature = 1 + _vlen(values) + values
  entry = 1 + _vlen(key_length) + key_length + 1 + _vlen(feature) + feature
  return values, feature, entry


@_jit
def _put_header(buf, pos, keys, key_ends, key, is_float, payload_length):
  """Writes the map entry of feature number `key` up to its packed payload; returns the position."""
  key_length = key_ends[key + 1] - key_ends[key]
  values, feature, entry = _entry_lengths(key_length, payload_length)
  buf[pos] = 0x0A
  pos = _put_varint(buf, pos + 1, entry)
  buf[pos] = 0x0A
  pos = _put_varint(buf, pos + 1, key_length)
  buf[pos:pos + key_length] = keys[key_ends[key]:key_ends[key + 1]]
  pos += key_length
  buf[pos] = 0x12
  pos = _put_varint(buf, pos + 1, feature)
  buf[pos] = 0x12 if is_float else 0x1A
  pos = _put_varint(buf, pos + 1, values)
  buf[pos] = 0x0A
  return _put_varint(buf, pos + 1, payload_length)


@_jit
def _masked_crc(buf, start, end, table):
  crc = 0xFFFFFFFF
  for i in range(start, end):
    crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8)
  crc ^= 0xFFFFFFFF
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


@_jit
def _put_u32(buf, pos, value):
  for k in range(4):
    buf[pos + k] = (value >> (8 * k)) & 0xFF


@_jit
def _serialize(ids, a_start, a_end, b_start, b_end, labels, num_masked, positions, replacements, length,
               predictions, cls_id, sep_id, keys, key_ends, float_key, table, buf, offsets):
  """Writes every row's framed record into `buf`; offsets[r]..offsets[r + 1] is row r's.
  Returns (total tokens, masked tokens)."""
  tokens = np.zeros(length, np.int64)
  masked_ids = np.zeros(predictions, np.int64)
  payload = np.zeros(len(key_ends) - 1, np.int64)
  pos = 0
  total_tokens = 0
  total_masked = 0
  for r in range(len(a_start)):
    len_a, len_b = a_end[r] - a_start[r], b_end[r] - b_start[r]
    n = len_a + len_b + 3
    m = num_masked[r]
    total_tokens += n
    total_masked += m
    tokens[:] = 0
    tokens[0] = cls_id
    tokens[1:len_a + 1] = ids[a_start[r]:a_end[r]]
    tokens[len_a + 1] = sep_id
    tokens[len_a + 2:n - 1] = ids[b_start[r]:b_end[r]]
    tokens[n - 1] = sep_id
    masked_ids[:] = 0
    for k in range(m):
      p = positions[r, k]
      masked_ids[k] = tokens[p]
      if replacements[r, k] >= 0:
        tokens[p] = replacements[r, k]
    # Payload bytes per feature, in key order (see example_writer.FEATURE_KEYS).
    payload[0] = 0
    for t in range(length):
      payload[0] += _vlen(tokens[t])
    payload[1] = length
    payload[2] = predictions - m
    payload[3] = predictions - m
    for k in range(m):
      payload[2] += _vlen(masked_ids[k])
      payload[3] += _vlen(positions[r, k])
    payload[4] = 4 * predictions
    payload[5] = 1
    payload[6] = length
    features = 0
    for key in range(len(payload)):
      entry = _entry_lengths(key_ends[key + 1] - key_ends[key], payload[key])[2]
      features += 1 + _vlen(entry) + entry
    record = 1 + _vlen(features) + features
    start = pos
    for k in range(8):
      buf[pos + k] = (record >> (8 * k)) & 0xFF
    _put_u32(buf, pos + 8, _masked_crc(buf, pos, pos + 8, table))
    pos += 12
    data = pos
    buf[pos] = 0x0A
    pos = _put_varint(buf, pos + 1, features)
    pos = _put_header(buf, pos, keys, key_ends, 0, False, payload[0])
    for t in range(length):
      pos = _put_varint(buf, pos, tokens[t])
    pos = _put_header(buf, pos, keys, key_ends, 1, False, payload[1])
    for t in range(length):
      buf[pos + t] = 1 if t < n else 0
    pos += length
    pos = _put_header(buf, pos, keys, key_ends, 2, False, payload[2])
    for k in range(predictions):
      pos = _put_varint(buf, pos, masked_ids[k])
    pos = _put_header(buf, pos, keys, key_ends, 3, False, payload[3])
    for k in range(predictions):
      pos = _put_varint(buf, pos, positions[r, k] if k < m else 0)
    pos = _put_header(buf, pos, keys, key_ends, 4, True, payload[4])
    for k in range(predictions):  # float32 1.0 = 00 00 80 3f, 0.0 = 00 00 00 00
      buf[pos:pos + 4] = 0
      if k < m:
        buf[pos + 2] = 0x80
        buf[pos + 3] = 0x3F
      pos += 4
    pos = _put_header(buf, pos, keys, key_ends, 5, False, payload[5])
    buf[pos] = labels[r]
    pos += 1
    pos = _put_header(buf, pos, keys, key_ends, 6, False, payload[6])
    for t in range(length):
      buf[pos + t] = 1 if len_a + 2 <= t < n else 0
    pos += length
    _put_u32(buf, pos, _masked_crc(buf, data, pos, table))
    pos += 4
    offsets[r + 1] = pos
    offsets[r] = start
  return total_tokens, total_masked


def serialize_framed(ids, columns, max_seq_length, max_predictions_per_seq, vocab):
  """`instances.Columns` -> (framed records as one bytes, offsets int64 [n + 1], total tokens, masked tokens).

  Args:
    ids: uint16/int32 array, the corpus ids the columns' ranges index.
    columns: `instances.Columns`.
    max_seq_length, max_predictions_per_seq: int, L and P of the records.
    vocab: `instances.MaskingVocab` (its [CLS] and [SEP] ids).

  Raises:
    ValueError: if an instance does not fit (L, P).
  """
  num, length, predictions = len(columns), max_seq_length, max_predictions_per_seq
  if not num:
    return b"", np.zeros(1, np.int64), 0, 0
  if int((columns.a_end - columns.a_start + columns.b_end - columns.b_start).max()) + 3 > length or \
      int(columns.num_masked.max()) > predictions:
    raise ValueError("an instance does not fit max_seq_length=%d, max_predictions_per_seq=%d" % (length, predictions))
  buf = np.empty(num * (5 * length + 10 * predictions + 300), np.uint8)
  offsets = np.zeros(num + 1, np.int64)
  total_tokens, masked_tokens = _serialize(
      ids, columns.a_start, columns.a_end, columns.b_start, columns.b_end, columns.is_random_next,
      columns.num_masked, columns.positions, columns.replacements, length, predictions, vocab.cls_id,
      vocab.sep_id, _KEYS, _KEY_ENDS, _FLOAT_KEY, tfrecord._TABLE.astype(np.int64), buf, offsets)
  return buf[:offsets[-1]].tobytes(), offsets, int(total_tokens), int(masked_tokens)
