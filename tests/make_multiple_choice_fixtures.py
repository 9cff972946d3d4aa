"""Writes tests/data/multiple_choice/: a tiny BertMultipleChoice exported by `save_hf_checkpoint`, for transformers.

Run once in the project's .venv, then tests/make_multiple_choice_reference.py in the torch venv:

    .venv/bin/python tests/make_multiple_choice_fixtures.py
    /work/venv-torch/bin/python tests/make_multiple_choice_reference.py

hf/             a BertMultipleChoice (random weights + N(0, 0.1), so no bias or LayerNorm stays 0 / 1)
                over the tiny vocab of tests/multiple_choice_data.py: BertForMultipleChoice layout.
questions.json  4-option questions (SWAG's and C3's) the reference script feeds to transformers.
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

from bert_tf2 import checkpoints  # noqa: E402
from bert_tf2.modeling import BertConfig  # noqa: E402
from bert_tf2.tasks.multiple_choice import data  # noqa: E402
from bert_tf2.tasks.multiple_choice.model import BertMultipleChoice  # noqa: E402
from tests import multiple_choice_data as mc  # noqa: E402

OUT = os.path.join(ROOT, "tests", "data", "multiple_choice")
MAX_SEQ_LENGTH = 24  # some pairs are truncated: transformers' longest_first must cut as truncate_seq_pair


def main():
  keras.utils.set_random_seed(24)
  shutil.rmtree(os.path.join(OUT, "hf"), ignore_errors=True)
  os.makedirs(OUT, exist_ok=True)
  with tempfile.TemporaryDirectory() as work:
    files = mc.write_model_files(work)
    swag = mc.write_swag(os.path.join(work, "swag"))
    c3 = mc.write_c3(os.path.join(work, "c3"))
    model = BertMultipleChoice(BertConfig.from_json_file(files["config"]))
    rng = np.random.default_rng(24)
    for weight in model.weights:
      weight.assign(weight.numpy() + rng.normal(0.0, 0.1, weight.shape).astype(np.float32))
    directory = checkpoints.save_hf_checkpoint(model, os.path.join(OUT, "hf"), vocab_file=files["vocab"],
                                               do_lower_case=True)
    examples = data.read_split("swag", swag, "dev") + data.read_split("c3", c3, "dev")
  questions = [{"context": e.context, "question": e.question, "options": e.options,
                "pairs": [data.option_text(e.question, o) for o in e.options]}
               for e in examples if len(e.options) == 4]
  with open(os.path.join(OUT, "questions.json"), "w", encoding="utf-8") as f:
    json.dump({"max_seq_length": MAX_SEQ_LENGTH, "questions": questions}, f, ensure_ascii=False, indent=1)
  print("wrote", directory, len(questions), "questions")


if __name__ == "__main__":
  main()
