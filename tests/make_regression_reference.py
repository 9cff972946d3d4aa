"""Writes tests/data/regression/reference.npz: transformers' outputs on the regression directory we exported.

Run once in the torch venv (torch never enters the project's .venv), after
tests/make_regression_fixtures.py wrote tests/data/regression/hf_regressor/:

    /work/venv-torch/bin/python tests/make_regression_reference.py

The directory is loaded as a transformers user would (`AutoTokenizer`, and
`BertForSequenceClassification.from_pretrained` with no key missing or unexpected, checked here), on
pairs.json's pairs with their gold scores. The .npz holds the tokenizer's padded batch (input_ids,
attention_mask, token_type_ids), `logits` [N, 1], `loss` (transformers' MSE loss against `labels`),
`problem_type`, `num_labels` and `versions`.
"""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "regression")


def main():
  directory = os.path.join(DATA, "hf_regressor")
  with open(os.path.join(DATA, "pairs.json"), encoding="utf-8") as f:
    fixture = json.load(f)
  torch.set_grad_enabled(False)
  tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
  texts_a, texts_b = [p[0] for p in fixture["pairs"]], [p[1] for p in fixture["pairs"]]
  batch = tokenizer(texts_a, texts_b, padding=True, return_tensors="pt")
  model, info = transformers.BertForSequenceClassification.from_pretrained(directory, output_loading_info=True)
  problems = {k: v for k, v in info.items() if v}
  if problems:
    raise SystemExit("%s: loading problems %s" % (directory, problems))
  model.eval()
  labels = torch.tensor(fixture["scores"], dtype=torch.float32)
  result = model(**batch, labels=labels)
  out = {k: batch[k].numpy().astype(np.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
  out.update(logits=result.logits.numpy(), loss=np.float32(result.loss.item()), labels=labels.numpy(),
             problem_type=np.array(model.config.problem_type), num_labels=np.int32(model.config.num_labels),
             versions=np.array("torch %s, transformers %s, tokenizer %s" % (
                 torch.__version__, transformers.__version__, type(tokenizer).__name__)))
  path = os.path.join(DATA, "reference.npz")
  np.savez_compressed(path, **out)
  print("wrote %s: logits %s, loss %.6f, problem_type %s; %s" % (
      path, out["logits"].ravel().round(4).tolist(), out["loss"], out["problem_type"], out["versions"]))


if __name__ == "__main__":
  main()
