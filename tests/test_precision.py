"""--precision (float32 / bfloat16 / int8) on SentenceEncoder, its SavedModel export and the scripts."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bert_tf2 import modeling, tokenization
from bert_tf2.core import litert
from bert_tf2.embeddings import encoder as embeddings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "cat",
         "runs", "fast", "and", "a", "中", "国", "人"]
VOCAB += ["[unused%d]" % i for i in range(40 - len(VOCAB))]
TEXTS = ["the dog is hairy .", "cat", "the cat runs fast and the dog runs fast and the cat is hairy .", "中国人",
         "a dog ||| a cat"]
# Cosine to float32, per vector, that each precision keeps on this random model (MiniLM keeps more:
# benchmarks/README.md). Hidden 32, so LiteRT quantizes the 32x32 and 32x64 kernels (>= 1024 weights).
MIN_COSINE = {"float32": 0.999999, "bfloat16": 0.999, "int8": 0.99}


@pytest.fixture(scope="module")
def model():
  config = modeling.BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
  keras_model = modeling.BertModel(config)
  rng = np.random.default_rng(0)
  for v in keras_model.weights:  # nonzero biases and LayerNorm betas
    v.assign(v.numpy() + rng.normal(0, 0.1, v.shape).astype(np.float32))
  return keras_model


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n")
  return str(path)


def _encoder(model, vocab_file, precision):
  return embeddings.SentenceEncoder(model, tokenization.FullTokenizer(vocab_file), max_seq_length=16, pooling_layer=-1,
                                    normalize=True, precision=precision)


def _min_cosine(a, b):
  return float(np.min(np.sum(a * b, axis=1)))


def test_each_precision_encodes_close_to_float32(model, vocab_file):
  reference = _encoder(model, vocab_file, "float32").encode(TEXTS)
  for precision in ("bfloat16", "int8"):
    encoder = _encoder(model, vocab_file, precision)
    vectors = encoder.encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    assert _min_cosine(vectors, reference) >= MIN_COSINE[precision], precision
    assert not np.array_equal(vectors, reference), precision  # it did compute otherwise
  assert _encoder(model, vocab_file, "bfloat16").model.dtype_policy.name == "mixed_bfloat16"


def test_int8_conversion_is_cached_per_weights(model, vocab_file, monkeypatch, tmp_path):
  monkeypatch.setenv("BERT_TF2_CACHE", str(tmp_path))
  first = _encoder(model, vocab_file, "int8")
  assert len(os.listdir(tmp_path / "litert")) == 1
  converted = []
  monkeypatch.setattr(litert, "convert", lambda *args: converted.append(args))
  again = _encoder(model, vocab_file, "int8")  # read back, not converted
  assert not converted and again.tflite == first.tflite
  np.testing.assert_array_equal(again.encode(TEXTS), first.encode(TEXTS))
  other = modeling.BertModel(model.config)  # other weights: another file
  monkeypatch.undo()
  monkeypatch.setenv("BERT_TF2_CACHE", str(tmp_path))
  _encoder(other, vocab_file, "int8")
  assert len(os.listdir(tmp_path / "litert")) == 2


def test_bad_precision_is_one_line(model, vocab_file):
  with pytest.raises(ValueError, match=r"^precision must be one of float32, bfloat16, int8; got 'int4'$"):
    _encoder(model, vocab_file, "int4")


@pytest.mark.slow  # Keras quantizes the whole model first (~18 s); the guard is one line in layers._dense
def test_keras_quantize_is_refused_not_silently_wrong(tiny_config):
  # Our layers read Dense kernels into einsums: after Keras' quantize("int8") those are unscaled int8.
  keras_model = modeling.BertModel(tiny_config)
  keras_model.quantize("int8")
  ids = np.array([[2, 5, 6, 3]], np.int32)
  with pytest.raises(ValueError, match="does not apply to bert_tf2 layers"):
    keras_model({"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)})


@pytest.mark.slow
def test_export_at_each_precision_runs_so_in_a_fresh_process(model, vocab_file, tmp_path):
  """bfloat16 and int8 SavedModels: same signatures as float32; from_pretrained runs each at its precision."""
  reference = _encoder(model, vocab_file, "float32").encode(TEXTS)
  for precision in ("bfloat16", "int8"):
    embeddings.export_saved_model(_encoder(model, vocab_file, precision), str(tmp_path / precision), vocab_file)
  check = r"""
import json, sys, numpy as np, tensorflow as tf, tensorflow_text
from bert_tf2.embeddings import encoder as embeddings
texts, out = json.loads(sys.argv[1]), {}
for precision in ("bfloat16", "int8"):
  path = sys.argv[2] + "/" + precision
  enc = embeddings.SentenceEncoder.from_pretrained(path)
  served = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(texts))["embeddings"]
  out[precision] = {"recorded": enc.precision, "runner": enc.runner is not None,
                    "encode": enc.encode(texts).tolist(), "signature": served.numpy().tolist()}
print(json.dumps(out))
"""
  result = subprocess.run([sys.executable, "-c", check, json.dumps(TEXTS), str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  for precision in ("bfloat16", "int8"):
    got = out[precision]
    assert got["recorded"] == precision and got["runner"] == (precision == "int8")
    assert _min_cosine(np.array(got["encode"], np.float32), reference) >= MIN_COSINE[precision]
    # The signatures: bfloat16 computes in bfloat16; int8's graph is float32 (TF's int8 matmul is slow).
    assert _min_cosine(np.array(got["signature"], np.float32), reference) >= MIN_COSINE["bfloat16"]
  assert os.path.exists(tmp_path / "int8" / "assets" / "encoder_int8.tflite")


def _one_error_line(result, program):
  lines = [line for line in result.stderr.splitlines() if line.startswith(program + ": ")]
  assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
  return lines[0]


@pytest.mark.slow
def test_precision_flag_on_encode_and_export_scripts(model, vocab_file, tmp_path):
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "m" / "bert_model.ckpt"))
  config = tmp_path / "m" / "bert_config.json"
  model.config.to_json_file(str(config))
  (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
  reference = _encoder(model, vocab_file, "float32").encode(TEXTS)
  run = lambda script, *args: subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script)] + list(args),
                                             capture_output=True, text=True, cwd=ROOT, timeout=300)
  common = ["--model=" + prefix, "--vocab_file=" + vocab_file, "--input_file=%s" % (tmp_path / "in.txt"),
            "--max_seq_length=16", "--pooling_layer=-1", "--normalize"]
  result = run("encode.py", *common, "--output_file=%s" % (tmp_path / "int8.npy"), "--precision=int8")
  assert result.returncode == 0, result.stderr[-2000:]
  assert _min_cosine(np.load(tmp_path / "int8.npy"), reference) >= MIN_COSINE["int8"]
  assert "got 'int4'" in _one_error_line(run("encode.py", *common, "--output_file=%s" % (tmp_path / "x.npy"),
                                             "--precision=int4"), "encode")
  export = ["--encoder_only", "--bert_config_file=%s" % config, "--vocab_file=" + vocab_file,
            "--init_checkpoint=" + prefix, "--max_seq_length=16"]
  result = run("export_saved_model.py", *export, "--export_dir=%s" % (tmp_path / "bf16"), "--precision=bfloat16")
  assert result.returncode == 0, result.stderr[-2000:]
  loaded = embeddings.SentenceEncoder.from_pretrained(str(tmp_path / "bf16"), pooling_layer=-1, normalize=True)
  assert loaded.precision == "bfloat16"
  assert _min_cosine(loaded.encode(TEXTS), reference) >= MIN_COSINE["bfloat16"]
  assert "got 'int4'" in _one_error_line(run("export_saved_model.py", *export, "--export_dir=%s" % (tmp_path / "x"),
                                             "--precision=int4"), "export_saved_model")
  assert not os.path.exists(tmp_path / "x")


@pytest.mark.slow
def test_server_precision_flag_serves_int8(model, vocab_file, tmp_path):
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import server as serving  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import start as serving_start  # pylint: disable=g-import-not-at-top
  checkpoints.save_google_checkpoint(model, str(tmp_path / "m" / "bert_model.ckpt"))
  model.config.to_json_file(str(tmp_path / "m" / "bert_config.json"))
  (tmp_path / "m" / "vocab.txt").write_text(open(vocab_file, encoding="utf-8").read())
  app, _ = serving_start.build_app(serving_start.get_args_parser().parse_args(
      ["-model_dir", str(tmp_path / "m"), "-max_seq_len", "16", "-pooling_layer", "-1", "-normalize",
       "-precision", "int8"]))
  with serving.background_server(app) as port:
    served = serving.BertClient("127.0.0.1", port, ignore_all_checks=True).encode(TEXTS)
  np.testing.assert_allclose(served, _encoder(model, vocab_file, "int8").encode(TEXTS), atol=1e-3)
  reference = _encoder(model, vocab_file, "float32").encode(TEXTS)
  assert _min_cosine(served, reference) >= MIN_COSINE["int8"] and not np.allclose(served, reference, atol=1e-6)
