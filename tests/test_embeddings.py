"""SentenceEncoder: bert-as-service pooling, padding masked out, bucketing, loading and SavedModel export."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, modeling, tokenization
from bert_tf2.embeddings import encoder as embeddings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "cat",
         "runs", "fast", "and", "a", "中", "国", "人", "医", "疗", "保", "险"]
VOCAB += ["[unused%d]" % i for i in range(40 - len(VOCAB))]
TEXTS = ["the dog is hairy .", "cat", "the cat runs fast and the dog runs fast and the cat is hairy .",
         "中国人", "", "a dog ||| a cat", "医疗保险"]


@pytest.fixture
def vocab_file(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n")
  return str(path)


@pytest.fixture
def model(tiny_config):
  keras_model = modeling.BertModel(tiny_config)
  rng = np.random.default_rng(0)
  for v in keras_model.weights:  # nonzero biases and LayerNorm betas
    v.assign(v.numpy() + rng.normal(0, 0.2, v.shape).astype(np.float32))
  return keras_model


def _encoder(model, vocab_file, **kwargs):
  return embeddings.SentenceEncoder(model, tokenization.FullTokenizer(vocab_file), max_seq_length=16, **kwargs)


def _unpadded_layers(model, feature):
  """All encoder layers for one feature, run alone (no padding at all): list of [T, D]."""
  batch = {"input_ids": np.array([feature.input_ids], np.int32),
           "input_mask": np.array([feature.input_mask], np.int32),
           "segment_ids": np.array([feature.segment_ids], np.int32)}
  return [x.numpy()[0] for x in model(batch)["encoder_outputs"]]


@pytest.mark.parametrize("strategy", embeddings.POOLING_STRATEGIES)
def test_pooling_ignores_padding_and_matches_numpy(model, vocab_file, strategy):
  encoder = _encoder(model, vocab_file, pooling_strategy=strategy, pooling_layer=[-1, 0], batch_size=3)
  vectors = encoder.encode(TEXTS)
  for text, vector in zip(TEXTS, vectors):
    [feature] = encoder.features([text])
    layers = _unpadded_layers(model, feature)
    hidden = np.concatenate([layers[-1], layers[0]], axis=-1)  # (T, 2D)
    expected = {"REDUCE_MEAN": hidden.mean(0), "REDUCE_MAX": hidden.max(0),
                "REDUCE_MEAN_MAX": np.concatenate([hidden.mean(0), hidden.max(0)]),
                "CLS_TOKEN": hidden[0], "SEP_TOKEN": hidden[-1], "NONE": hidden}[strategy]
    if strategy == "NONE":
      assert np.all(vector[len(hidden):] == 0.0)
      vector = vector[:len(hidden)]
    np.testing.assert_allclose(vector, expected, atol=2e-5)
  assert vectors.shape[-1] == encoder.dimension


def test_bucketing_keeps_input_order_and_batch_size_does_not_matter(model, vocab_file):
  encoder = _encoder(model, vocab_file)
  one_by_one = np.concatenate([encoder.encode([t]) for t in TEXTS])
  np.testing.assert_allclose(encoder.encode(TEXTS, batch_size=2), one_by_one, atol=2e-5)
  np.testing.assert_allclose(encoder.encode(TEXTS[::-1], batch_size=4)[::-1], one_by_one, atol=2e-5)


def test_default_pools_second_to_last_layer(model, vocab_file):
  default = _encoder(model, vocab_file).encode(TEXTS)
  np.testing.assert_allclose(default, _encoder(model, vocab_file, pooling_layer=-2).encode(TEXTS))
  assert not np.allclose(default, _encoder(model, vocab_file, pooling_layer=-1).encode(TEXTS))


def test_normalize_gives_unit_vectors(model, vocab_file):
  vectors = _encoder(model, vocab_file, normalize=True).encode(TEXTS)
  np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bad_options_and_inputs_raise(model, vocab_file):
  with pytest.raises(ValueError, match="pooling_strategy"):
    _encoder(model, vocab_file, pooling_strategy="MEAN")
  with pytest.raises(ValueError, match="out of range"):
    _encoder(model, vocab_file, pooling_layer=5)
  encoder = _encoder(model, vocab_file)
  with pytest.raises(TypeError):
    encoder.encode("one string")
  with pytest.raises(TypeError, match=r"texts\[1\]"):
    encoder.encode(["ok", 3])
  assert encoder.encode([]).shape == (0, 16)


def test_from_pretrained_reads_google_checkpoint(model, vocab_file, tmp_path):
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "uncased_tiny" / "bert_model.ckpt"))
  os.replace(vocab_file, tmp_path / "uncased_tiny" / "vocab.txt")
  loaded = embeddings.SentenceEncoder.from_pretrained(prefix, max_seq_length=16)
  reference = _encoder(model, str(tmp_path / "uncased_tiny" / "vocab.txt")).encode(TEXTS)
  np.testing.assert_allclose(loaded.encode(TEXTS), reference, atol=1e-6)


def test_saved_model_takes_raw_strings(model, vocab_file, tmp_path):
  encoder = _encoder(model, vocab_file, pooling_strategy="REDUCE_MEAN_MAX", normalize=True)
  export_dir = embeddings.export_saved_model(encoder, str(tmp_path / "sm"), vocab_file)
  loaded = tf.saved_model.load(export_dir)
  out = loaded.signatures["serving_default"](text=tf.constant(TEXTS))["embeddings"].numpy()
  np.testing.assert_allclose(out, encoder.encode(TEXTS), atol=2e-5)
  # from_pretrained on the SavedModel keeps its options and can re-pool.
  reloaded = embeddings.SentenceEncoder.from_pretrained(export_dir)
  assert (reloaded.pooling_strategy, reloaded.pooling_layer, reloaded.normalize) == ("REDUCE_MEAN_MAX", [-2], True)
  np.testing.assert_allclose(reloaded.encode(TEXTS), encoder.encode(TEXTS), atol=2e-5)
  cls = embeddings.SentenceEncoder.from_pretrained(export_dir, pooling_strategy="CLS_TOKEN", normalize=False)
  np.testing.assert_allclose(cls.encode(TEXTS), _encoder(model, vocab_file, pooling_strategy="CLS_TOKEN").encode(TEXTS),
                             atol=2e-5)


def test_encode_file_keeps_one_row_per_line(model, vocab_file, tmp_path):
  (tmp_path / "in.txt").write_text("the dog\n\ncat ||| dog\n")
  count, shape = embeddings.encode_file(_encoder(model, vocab_file), str(tmp_path / "in.txt"), str(tmp_path / "o.npy"))
  assert count == 3 and shape == (3, 16)
  np.testing.assert_allclose(np.load(tmp_path / "o.npy"), _encoder(model, vocab_file).encode(["the dog", "", "cat ||| dog"]),
                             atol=1e-6)


@pytest.mark.slow
def test_encode_script_writes_npy(model, vocab_file, tmp_path):
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "m" / "bert_model.ckpt"))
  os.replace(vocab_file, tmp_path / "m" / "vocab.txt")
  (tmp_path / "in.txt").write_text("\n".join(t for t in TEXTS if t) + "\n")
  out = tmp_path / "out.npy"
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "encode.py"), "--model=" + prefix,
       "--input_file=%s" % (tmp_path / "in.txt"), "--output_file=%s" % out, "--max_seq_length=16",
       "--pooling_layer=-1", "--normalize"], capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  vectors = np.load(out)
  assert vectors.shape == (len(TEXTS) - 1, 16)
  np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_from_pretrained_reads_export_encoder_saved_model(model, vocab_file, tmp_path):
  from bert_tf2.core import export
  export_dir = export.export_encoder(model, str(tmp_path / "enc"), vocab_file, True, 16)
  loaded = embeddings.SentenceEncoder.from_pretrained(export_dir, max_seq_length=16)
  assert loaded.pooling_layer == [-1]
  np.testing.assert_allclose(loaded.encode(TEXTS), _encoder(model, vocab_file, pooling_layer=-1).encode(TEXTS),
                             atol=2e-5)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_pooling_of_mixed_precision_layers_is_float32_and_finite(dtype):
  # Hand-worked: two tokens [1, 2] and [3, 6], the second row padded after one token.
  hidden = tf.constant([[[1.0, 2.0], [3.0, 6.0]], [[4.0, 0.5], [9.0, 9.0]]], dtype)
  mask = tf.constant([[1, 1], [1, 0]])
  for strategy, expected in (("REDUCE_MEAN", [[2.0, 4.0], [4.0, 0.5]]), ("REDUCE_MAX", [[3.0, 6.0], [4.0, 0.5]])):
    pooled = embeddings.pool_layers([hidden], mask, [0], strategy, normalize=False)
    assert pooled.dtype == tf.float32  # float16's -1e30 padding mask would be -inf, and inf * 0 = NaN
    np.testing.assert_array_equal(pooled.numpy(), expected)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("strategy", embeddings.POOLING_STRATEGIES)
def test_numpy_pooling_of_litert_layers_equals_tensorflow_pooling(strategy, normalize):
  """The int8 (LiteRT) path pools in numpy: the same vectors as `pool_layers`, within float32 rounding."""
  rng = np.random.default_rng(0)
  layers = rng.normal(size=(4, 3, 9, 8)).astype(np.float32)  # (B, L, T, D)
  mask = (np.arange(9) < np.array([[9], [2], [5], [1]])).astype(np.int32)  # (B, T): 9, 2, 5 and 1 real tokens
  for pooling_layer in ([-1], [-1, 0]):
    expected = embeddings.pool_layers(tf.unstack(layers, axis=1), mask, pooling_layer, strategy, normalize).numpy()
    got = embeddings.pool_layers_numpy(layers, mask, pooling_layer, strategy, normalize)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
