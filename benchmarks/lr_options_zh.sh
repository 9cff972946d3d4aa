#!/usr/bin/env bash
# What --crf_learning_rate and --layerwise_lr_decay buy, on reduced sizes, SEEDS seeds each:
#   People's Daily NER through benchmarks/ner_zh.sh (BERT-tiny from $PRETRAINED, CRF head, entity F1 on test),
#   review sentiment with sentiment_zh.sh's fine-tuning recipe (run_classifier --task_name=tsv) from the same
#   checkpoint on a seeded SENTIMENT_TRAIN-row subset of train.tsv (dev accuracy).
# Usage: bash benchmarks/lr_options_zh.sh                 (table: $OUT/summary.txt; finished runs are reused)
#        TRAIN=4000 EPOCHS=2 SENTIMENT_TRAIN=4000 SENTIMENT_EPOCHS=2 SEEDS="12345 1 2" bash benchmarks/lr_options_zh.sh (the defaults)
#        SENTIMENT_LR=2e-4 OUT=runs/lr_options_sent_lr2e-4 NER_VARIANTS="" bash benchmarks/lr_options_zh.sh
# Needs $PRETRAINED/{bert_model.ckpt*,bert_config.json,vocab.txt} (benchmarks/pretrain_zh.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=.

OUT=${OUT:-runs/lr_options}
PRETRAINED=${PRETRAINED:-runs/pretrain_zh}
TRAIN=${TRAIN:-4000}                   # NER training sentences (ner_zh.sh's TRAIN, a subset drawn with each seed)
EPOCHS=${EPOCHS:-2}
SEEDS=${SEEDS:-12345 1 2}
SENTIMENT_TRAIN=${SENTIMENT_TRAIN:-4000}
SENTIMENT_EPOCHS=${SENTIMENT_EPOCHS:-2}
SENTIMENT_LR=${SENTIMENT_LR:-1e-4}     # sentiment_zh.sh's LR
DATA=${DATA:-/work/shared/data/sentiment_zh}
# name|flags (empty: none of them). NER's LR is ner_zh.sh's 1e-3: the CRF default (100x) is 0.1.
NER_VARIANTS=${NER_VARIANTS-"crf100x_default| crf1x|--crf_learning_rate=1e-3 crf10x|--crf_learning_rate=1e-2 crf1000x|--crf_learning_rate=1 ld08|--layerwise_lr_decay=0.8"}
SENTIMENT_VARIANTS=${SENTIMENT_VARIANTS-"default| ld08|--layerwise_lr_decay=0.8 ld09|--layerwise_lr_decay=0.9"}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
[ -f "$PRETRAINED/bert_model.ckpt.index" ] || { echo "no $PRETRAINED/bert_model.ckpt: run benchmarks/pretrain_zh.sh"; exit 1; }
CONFIG="$PRETRAINED/bert_config.json"
[ -f "$CONFIG" ] || CONFIG="$PRETRAINED/data/bert_config.json"   # where pretrain_zh.sh writes it first

for seed in $SEEDS; do
  for variant in $NER_VARIANTS; do
    name=${variant%%|*}; flags=${variant#*|}
    echo "== NER $name seed $seed: $flags"
    OUT="$OUT/ner" PRETRAINED="$PRETRAINED" TRAIN="$TRAIN" EPOCHS="$EPOCHS" INITS=pretrained HEADS=crf \
      STOP_AFTER=bert SEED="$seed" FLAGS="$flags" SUFFIX="_${name}_s$seed" bash benchmarks/ner_zh.sh
  done
done

SD="$OUT/sentiment_data"
if [ ! -f "$SD/train.tsv" ]; then
  mkdir -p "$SD"
  cp "$DATA/dev.tsv" "$SD/dev.tsv"
  $PY - "$DATA/train.tsv" "$SD/train.tsv" "$SENTIMENT_TRAIN" <<'PYEOF'
import random, sys
source, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(source, encoding="utf-8").read().splitlines(True)
rows = lines[1:] if n <= 0 or n >= len(lines) - 1 else random.Random(12345).sample(lines[1:], n)
open(target, "w", encoding="utf-8").writelines(lines[:1] + rows)
PYEOF
fi
for seed in $SEEDS; do
  for variant in $SENTIMENT_VARIANTS; do
    name=${variant%%|*}; flags=${variant#*|}
    dir="$OUT/sentiment/${name}_s$seed"
    [ -f "$dir/eval_results.txt" ] && { echo "-- sentiment $name seed $seed: done before"; continue; }
    echo "== sentiment $name seed $seed: $flags"
    $PY scripts/run_classifier.py --task_name=tsv --data_dir="$SD" --label_column=label --text_a_column=text \
      --vocab_file="$PRETRAINED/vocab.txt" --bert_config_file="$CONFIG" \
      --init_checkpoint="$PRETRAINED/bert_model.ckpt" --do_lower_case --output_dir="$dir" --do_train --do_eval \
      --max_seq_length=128 --train_batch_size=32 --eval_batch_size=64 --learning_rate="$SENTIMENT_LR" \
      --num_train_epochs="$SENTIMENT_EPOCHS" --save_checkpoints_steps=100000 --log_steps=100 --seed="$seed" $flags \
      | grep "run_classifier: eval_accuracy"
  done
done

$PY benchmarks/lr_options_summary.py "$OUT" | tee "$OUT/summary.txt"
