"""TF Hub's tutorial code, with only the handles swapped, on our encoder and preprocessing SavedModels.

Run once, outside the suite (tensorflow_hub needs tf-keras, which the project's Keras 3 .venv does not
carry). The hub venv reuses .venv's packages through a .pth file:

    python3 -m venv /work/venv-hub
    echo "$PWD/.venv/lib/python3.11/site-packages" > /work/venv-hub/lib/python3.11/site-packages/main.pth
    /work/venv-hub/bin/pip install --no-deps "tf-keras~=2.21.0" tensorflow-hub
    .venv/bin/python tests/check_tfhub_keraslayer.py export runs/hf_export/tfhub
    TF_USE_LEGACY_KERAS=1 /work/venv-hub/bin/python tests/check_tfhub_keraslayer.py check runs/hf_export/tfhub

`export` writes encoder/ and preprocessing/ of the tiny Chinese fixture (tests/data/hf_export/zh_pretrainer)
and our pooled outputs; `check` builds the tutorial's Keras model from `hub.KerasLayer`s (text ->
preprocessor -> encoder, trainable=True), the pair recipe (`tokenize` + `bert_pack_inputs`), takes one
gradient step through the encoder, and prints the largest difference from our pooled outputs.
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "data", "hf_export", "zh_pretrainer")
TEXTS = ["我今天很开心", "unwanted,running"]
SEQ_LENGTH = 16


def export(out):
  sys.path.insert(0, ROOT)
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf2.core import export as export_lib
  from bert_tf2.interop import hub_preprocessing
  from bert_tf2.modeling import BertConfig, BertModel  # pylint: disable=g-import-not-at-top
  from bert_tf2.tokenization import FullTokenizer  # pylint: disable=g-import-not-at-top
  vocab = os.path.join(FIXTURE, "vocab.txt")
  encoder = BertModel(BertConfig.from_json_file(os.path.join(FIXTURE, "config.json")))
  checkpoints.load_checkpoint(encoder, FIXTURE)
  hub_preprocessing.export_preprocessing(os.path.join(out, "preprocessing"), vocab, True, SEQ_LENGTH)
  export_lib.export_encoder(encoder, os.path.join(out, "encoder"), vocab, True, SEQ_LENGTH)
  tokenizer = FullTokenizer(vocab)
  ids = np.zeros((len(TEXTS), SEQ_LENGTH), np.int32)
  for i, text in enumerate(TEXTS):
    row = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(text) + ["[SEP]"])
    ids[i, :len(row)] = row
  pooled = encoder({"input_ids": ids, "input_mask": (ids > 0).astype(np.int32), "segment_ids": 0 * ids})
  np.save(os.path.join(out, "ours_pooled.npy"), np.asarray(pooled["pooled_output"]))
  print("exported to", out)


def check(out):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  import tf_keras  # pylint: disable=g-import-not-at-top
  # As in TF Hub's "Classify text with BERT" tutorial.
  text_input = tf_keras.layers.Input(shape=(), dtype=tf.string)
  encoder_inputs = hub.KerasLayer(os.path.join(out, "preprocessing"))(text_input)
  encoder = hub.KerasLayer(os.path.join(out, "encoder"), trainable=True)
  outputs = encoder(encoder_inputs)
  model = tf_keras.Model(text_input, outputs["pooled_output"])
  pooled = model(tf.constant(TEXTS))
  # The pair recipe: tokenize, then bert_pack_inputs with a seq_length.
  preprocess = hub.load(os.path.join(out, "preprocessing"))
  tokenize = hub.KerasLayer(preprocess.tokenize)
  pack = hub.KerasLayer(preprocess.bert_pack_inputs, arguments=dict(seq_length=12))
  segments = [tf_keras.layers.Input(shape=(), dtype=tf.string) for _ in range(2)]
  pair = tf_keras.Model(segments, pack([tokenize(s) for s in segments]))([tf.constant(TEXTS[:1]), tf.constant(TEXTS[1:])])
  head = tf_keras.layers.Dense(2)
  with tf.GradientTape() as tape:
    logits = head(model(tf.constant(TEXTS), training=True))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits([0, 1], logits))
  gradients = tape.gradient(loss, encoder.trainable_weights)
  difference = np.abs(pooled.numpy() - np.load(os.path.join(out, "ours_pooled.npy"))).max()
  print("hub.KerasLayer: %d trainable encoder weights, gradients for %d; pooled_output max |diff| from ours %.3g; "
        "pair input_type_ids %s" % (len(encoder.trainable_weights), sum(g is not None for g in gradients), difference,
                                    pair["input_type_ids"].numpy().tolist()))


if __name__ == "__main__":
  {"export": export, "check": check}[sys.argv[1]](sys.argv[2])
