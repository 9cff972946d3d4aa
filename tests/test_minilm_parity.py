"""all-MiniLM-L6-v2 through bert_tf2 vs sentence-transformers / Hugging Face (PyTorch) outputs.

The reference arrays are made once, outside the project's venv, by tests/make_minilm_reference.py.
"""
import os

import numpy as np
import pytest

from bert_tf2.embeddings import encoder as embeddings

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "minilm_reference.npz")


@pytest.fixture(scope="module")
def reference():
  if not os.path.exists(REFERENCE):
    pytest.skip("no %s; run tests/make_minilm_reference.py in a torch venv" % REFERENCE)
  return np.load(REFERENCE)


@pytest.fixture(scope="module")
def encoder(minilm_dir):
  # sentence-transformers' MiniLM recipe: mean pooling of the last layer, L2-normalized.
  return embeddings.SentenceEncoder.from_pretrained(minilm_dir, pooling_strategy="REDUCE_MEAN", pooling_layer=-1,
                                                    normalize=True)


def test_embeddings_match_sentence_transformers(encoder, reference):
  sentences = [str(s) for s in reference["sentences"]]
  ours = encoder.encode(sentences, batch_size=5)
  cosine = np.sum(ours * reference["embeddings"], axis=1) / (
      np.linalg.norm(ours, axis=1) * np.linalg.norm(reference["embeddings"], axis=1))
  print("MiniLM min cosine vs sentence-transformers: %.8f" % cosine.min())
  assert cosine.min() >= 0.99999


def test_token_ids_match_hugging_face_tokenizer(encoder, reference):
  sentences = [str(s) for s in reference["sentences"]]
  for row, feature in enumerate(encoder.features(sentences)):
    length = int(reference["attention_mask"][row].sum())
    assert feature.input_ids == reference["input_ids"][row, :length].tolist(), sentences[row]


def test_last_layer_matches_hugging_face(encoder, reference):
  batch = {"input_ids": reference["input_ids"], "input_mask": reference["attention_mask"],
           "segment_ids": reference["token_type_ids"]}
  out = encoder.model(batch)
  real = reference["attention_mask"].astype(bool)
  hidden_diff = np.abs(out["sequence_output"].numpy()[real] - reference["last_hidden_state"][real]).max()
  pooled_diff = np.abs(out["pooled_output"].numpy() - reference["pooler_output"]).max()
  print("MiniLM max abs diff: last_hidden_state %.2e, pooler_output %.2e" % (hidden_diff, pooled_diff))
  assert hidden_diff < 1e-5 and pooled_diff < 1e-5
