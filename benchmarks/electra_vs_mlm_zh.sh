#!/usr/bin/env bash
# ELECTRA vs masked LM at EQUAL pretraining wall time, on the same corpus and the same TFRecords:
#   People's Daily (every 20th document held out: the NER test documents, as benchmarks/pretrain_zh.sh
#   and benchmarks/ner_zh.sh split it) + the train reviews (as benchmarks/sentiment_zh.sh), one vocab,
#   one set of create_pretraining_data records; a BERT-tiny-sized model (2 layers, hidden 128) pretrained
#   with --objective=mlm and, at the same time (both runs side by side, so they share the machine's load),
#   with --objective=electra (generator hidden $GEN_HIDDEN, rtd_weight $RTD); each stopped after
#   $MINUTES minutes; then both fine-tuned on review sentiment (dev accuracy) and People's Daily NER
#   (test entity F1), beside the TF-IDF and CRF baselines. The ELECTRA sentiment model is exported
#   (raw-text SavedModel) to runs/sentiment_zh_electra/export/.
# Usage: bash benchmarks/electra_vs_mlm_zh.sh                     (log: $OUT/log.txt; finished stages are reused)
#        MINUTES=15 NER_TRAIN=3000 bash benchmarks/electra_vs_mlm_zh.sh
#        STOP_AFTER=data|pretrain bash benchmarks/electra_vs_mlm_zh.sh
# Knobs: MINUTES (pretraining wall time per objective, default 30), GEN_HIDDEN (generator hidden, 64),
#   RTD (lambda, 50), BATCH (32), LR (pretraining, 1e-3), EST_STEPS (the LR schedule's length; a run is
#   stopped by the clock, not by it), EPOCHS (sentiment, 3), NER_TRAIN / NER_EPOCHS (8000 / 3), FT_LR (1e-3).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

OUT=${OUT:-runs/electra}
MINUTES=${MINUTES:-30}
GEN_HIDDEN=${GEN_HIDDEN:-64}
RTD=${RTD:-50}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
EST_STEPS=${EST_STEPS:-$((MINUTES * 60))}
EPOCHS=${EPOCHS:-3}
NER_TRAIN=${NER_TRAIN:-8000}
NER_EPOCHS=${NER_EPOCHS:-3}
FT_LR=${FT_LR:-1e-3}
SENT_OUT=${SENT_OUT:-runs/sentiment_zh_electra}
SEQ=128
PREDS=20
DATA=${DATA:-/work/shared/data/sentiment_zh}
CORPUS=${CORPUS:-/work/shared/data/pretrain_zh/peoples_daily_199801.txt}
D="$OUT/data"
mkdir -p "$D" "$SENT_OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

echo "== 1/6 TF-IDF baseline"
[ -f "$OUT/tfidf.txt" ] || $PY benchmarks/tfidf_baseline.py --data_dir="$DATA" > "$OUT/tfidf.txt"
cat "$OUT/tfidf.txt"

if [ ! -f "$D/held.tfrecord" ]; then
  echo "== 2/6 corpus (People's Daily minus every 20th document + train reviews), vocab, TFRecords"
  awk -v train="$D/corpus.txt" -v heldout="$D/pd_heldout.txt" \
    'BEGIN { RS = ""; ORS = "\n\n" } { if (NR % 20 == 0) print > heldout; else print > train }' "$CORPUS"
  $PY - "$DATA/train.tsv" "$D" <<'PYEOF'
import os, sys
from data_prep import corpora
train_tsv, out = sys.argv[1:]
with open(os.path.join(out, "corpus.txt"), "a", encoding="utf-8") as corpus, \
     open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8") as heldout:
  with open(train_tsv, encoding="utf-8") as f:
    for i, line in enumerate(list(f)[1:]):
      text = line.rstrip("\n").split("\t", 1)[1].strip()
      if text:
        sentences = ("".join(s) for s in corpora.split_sentences(list(text)))
        (heldout if i % 20 == 0 else corpus).write("\n".join(sentences) + "\n\n")
PYEOF
  $PY -m data_prep.build_vocab --input_file="$D/corpus.txt" --output_file="$OUT/vocab.txt" \
    --vocab_size=8000 --do_lower_case
  $PY -m data_prep.create_pretraining_data --input_file="$D/corpus.txt" \
    --output_file="$D/train-0.tfrecord,$D/train-1.tfrecord" --vocab_file="$OUT/vocab.txt" \
    --do_lower_case --max_seq_length=$SEQ --max_predictions_per_seq=$PREDS --masked_lm_prob=0.15 \
    --random_seed=12345 --dupe_factor=1
  $PY -m data_prep.create_pretraining_data --input_file="$D/heldout.txt" --output_file="$D/held.tfrecord" \
    --vocab_file="$OUT/vocab.txt" --do_lower_case --max_seq_length=$SEQ --max_predictions_per_seq=$PREDS \
    --masked_lm_prob=0.15 --random_seed=54321 --dupe_factor=1
fi
if [ ! -f "$OUT/ner_data/ner/test.txt" ]; then
  echo "== People's Daily -> CoNLL NER files (benchmarks/ner_zh.sh's step)"
  $PY -c "from data_prep import corpora; print(corpora.write_peoples_daily_tagging('$OUT/ner_data'))"
fi
if [ "${STOP_AFTER:-}" = data ]; then exit 0; fi
