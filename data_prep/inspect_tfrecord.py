r"""Prints pretraining TFRecords as text, to check what create_pretraining_data wrote.

Usage:
  python -m data_prep.inspect_tfrecord /tmp/zh_pretrain.tfrecord --vocab_file=/tmp/zh_vocab.txt \
    --max_records=3

Each record prints as

  record 0  next_sentence_label=1 (random next)  tokens=57  masked=8
  [CLS] 迈 向 [[MASK]→充] 满 ... [SEP] ... [SEP]
  masked: 4:充 9:的 ...

where [[MASK]→充] is a position predicted from [MASK] whose label is 充, {新→充} one replaced by a
random token (新), and <充> one kept as is; the second line shows segment A, then B after the
first [SEP]. Reads records without TensorFlow.
"""

import struct
import sys

from absl import flags

from bert_tf2 import tokenization
from bert_tf2.core import cli

flags.DEFINE_string("vocab_file", None, "The vocab the records were made with.")
flags.DEFINE_integer("max_records", 5, "How many records to print (0 = all).")

FLAGS = flags.FLAGS


def read_tfrecord(path):
  """Yields the records of a TFRecord file (framing only, checksums not verified)."""
  with open(path, "rb") as f:
    while True:
      header = f.read(12)
      if not header:
        return
      if len(header) < 12:
        raise ValueError("%s: truncated record header" % path)
      (length,) = struct.unpack("<Q", header[:8])
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        raise ValueError("%s: truncated record" % path)
      yield data


def _varint(data, pos):
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    shift += 7
    if byte < 0x80:
      return result, pos


def parse_example(data):
  """`tf.train.Example` bytes -> {feature name: list of int or float} (int64 and float lists)."""
  features = {}
  end_features = len(data)
  pos = 0
  while pos < end_features:  # Example: field 1 = Features
    _, pos = _varint(data, pos)
    length, pos = _varint(data, pos)
    features_end = pos + length
    while pos < features_end:  # Features: repeated map entry (field 1)
      _, pos = _varint(data, pos)
      entry_length, pos = _varint(data, pos)
      entry_end = pos + entry_length
      key, values = None, []
      while pos < entry_end:
        tag, pos = _varint(data, pos)
        length, pos = _varint(data, pos)
        if tag >> 3 == 1:
          key = data[pos:pos + length].decode("utf-8")
        else:
          values = _parse_feature(data[pos:pos + length])
        pos += length
      features[key] = values
  return features


def _parse_feature(data):
  tag, pos = _varint(data, 0)
  length, pos = _varint(data, pos)
  inner = data[pos:pos + length]  # Int64List / FloatList: field 1, packed
  if not inner:
    return []
  _, p = _varint(inner, 0)
  size, p = _varint(inner, p)
  payload = inner[p:p + size]
  if tag >> 3 == 2:  # float_list
    return list(struct.unpack("<%df" % (len(payload) // 4), payload))
  values, p = [], 0
  while p < len(payload):
    value, p = _varint(payload, p)
    values.append(value)
  return values


def format_record(features, inv_vocab, mask_id):
  """Three lines of text for one parsed record (see the module docstring)."""
  ids = features["input_ids"]
  length = sum(features["input_mask"])
  weights = features["masked_lm_weights"]
  labels = {p: i for p, i, w in zip(features["masked_lm_positions"], features["masked_lm_ids"], weights) if w > 0}
  token = lambda i: inv_vocab.get(i, "<id %d>" % i)
  words = []
  for pos in range(length):
    if pos not in labels:
      words.append(token(ids[pos]))
    elif ids[pos] == mask_id:
      words.append("[[MASK]→%s]" % token(labels[pos]))
    elif ids[pos] == labels[pos]:
      words.append("<%s>" % token(ids[pos]))
    else:
      words.append("{%s→%s}" % (token(ids[pos]), token(labels[pos])))
  nsp = features["next_sentence_labels"][0]
  return "\n".join((
      "next_sentence_label=%d (%s)  tokens=%d  masked=%d" % (nsp, "random next" if nsp else "actual next",
                                                             length, len(labels)),
      " ".join(words),
      "masked: " + " ".join("%d:%s" % (p, token(i)) for p, i in sorted(labels.items()))))


def main(argv):
  if len(argv) != 2:
    print("usage: python -m data_prep.inspect_tfrecord FILE --vocab_file=VOCAB [--max_records=N]", file=sys.stderr)
    return 2
  try:
    vocab = tokenization.load_vocab(FLAGS.vocab_file)
    inv_vocab = {i: t for t, i in vocab.items()}
    for k, record in enumerate(read_tfrecord(argv[1])):
      if FLAGS.max_records and k >= FLAGS.max_records:
        break
      print("record %d  %s\n" % (k, format_record(parse_example(record), inv_vocab, vocab.get("[MASK]"))))
  except (ValueError, OSError, KeyError) as e:
    print("inspect_tfrecord: error: %s" % e, file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  flags.mark_flag_as_required("vocab_file")
  cli.run(main, outputs=())
