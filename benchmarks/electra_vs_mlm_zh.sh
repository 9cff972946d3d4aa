#!/usr/bin/env bash
# ELECTRA vs masked LM at EQUAL pretraining wall time, on the same corpus and the same TFRecords:
#   People's Daily (every 20th document held out: the NER test documents, as benchmarks/pretrain_zh.sh
#   and benchmarks/ner_zh.sh split it) + the train reviews (as benchmarks/sentiment_zh.sh), one vocab,
#   one set of create_pretraining_data records; a BERT-tiny-sized model (2 layers, hidden 128) pretrained
#   with --objective=mlm and, at the same time (both runs side by side, so they share the machine's load),
#   with --objective=electra (generator hidden $GEN_HIDDEN, rtd_weight $RTD); each schedule sized to
#   end just inside $MINUTES minutes (the clock stops a run that falls behind); then both fine-tuned on
#   review sentiment (dev accuracy) and People's Daily NER (test entity F1), beside the TF-IDF and CRF baselines. The ELECTRA sentiment model is exported
#   (raw-text SavedModel) to runs/sentiment_zh_electra/export/.
# Usage: bash benchmarks/electra_vs_mlm_zh.sh                     (log: $OUT/log.txt; finished stages are reused)
#        MINUTES=15 NER_TRAIN=3000 bash benchmarks/electra_vs_mlm_zh.sh
#        STOP_AFTER=data|pretrain bash benchmarks/electra_vs_mlm_zh.sh
# Knobs: MINUTES (pretraining wall time per objective, default 30), GEN_HIDDEN (generator hidden, 32 = D/4:
#   better than 64 here, benchmarks/README.md),
#   PRECISION (Keras policy for pretraining, mixed_bfloat16: 1.3-1.4x the steps of float32 here for
#   both objectives), CAL_SECONDS (calibration, 180), SCHEDULE_FRACTION (0.95: each LR schedule is that
#   fraction of the steps the clock allows, so it ends annealed), SENT_SEQ (sentiment max_seq_length, 128),
#   SEEDS (fine-tuning seeds, "12345"; e.g. "12345 2 3" for a mean), PARALLEL (fine-tuning jobs at once, 4),
#   RTD (lambda, 50), BATCH (32), LR (pretraining, 1e-3), EPOCHS / SENT_LR (sentiment: 3 / 1e-4, as
#   sentiment_zh.sh; at 1e-3 both models collapsed to the majority class here), NER_TRAIN / NER_EPOCHS /
#   NER_LR (8000 / 3 / 1e-3, as ner_zh.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

OUT=${OUT:-runs/electra}
MINUTES=${MINUTES:-30}
GEN_HIDDEN=${GEN_HIDDEN:-32}
RTD=${RTD:-50}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
EPOCHS=${EPOCHS:-3}
NER_TRAIN=${NER_TRAIN:-8000}
NER_EPOCHS=${NER_EPOCHS:-3}
SENT_LR=${SENT_LR:-1e-4}
NER_LR=${NER_LR:-1e-3}
SENT_OUT=${SENT_OUT:-runs/sentiment_zh_electra}
SEQ=128
CAL_SECONDS=${CAL_SECONDS:-180}
SCHEDULE_FRACTION=${SCHEDULE_FRACTION:-0.95}
PRECISION=${PRECISION:-mixed_bfloat16}
SENT_SEQ=${SENT_SEQ:-128}
SEEDS=${SEEDS:-12345}
FIRST_SEED=${SEEDS%% *}   # its runs carry no suffix, and its ELECTRA sentiment model is exported
PARALLEL=${PARALLEL:-4}
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

# The discriminator / MLM model: BERT-tiny (2 layers, hidden 128, 2 heads), pretrained without dropout
# (short training on a small corpus, as sentiment_zh.sh), fine-tuned with BERT's 0.1.
config() {  # config <dropout>
  echo "{\"vocab_size\": $(wc -l < "$OUT/vocab.txt"), \"hidden_size\": 128, \"num_hidden_layers\": 2,
 \"num_attention_heads\": 2, \"intermediate_size\": 512, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": $1,
 \"attention_probs_dropout_prob\": $1, \"max_position_embeddings\": 512, \"type_vocab_size\": 2,
 \"initializer_range\": 0.02}"
}
config 0.0 > "$D/bert_config_pretraining.json"
config 0.1 > "$OUT/bert_config.json"

pretrain() {  # pretrain <objective> <dir> <num_train_steps> [flags...]
  local objective=$1 dir=$2 steps=$3; shift 3
  ${TIMEOUT:+timeout --signal=INT --kill-after=120s $TIMEOUT} $PY scripts/run_pretraining.py --objective="$objective" --generator_hidden_size="$GEN_HIDDEN" --rtd_weight="$RTD" \
    --bert_config_file="$D/bert_config_pretraining.json" --input_file="$D/train-*.tfrecord" \
    --eval_input_file="$D/held.tfrecord" --output_dir="$dir" --max_seq_length=$SEQ \
    --max_predictions_per_seq=$PREDS --train_batch_size="$BATCH" --eval_batch_size=64 --learning_rate="$LR" \
    --num_train_steps="$steps" --num_warmup_steps=$((steps / 20 + 1)) --iterations_per_loop=10 \
    --log_steps=50 --max_eval_steps=100 --seed=12345 --mixed_precision="$PRECISION" "$@"
}
speed() {  # median examples/s of a log's training lines after the first (compilation) window
  grep -o "examples_per_second = [0-9.]*" "$1" | tail -n +2 | awk '{print $3}' | sort -g \
    | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'
}

if [ ! -f "$OUT/steps.txt" ]; then
  # Both objectives run for the same CAL_SECONDS side by side (a fixed step count would let the faster
  # one finish first and the other be timed alone, on both cores: the 40-minute run's ELECTRA schedule
  # came out 53% too long that way and was stopped at 65% of it, its learning rate not yet annealed).
  echo "== 3/6 calibration: ${CAL_SECONDS}s of each objective side by side, to set each LR schedule's length"
  mkdir -p "$OUT/calibrate"
  pids=""
  for obj in mlm electra; do
    rm -rf "$OUT/calibrate/$obj"
    TIMEOUT=${CAL_SECONDS}s pretrain $obj "$OUT/calibrate/$obj" 1000000 --do_train --save_checkpoints_steps=1000000 \
      --log_steps=20 > "$OUT/calibrate/$obj.log" 2>&1 &
    pids="$pids $!"
  done
  for p in $pids; do wait "$p" || true; done   # (a bare `wait` would also wait for the tee above)
  for obj in mlm electra; do
    s=$(speed "$OUT/calibrate/$obj.log")
    # SCHEDULE_FRACTION of the steps the clock allows: each run ends its schedule (learning rate
    # annealed to 0) a little before the clock, whatever the load does meanwhile; both wall times are printed.
    echo "$obj $s $($PY -c "print(max(100, int($s / $BATCH * $MINUTES * 60 * $SCHEDULE_FRACTION)))")" | tee -a "$OUT/steps.txt"
  done
fi
echo "calibrated (objective, examples/s side by side, schedule steps for $MINUTES min):"; cat "$OUT/steps.txt"

echo "== 4/6 pretraining both objectives side by side for $MINUTES minutes each (stopped by the clock)"
pids=""
for obj in mlm electra; do
  if [ ! -f "$OUT/$obj/clock_stopped" ]; then
    steps=$(awk -v o=$obj '$1 == o {print $3}' "$OUT/steps.txt")
    ( start=$(date +%s)
      TIMEOUT=${MINUTES}m pretrain $obj "$OUT/$obj" "$steps" --do_train --save_checkpoints_steps=50 \
        > "$OUT/$obj.log" 2>&1 || true
      echo "$(( $(date +%s) - start )) s, last checkpoint $(basename "$(ls -t "$OUT/$obj"/model.ckpt-*.index | head -1)" .index)" \
        > "$OUT/$obj/clock_stopped" ) &
    pids="$pids $!"
  fi
done
for p in $pids; do wait "$p"; done
for obj in mlm electra; do
  step=$(grep -o "model.ckpt-[0-9]*" "$OUT/$obj/checkpoint" | head -1 | cut -d- -f2)
  echo "$obj: $(cat "$OUT/$obj/clock_stopped"); schedule $(awk -v o=$obj '$1 == o {print $3}' "$OUT/steps.txt") steps"
  if [ ! -f "$OUT/$obj/eval_results.txt" ]; then  # export bert_model.ckpt at the step reached, held-out eval
    pretrain $obj "$OUT/$obj" "$step" --do_train --do_eval --save_checkpoints_steps=50 > "$OUT/$obj.export.log" 2>&1
  fi
  echo "  held-out: $(tr '\n' ' ' < "$OUT/$obj/eval_results.txt")"
done
if [ "${STOP_AFTER:-}" = pretrain ]; then exit 0; fi

echo "== 5/6 fine-tuning both (sentiment: dev accuracy; NER: test entity F1), the CRF baseline, side by side"
# Each fine-tuning runs once per seed in SEEDS (the first seed's directories carry no suffix; the table
# shows the mean and each seed's value): a point of sentiment accuracy is within one seed's spread here.
run_name() { [ "$2" = "$FIRST_SEED" ] && echo "$1" || echo "$1-seed$2"; }  # <objective> <seed>
finetune_sentiment() {  # <objective> <seed> [flags...]
  local name; name=$(run_name "$1" "$2"); local init="$OUT/$1/bert_model.ckpt" seed=$2; shift 2
  [ -f "$SENT_OUT/$name/eval_results.txt" ] && return
  $PY scripts/run_classifier.py --task_name=tsv --data_dir="$DATA" --label_column=label --text_a_column=text \
    --vocab_file="$OUT/vocab.txt" --bert_config_file="$OUT/bert_config.json" --init_checkpoint="$init" \
    --do_lower_case --output_dir="$SENT_OUT/$name" --do_train --do_eval --max_seq_length="$SENT_SEQ" \
    --train_batch_size=32 --eval_batch_size=64 --learning_rate="$SENT_LR" --num_train_epochs="$EPOCHS" \
    --save_checkpoints_steps=100000 --iterations_per_loop=10 --log_steps=100 --seed="$seed" "$@" \
    > "$SENT_OUT/$name.log" 2>&1
}
finetune_ner() {  # <objective> <seed>
  local name; name=$(run_name "$1" "$2"); local init="$OUT/$1/bert_model.ckpt" seed=$2
  [ -f "$OUT/ner/$name/test_results.txt" ] && return
  $PY scripts/run_ner.py --task_name=conll --data_dir="$OUT/ner_data/ner" --output_dir="$OUT/ner/$name" \
    --vocab_file="$OUT/vocab.txt" --bert_config_file="$OUT/bert_config.json" --init_checkpoint="$init" \
    --crf --do_train --do_eval --do_predict --max_seq_length=$SEQ --doc_stride=64 --max_train_examples="$NER_TRAIN" \
    --num_train_epochs="$NER_EPOCHS" --train_batch_size=32 --learning_rate="$NER_LR" --eval_batch_size=64 \
    --predict_batch_size=64 --save_checkpoints_steps=100000 --log_steps=100 --iterations_per_loop=10 \
    --seed="$seed" > "$OUT/ner/$name.log" 2>&1
}
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do sleep 5; done; }  # at most PARALLEL jobs
mkdir -p "$OUT/ner"   # before the jobs below start: the CRF baseline logs there
pids=""
[ -f "$OUT/ner/crf_baseline/test_results.txt" ] || $PY benchmarks/ner_crf_baseline.py \
  --data_dir="$OUT/ner_data/ner" --output_dir="$OUT/ner/crf_baseline" --max_train_examples="$NER_TRAIN" \
  --max_iterations=100 > "$OUT/ner/crf_baseline.log" 2>&1 & pids="$pids $!"
for seed in $SEEDS; do
  for obj in mlm electra; do
    export_flag=""
    [ $obj = electra ] && [ "$seed" = "$FIRST_SEED" ] && export_flag="--export_dir=$SENT_OUT/export"
    throttle; finetune_sentiment $obj "$seed" $export_flag & pids="$pids $!"
    throttle; finetune_ner $obj "$seed" & pids="$pids $!"
  done
done
for p in $pids; do wait "$p"; done

echo "== 6/6 dev through the exported ELECTRA SavedModel ($SENT_OUT/export), and the table"
[ -f "$SENT_OUT/export_dev.txt" ] || $PY - "$SENT_OUT/export" "$DATA/dev.tsv" > "$SENT_OUT/export_dev.txt" <<'PYEOF'
import sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
with open(sys.argv[2], encoding="utf-8") as f:
  rows = [line.rstrip("\n").split("\t", 1) for line in list(f)[1:]]
correct = 0
for i in range(0, len(rows), 256):
  batch = rows[i:i + 256]
  labels = serve(text_a=tf.constant([r[1] for r in batch]))["labels"].numpy()
  correct += sum(l.decode() == r[0] for l, r in zip(labels, batch))
print("%.4f" % (correct / len(rows)))
PYEOF
value() { grep -h "^$2 = " "$1" 2>/dev/null | head -1 | awk '{printf "%.4f", $3}'; }
over_seeds() {  # <objective> <dir> <file> <key>: "mean (seed values...)" over SEEDS
  local values="" seed
  for seed in $SEEDS; do values="$values $(value "$2/$(run_name "$1" "$seed")/$3" "$4")"; done
  echo "$values" | awk '{for (i = 1; i <= NF; i++) t += $i; m = NF ? t / NF : 0
    if (NF > 1) {printf "%.4f (", m; for (i = 1; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : ")")} else printf "%s", $1}'
}
{
  echo "ELECTRA vs MLM, BERT-tiny (L2 H128), $MINUTES min of pretraining each, side by side on this machine"
  echo "fine-tuning seeds: $SEEDS (mean, then each seed)"
  printf "%-34s %8s %8s %12s  %-s\n" model seconds steps held-out "sentiment dev | NER test F1"
  for obj in mlm electra; do
    step=$(grep -o "model.ckpt-[0-9]*" "$OUT/$obj/checkpoint" | head -1 | cut -d- -f2)
    held="mlm $(value "$OUT/$obj/eval_results.txt" masked_lm_accuracy)"
    [ $obj = electra ] && held="auc $(value "$OUT/$obj/eval_results.txt" rtd_auc)"
    printf "%-34s %8s %8s %12s  %-s\n" "BERT-tiny, $obj$([ $obj = electra ] && echo " (G$GEN_HIDDEN, lambda $RTD)")" \
      "$(cut -d' ' -f1 "$OUT/$obj/clock_stopped")" "$step" "$held" \
      "$(over_seeds $obj "$SENT_OUT" eval_results.txt eval_accuracy) | $(over_seeds $obj "$OUT/ner" test_results.txt test_f1)"
  done
  printf "%-34s %8s %8s %12s  %-s\n" "TF-IDF char 1-3 grams + LR" - - - "$(awk '{print $4}' "$OUT/tfidf.txt") | -"
  printf "%-34s %8s %8s %12s  %-s\n" "CRF, character n-grams" - - - "- | $(value "$OUT/ner/crf_baseline/test_results.txt" test_f1)"
  echo "ELECTRA sentiment SavedModel ($SENT_OUT/export) on dev: $(cat "$SENT_OUT/export_dev.txt")"
  echo "pretraining: $PRECISION, batch $BATCH, lr $LR; NER: CRF head (softmax heads stay at all-O this early: ner_zh.sh), $NER_TRAIN training sentences, $NER_EPOCHS epochs, lr $NER_LR; sentiment: $EPOCHS epochs, lr $SENT_LR, max_seq_length $SENT_SEQ"
} | tee "$OUT/summary.txt"
