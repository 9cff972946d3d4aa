#!/usr/bin/env bash
# People's Daily headline -> first-sentence retrieval: BM25, raw pretrained model, + SimCSE,
# + in-batch negatives, + hardest negatives; Recall@1/5/10/50 table into $OUT/results.md.
# Usage: bash benchmarks/retrieval_zh.sh [MODEL_DIR] [OUT_DIR] [extra flags for retrieval_zh.py]
# MODEL_DIR defaults to runs/pretrain_zh (bert_model.ckpt, bert_config.json, vocab.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-runs/pretrain_zh}"
OUT="${2:-runs/retrieval_zh}"
shift $(( $# > 2 ? 2 : $# ))
PYTHONPATH=. .venv/bin/python benchmarks/retrieval_zh.py --model="$MODEL" --output_dir="$OUT" "$@"
cat "$OUT/results.md"
