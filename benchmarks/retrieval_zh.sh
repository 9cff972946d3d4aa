#!/usr/bin/env bash
# People's Daily headline -> first-sentence retrieval, PaddleNLP's semantic-indexing recipe end to end:
# BM25; SimCSE -> in-batch negatives (+ hardest); the recall library embedded on Beam, indexed in Milvus
# (Lite) and faiss flat on the same vectors; Recall@1/5/10/20/50 table (percent) into $OUT/results.md.
# Usage: bash benchmarks/retrieval_zh.sh [MODEL_DIR] [OUT_DIR] [extra flags for retrieval_zh.py]
# MODEL_DIR defaults to runs/pretrain_zh (bert_model.ckpt, bert_config.json, vocab.txt).
# Smoke run (a few minutes): MAX_DOCUMENTS=300 EPOCHS=1 SIMCSE_SENTENCES=200 bash benchmarks/retrieval_zh.sh
# Other knobs: BEAM_WORKERS (DirectRunner processes, default 1), MILVUS_INDEX (FLAT | HNSW | IVF_FLAT), ROWS.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-runs/pretrain_zh}"
OUT="${2:-runs/retrieval_zh}"
shift $(( $# > 2 ? 2 : $# ))
knobs=()
[ -n "${MAX_DOCUMENTS:-}" ] && knobs+=("--max_documents=$MAX_DOCUMENTS")
[ -n "${EPOCHS:-}" ] && knobs+=("--epochs=$EPOCHS" "--simcse_epochs=$EPOCHS")
[ -n "${SIMCSE_SENTENCES:-}" ] && knobs+=("--simcse_sentences=$SIMCSE_SENTENCES")
[ -n "${ROWS:-}" ] && knobs+=("--rows=$ROWS")
PYTHONPATH=. .venv/bin/python benchmarks/retrieval_zh.py --model="$MODEL" --output_dir="$OUT" \
  --beam_workers="${BEAM_WORKERS:-1}" --milvus_index="${MILVUS_INDEX:-FLAT}" ${knobs[@]+"${knobs[@]}"} "$@"
cat "$OUT/results.md"
