"""LiteRT export: encoder and classifier SavedModels -> .tflite, run by ai-edge-litert alone in a fresh process."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import modeling
from bert_tf2.core import export
from bert_tf2.embeddings import pooling
from bert_tf2.interop import litert_export
from bert_tf2.tasks.classification import export as classifier_export
from bert_tf2.tasks.classification.model import BertClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(35)]
# Max abs difference to the Keras model per precision (int8: of unit-norm embeddings / probabilities).
TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "int8": 5e-2}
# Runs with nothing but ai-edge-litert and numpy imported (asserted).
RUN_LITERT = r"""
import json, sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
feeds = {k: np.array(v, np.int32) for k, v in json.loads(sys.argv[2]).items()}
out = {}
for path in sys.argv[1].split(","):
  run = Interpreter(path + "/model.tflite").get_signature_runner()
  out[path] = {k: v.tolist() for k, v in run(**feeds).items()}
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
print(json.dumps(out))
"""


def _config():
  return modeling.BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)


def _randomized(model):
  rng = np.random.default_rng(0)
  for v in model.weights:
    v.assign(v.numpy() + rng.normal(0, 0.1, v.shape).astype(np.float32))
  return model


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n")
  return str(path)


@pytest.fixture(scope="module")
def feeds():
  ids = np.array([[2, 7, 8, 9, 3, 0], [2, 10, 11, 12, 13, 3]], np.int32)
  mask = (ids > 0).astype(np.int32)
  return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def _run_litert(paths, feeds):
  result = subprocess.run([sys.executable, "-c", RUN_LITERT, ",".join(paths),
                           json.dumps({k: v.tolist() for k, v in feeds.items()})],
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return {k: {name: np.array(v, np.float32) for name, v in outputs.items()}
          for k, outputs in json.loads(result.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.slow
def test_encoder_litert_matches_keras_at_each_precision(vocab_file, feeds, tmp_path):
  model = _randomized(modeling.BertModel(_config()))
  saved = export.export_encoder(model, str(tmp_path / "sm"), vocab_file, True, 16, normalize=True)
  paths = [litert_export.export_litert(saved, str(tmp_path / p), p) for p in ("float32", "int8")]
  out = model(feeds)
  expected = {"embeddings": pooling.pool_layers(out["encoder_outputs"], feeds["input_mask"], [-1], "REDUCE_MEAN",
                                                True).numpy(),
              "pooled_output": out["pooled_output"].numpy()}
  got = _run_litert(paths, feeds)
  for path, precision in zip(paths, ("float32", "int8")):
    for name, value in expected.items():
      np.testing.assert_allclose(got[path][name], value, atol=TOLERANCE[precision], err_msg=precision + " " + name)
  with open(os.path.join(paths[0], "litert_config.json"), encoding="utf-8") as f:
    config = json.load(f)
  assert config["kind"] == "encoder" and config["inputs"] == ["input_ids", "input_mask", "segment_ids"]
  assert open(os.path.join(paths[0], "vocab.txt"), encoding="utf-8").read().split() == VOCAB
  assert os.path.getsize(os.path.join(paths[1], "model.tflite")) < os.path.getsize(os.path.join(paths[0],
                                                                                               "model.tflite"))


@pytest.mark.slow
def test_classifier_litert_matches_keras(vocab_file, feeds, tmp_path):
  model = _randomized(BertClassifier(modeling.BertModel(_config()), num_labels=3))
  saved = classifier_export.export_classifier(model, str(tmp_path / "sm"), vocab_file, True, 16, ["a", "b", "c"])
  paths = [litert_export.export_litert(saved, str(tmp_path / p), p) for p in ("float32", "float16", "int8")]
  expected = tf.nn.softmax(model(feeds, training=False)).numpy()
  got = _run_litert(paths, feeds)
  for path, precision in zip(paths, ("float32", "float16", "int8")):
    np.testing.assert_allclose(got[path]["probabilities"], expected, atol=TOLERANCE[precision], err_msg=precision)
  with open(os.path.join(paths[0], "litert_config.json"), encoding="utf-8") as f:
    assert json.load(f)["labels"] == ["a", "b", "c"]


def test_bad_precision_and_uncovered_family_are_one_line(tmp_path):
  with pytest.raises(ValueError, match=r"^precision must be one of float32, float16, int8 for LiteRT; got 'int4'$"):
    litert_export.export_litert(str(tmp_path), str(tmp_path / "out"), "int4")
  module = tf.Module()  # a family LiteRT does not cover: serve_ids -> tags (a tagger's)
  module.f = tf.function(lambda input_ids, input_mask, segment_ids: {"tags": input_ids * 2},
                         input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3)
  tf.saved_model.save(module, str(tmp_path / "tagger"), signatures={"serve_ids": module.f.get_concrete_function()})
  with pytest.raises(ValueError, match=r"LiteRT export covers encoder and classifier SavedModels; "
                                       r"this one's serve_ids gives tags$"):
    litert_export.export_litert(str(tmp_path / "tagger"), str(tmp_path / "out"))
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_script_errors_are_one_line(tmp_path):
  for args in (["--precision=int4"], []):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_litert.py"),
                             "--saved_model=%s" % tmp_path, "--output_dir=%s" % (tmp_path / "o")] + args,
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    lines = [line for line in result.stderr.splitlines() if line.startswith("export_litert: ")]
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
  assert "got 'int4'" in subprocess.run(  # the flag is checked before the SavedModel
      [sys.executable, os.path.join(ROOT, "scripts", "export_litert.py"), "--saved_model=x", "--output_dir=y",
       "--precision=int4"], capture_output=True, text=True, cwd=ROOT, timeout=600).stderr
