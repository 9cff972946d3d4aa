"""extract_features: reading, features and JSONL values against Google's original extract_features.py."""
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bert_tf2 import tokenization
from bert_tf2.core import features
from bert_tf2.embeddings import extract_features
from tests import original_bert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "who",
         "was", "jim", "hen", "##son", "?", "a", "puppet", "##eer", ",", "cat", "runs", "fast", "and",
         "un", "##want", "##ed", "run", "##ning", "中", "国", "人"]
VOCAB += ["[unused%d]" % i for i in range(40 - len(VOCAB))]
LINES = [
    "Who was Jim Henson ? ||| Jim Henson was a puppeteer",
    "the dog is hairy .",
    "",  # a blank line is an example too, as in the original
    "unwanted , running cat runs fast and the dog runs fast and the cat is hairy . " * 3,
    "中国人 ||| the cat",
    "a ||| the dog is hairy and the cat is hairy and jim henson was a puppeteer " * 2,
]


@pytest.fixture
def model_files(tmp_path, tiny_config):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  ckpt = original_bert.make_google_checkpoint(dataclasses.asdict(tiny_config) | {"hidden_act": "gelu"},
                                              str(tmp_path / "ckpt" / "bert_model.ckpt"), seed=3,
                                              with_pretraining_heads=False)
  input_file = tmp_path / "input.txt"
  input_file.write_text("\n".join(LINES) + "\n")
  return str(input_file), str(vocab_file), ckpt, str(tmp_path / "ckpt" / "bert_config.json")


def _original_jsonl(input_file, vocab_file, ckpt, config_file, layers, seq_length):
  """The original's JSON lines: its reading, features and model; its main()'s formatting."""
  original = original_bert.load("extract_features")
  tokenizer = original_bert.load("tokenization").FullTokenizer(vocab_file, do_lower_case=True)
  features = original.convert_examples_to_features(original.read_examples(input_file), seq_length, tokenizer)
  with open(config_file) as f:
    config = json.load(f)
  out = original_bert.run_original_model(
      config, ckpt, np.array([f.input_ids for f in features]), np.array([f.input_mask for f in features]),
      np.array([f.input_type_ids for f in features]))
  lines = []
  for row, feature in enumerate(features):
    tokens = [{"token": token,
               "layers": [{"index": index, "values": [round(float(x), 6) for x in out["encoder_outputs"][index][row, i]]}
                          for index in layers]}
              for i, token in enumerate(feature.tokens)]
    lines.append({"linex_index": feature.unique_id, "features": tokens})
  return lines


def test_values_match_original_extract_features(model_files, tmp_path):
  input_file, vocab_file, ckpt, config_file = model_files
  output_file = str(tmp_path / "out.jsonl")
  layers = [-1, -2, 0]
  count = extract_features.run_extract_features(input_file, output_file, layers, config_file, ckpt, vocab_file,
                                                do_lower_case=True, max_seq_length=24, batch_size=2)
  expected = _original_jsonl(input_file, vocab_file, ckpt, config_file, layers, 24)
  with open(output_file) as f:
    ours = [json.loads(line) for line in f]
  assert count == len(ours) == len(expected) == len(LINES)
  max_diff = 0.0
  for mine, theirs in zip(ours, expected):
    assert list(mine) == ["linex_index", "features"]
    assert mine["linex_index"] == theirs["linex_index"]
    assert [t["token"] for t in mine["features"]] == [t["token"] for t in theirs["features"]]
    for a, b in zip(mine["features"], theirs["features"]):
      assert [layer["index"] for layer in a["layers"]] == layers
      for la, lb in zip(a["layers"], b["layers"]):
        max_diff = max(max_diff, float(np.max(np.abs(np.array(la["values"]) - np.array(lb["values"])))))
  print("extract_features max abs diff vs original: %.2e" % max_diff)
  assert max_diff <= 1e-5


def test_read_examples_splits_pairs_and_drops_carriage_returns(tmp_path):
  path = tmp_path / "in.txt"
  path.write_bytes(b"a b ||| c d\r\nx\ry\n  lone  \nlast")
  examples = [(e.guid, e.text_a, e.text_b) for e in features.read_examples(str(path))]
  assert examples == [(0, "a b", "c d"), (1, "xy", None), (2, "lone", None), (3, "last", None)]


def test_truncate_seq_pair_trims_longer_side_ties_trim_b():
  a, b = list("abcde"), list("xy")
  features.truncate_seq_pair(a, b, 4)
  assert (a, b) == (list("ab"), list("xy"))
  a, b = list("ab"), list("xy")
  features.truncate_seq_pair(a, b, 3)
  assert (a, b) == (list("ab"), list("x"))


def test_bucket_batches_cover_every_index_once():
  lengths = [3, 9, 4, 8, 1, 7, 7]
  batches = features.bucket_batches(lengths, 3)
  assert sorted(np.concatenate(batches).tolist()) == list(range(7))
  assert [[lengths[i] for i in b] for b in batches] == [[9, 8, 7], [7, 4, 3], [1]]


def test_pair_features_have_segment_ids(tmp_path):
  vocab_file = tmp_path / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  tokenizer = tokenization.FullTokenizer(str(vocab_file), do_lower_case=True)
  [feature] = features.convert_examples_to_features(
      [features.InputExample(7, "the dog", "a cat")], None, 16, tokenizer, pad=False)
  assert feature.tokens == ["[CLS]", "the", "dog", "[SEP]", "a", "cat", "[SEP]"]
  assert feature.segment_ids == [0, 0, 0, 0, 1, 1, 1]


@pytest.mark.slow  # a subprocess (~5 s); suite time
def test_script_reports_missing_input_in_one_line(tmp_path, model_files):
  _, vocab_file, ckpt, config_file = model_files
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "extract_features.py"), "--input_file=/nonexistent.txt",
       "--output_file=%s" % (tmp_path / "o.jsonl"), "--vocab_file=" + vocab_file,
       "--bert_config_file=" + config_file, "--init_checkpoint=" + ckpt],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith("extract_features: error: --input_file")
  assert "Traceback" not in result.stderr
