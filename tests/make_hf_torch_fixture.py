"""Writes tests/data/hf_torch_tiny/: a tiny random BertForPreTraining as PyTorch saves it, and its outputs.

Run once, in the reference venv of make_minilm_reference.py (torch never enters the project's .venv):

    /tmp/refvenv/bin/python tests/make_hf_torch_fixture.py

fp32/  config.json + pytorch_model.bin: `torch.save(model.state_dict())`, the file transformers
       wrote before safetensors (keys "bert.*" and "cls.*", tied decoder weight included).
bf16/  the same weights in bfloat16, sharded in two files with pytorch_model.bin.index.json, as
       `save_pretrained(max_shard_size=...)` lays them out.
reference.npz  inputs and transformers' outputs of the fp32 model in eval mode:
       input_ids, attention_mask, token_type_ids [2, 12], masked_lm_positions [2, 3];
       last_hidden_state [2, 12, 32], pooler_output [2, 32], prediction_logits at the masked
       positions [2, 3, 120], seq_relationship_logits [2, 2]; versions.
"""

import json
import os

import numpy as np
import torch
import transformers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "hf_torch_tiny")


def main():
  torch.manual_seed(0)
  config = transformers.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
                                   hidden_act="gelu")
  model = transformers.BertForPreTraining(config).eval()
  with torch.no_grad():  # random init leaves biases and LayerNorm at 0/1; make every weight count
    for p in model.parameters():
      p.add_(0.05 * torch.randn_like(p))
  os.makedirs(os.path.join(OUT, "fp32"), exist_ok=True)
  os.makedirs(os.path.join(OUT, "bf16"), exist_ok=True)
  config.to_json_file(os.path.join(OUT, "fp32", "config.json"))
  config.to_json_file(os.path.join(OUT, "bf16", "config.json"))
  state = model.state_dict()
  torch.save(state, os.path.join(OUT, "fp32", "pytorch_model.bin"))

  names = list(state)
  shards = {"pytorch_model-00001-of-00002.bin": names[:len(names) // 2],
            "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
  weight_map = {}
  for shard, keys in shards.items():
    torch.save({k: state[k].to(torch.bfloat16) for k in keys}, os.path.join(OUT, "bf16", shard))
    weight_map.update({k: shard for k in keys})
  with open(os.path.join(OUT, "bf16", "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)

  rng = np.random.default_rng(0)
  input_ids = rng.integers(5, 120, (2, 12)).astype(np.int64)
  attention_mask = np.ones((2, 12), np.int64)
  attention_mask[1, 8:] = 0
  token_type_ids = np.zeros((2, 12), np.int64)
  token_type_ids[:, 6:] = 1
  positions = np.array([[1, 4, 9], [2, 3, 7]], np.int64)
  with torch.no_grad():
    out = model(input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
                token_type_ids=torch.tensor(token_type_ids), output_hidden_states=True)
    base = model.bert(input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
                      token_type_ids=torch.tensor(token_type_ids))
  logits = out.prediction_logits.numpy()
  np.savez(os.path.join(OUT, "reference.npz"),
           input_ids=input_ids.astype(np.int32), attention_mask=attention_mask.astype(np.int32),
           token_type_ids=token_type_ids.astype(np.int32), masked_lm_positions=positions.astype(np.int32),
           last_hidden_state=base.last_hidden_state.numpy(), pooler_output=base.pooler_output.numpy(),
           prediction_logits=np.take_along_axis(logits, positions[..., None], axis=1),
           seq_relationship_logits=out.seq_relationship_logits.numpy(),
           versions="torch %s, transformers %s" % (torch.__version__, transformers.__version__))


if __name__ == "__main__":
  main()
