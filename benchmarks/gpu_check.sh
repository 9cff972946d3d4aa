#!/usr/bin/env bash
# What your GPU does with bert_tf2: pretraining (BERT-base seq 128/512, BERT-large seq 128), fine-tuning and
# embedding throughput for float32/TF32, mixed_float16 and mixed_bfloat16, XLA on and off, with the global
# batch each fits, fp32 vs mixed-precision loss curves, and NVIDIA's published A100-80GB figures beside them.
#
#   bash benchmarks/gpu_check.sh                         # about 8 minutes on one GPU (estimated: not run here)
#   bash benchmarks/gpu_check.sh --output_json=gpu.json  # every number and the curves as JSON too
#   bash benchmarks/gpu_check.sh --profile=cpu           # float32 vs mixed_bfloat16 on a CPU (mini and base)
#   bash benchmarks/gpu_check.sh --smoke                 # tiny shapes on CPU in seconds (the suite runs this)
#
# Flags: benchmarks/gpu_check.py --help. Exit status 1 when a mixed-precision loss curve leaves float32's.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
PYTHONPATH=. exec "$PYTHON" benchmarks/gpu_check.py "$@"
