"""Writes tests/data/multiple_choice/reference.npz: transformers' BertForMultipleChoice on our export.

Run once, in the torch venv (torch never enters the project's .venv), after
tests/make_multiple_choice_fixtures.py has written tests/data/multiple_choice/hf/:

    /work/venv-torch/bin/python tests/make_multiple_choice_reference.py

The directory is loaded as a transformers user would (`AutoTokenizer.from_pretrained`,
`BertForMultipleChoice.from_pretrained`, no key missing or unexpected). Each question's options are
the pairs (context, question + " " + option), as run_swag, truncated (longest_first) to max_seq_length
and padded to the longest; the .npz holds input_ids, attention_mask, token_type_ids [N, 4, T],
logits [N, 4] and max_seq_length.
"""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "multiple_choice")


def main():
  with open(os.path.join(DATA, "questions.json"), encoding="utf-8") as f:
    fixture = json.load(f)
  questions, max_seq_length = fixture["questions"], fixture["max_seq_length"]
  directory = os.path.join(DATA, "hf")
  tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
  model, info = transformers.BertForMultipleChoice.from_pretrained(directory, output_loading_info=True)
  problems = {k: v for k, v in info.items() if v}
  if problems:
    raise SystemExit("%s: BertForMultipleChoice loading problems %s" % (directory, problems))
  model.eval()
  firsts = [q["context"] for q in questions for _ in q["options"]]
  seconds = [pair for q in questions for pair in q["pairs"]]
  batch = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_seq_length, padding=True,
                    return_tensors="pt")
  n, c = len(questions), len(questions[0]["options"])
  batch = {k: v.view(n, c, -1) for k, v in batch.items()}
  with torch.no_grad():
    logits = model(**batch).logits.numpy()
  out = {k: batch[k].numpy().astype(np.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
  out.update(logits=logits.astype(np.float32), max_seq_length=np.int32(max_seq_length))
  np.savez(os.path.join(DATA, "reference.npz"), **out)
  print("wrote", os.path.join(DATA, "reference.npz"), {k: v.shape for k, v in out.items()},
        type(tokenizer).__name__, transformers.__version__, torch.__version__)


if __name__ == "__main__":
  main()
