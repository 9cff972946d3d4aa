"""Writes tests/data/regression/hf_regressor/: a tiny regression model exported by `checkpoints.save_hf_checkpoint`.

Run once in the project's .venv, then tests/make_regression_reference.py in the torch venv:

    .venv/bin/python tests/make_regression_fixtures.py
    /work/venv-torch/bin/python tests/make_regression_reference.py

hf_regressor/   a `BertClassifier(config, 1)` (every weight perturbed), exact erf gelu, uncased English
                vocab: transformers' BertForSequenceClassification, num_labels=1, problem_type="regression".
pairs.json      the sentence pairs and gold scores the reference script feeds to transformers.
"""

import json
import os
import shutil
import sys
import tempfile

import keras
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bert_tf2 import tokenization  # noqa: E402
from bert_tf2.modeling import BertConfig  # noqa: E402
from bert_tf2.tasks.classification.model import BertClassifier  # noqa: E402
from bert_tf2.checkpoints import save_hf_checkpoint  # noqa: E402

OUT = os.path.join(ROOT, "tests", "data", "regression")
PAIRS = [["A man is playing a guitar.", "A man plays the guitar."],
         ["A woman is slicing an onion.", "A dog runs in the park."],
         ["The cat sat on the mat.", "A cat is sitting on a mat."],
         ["Unwanted running shoes!", "Nobody wants these shoes."],
         ["Two kids play soccer.", "Children are playing football outside in the sun."]]
SCORES = [4.8, 0.2, 4.25, 2.5, 3.6]


def main():
  keras.utils.set_random_seed(24)
  basic = tokenization.BasicTokenizer(True)
  tokens = list(tokenization.SPECIAL_TOKENS)
  for token in [t for pair in PAIRS for text in pair for t in basic.tokenize(text)] + ["un", "##want", "##ed"]:
    if token not in tokens and token not in ("unwanted", "football"):
      tokens.append(token)
  tokens += ["[unused%d]" % i for i in range(64 - len(tokens))]
  config = BertConfig(vocab_size=64, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=40, max_position_embeddings=48, type_vocab_size=2, hidden_act="gelu_exact")
  model = BertClassifier(config, 1)
  rng = np.random.default_rng(24)
  for weight in model.weights:  # biases and LayerNorm away from 0 / 1, so a swapped or lost one shows
    weight.assign(weight.numpy() + rng.normal(0.0, 0.1, weight.shape).astype(np.float32))
  directory = os.path.join(OUT, "hf_regressor")
  shutil.rmtree(directory, ignore_errors=True)
  with tempfile.TemporaryDirectory() as work:
    vocab = os.path.join(work, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
      f.writelines(t + "\n" for t in tokens)
    save_hf_checkpoint(model, directory, vocab_file=vocab, do_lower_case=True)
  with open(os.path.join(OUT, "pairs.json"), "w", encoding="utf-8") as f:
    json.dump({"pairs": PAIRS, "scores": SCORES}, f, indent=1)
  print("wrote", directory)


if __name__ == "__main__":
  main()
