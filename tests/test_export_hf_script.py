"""scripts/export_hf.py: flags in, Hugging Face directory and keras-hub preset out; bad input is one line."""

import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "export_hf.py")
EN = os.path.join(ROOT, "tests", "data", "hf_export", "en_classifier")  # exact gelu
ZH = os.path.join(ROOT, "tests", "data", "hf_export", "zh_pretrainer")  # Google's tanh gelu


def _run(*flags):
  return subprocess.run([sys.executable, SCRIPT] + list(flags), capture_output=True, text=True, cwd=ROOT,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout=600)


@pytest.mark.slow  # the library calls are tested in test_hf_export / test_keras_hub_export; this is the wiring
def test_pretrainer_to_hf_and_keras_hub(tmp_path):
  result = _run("--model=pretrainer", "--bert_config_file=%s/config.json" % ZH, "--vocab_file=%s/vocab.txt" % ZH,
                "--init_checkpoint=%s" % ZH, "--do_lower_case=true", "--max_seq_length=32",
                "--hf_export_dir=%s" % (tmp_path / "hf"), "--keras_hub_preset_dir=%s" % (tmp_path / "kh"))
  assert result.returncode == 0, result.stderr[-2000:]
  assert "export_hf: wrote hf: %s" % (tmp_path / "hf") in result.stdout
  ours, fixture = load_file(str(tmp_path / "hf" / "model.safetensors")), load_file(os.path.join(ZH, "model.safetensors"))
  assert sorted(ours) == sorted(fixture) and all(np.array_equal(ours[k], fixture[k]) for k in fixture)
  assert os.path.isfile(tmp_path / "kh" / "model.weights.h5")


@pytest.mark.slow  # a subprocess (~6 s); suite time
def test_exact_gelu_to_keras_hub_fails_in_one_line_and_writes_nothing(tmp_path):
  result = _run("--model=encoder", "--bert_config_file=%s/config.json" % EN, "--vocab_file=%s/vocab.txt" % EN,
                "--init_checkpoint=%s" % EN, "--do_lower_case=false", "--max_seq_length=32",
                "--hf_export_dir=%s" % (tmp_path / "hf"), "--keras_hub_preset_dir=%s" % (tmp_path / "kh"))
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("export_hf: error: keras-hub's BertBackbone computes gelu with the tanh approximation")
  assert not os.path.exists(tmp_path / "hf") and not os.path.exists(tmp_path / "kh")
