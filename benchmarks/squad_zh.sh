#!/usr/bin/env bash
# People's Daily NER as reading comprehension (Li et al., ACL 2020, "A Unified MRC Framework for Named
# Entity Recognition"), SQuAD 2.0 style: a paragraph is the context, one fixed question per entity type
# ("文中提到的人名是什么？", 地名, 组织机构名), the answer is the paragraph's entity of that type when it has
# exactly one mention, "no answer" when it has none (benchmarks/squad_zh.py build; the documents of the
# NER split: number % 20 == 0 test, == 10 dev, the rest train).
#   data -> run_squad from the People's Daily checkpoint and from random init (same model, same recipe),
#   scored on dev -> test with the null-score threshold that was best on dev -> EM/F1 (HasAns / NoAns,
#   CMRC 2018 character-level F1) -> the pretrained model with the original's doc tokens (a Chinese
#   paragraph = one token) instead of --split_cjk_chars, same weights -> the exported SavedModel
#   answering the test questions from a fresh process.
# Usage: bash benchmarks/squad_zh.sh              (log: runs/squad_zh/log.txt; finished runs are reused)
#        TRAIN_QUESTIONS=2000 OUT=runs/squad_zh_smoke bash benchmarks/squad_zh.sh      (a quick smoke run)
# Needs runs/pretrain_zh/{bert_model.ckpt*,bert_config.json,vocab.txt} (bash benchmarks/pretrain_zh.sh with
# LAYERS=2 HIDDEN=128 HEADS=2: BERT-tiny); without them only the random-init row is run.
# Runtime: ~20 min on 2 cores shared with other jobs (load ~15), hence a seeded subset of the training
# questions (TRAIN_QUESTIONS of ~43,500, a third unanswerable) and two epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/venv.sh
PY=".venv/bin/python"
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3   # each run's log: $OUT/<run>.log

OUT=${OUT:-runs/squad_zh}
PRETRAINED=${PRETRAINED:-runs/pretrain_zh}
TRAIN_QUESTIONS=${TRAIN_QUESTIONS:-5000}   # a third of them unanswerable (test: 79%)
EPOCHS=${EPOCHS:-2}
LR=${LR:-5e-4}                # BERT-tiny wants far more than BERT-base's 3e-5; 1e-3 for 1 epoch learnt only "no answer"
BATCH=${BATCH:-32}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
SIZES="--max_seq_length=128 --doc_stride=64 --max_query_length=16 --max_answer_length=30"
HAVE_PRETRAINED=0
[ -f "$PRETRAINED/bert_model.ckpt.index" ] && HAVE_PRETRAINED=1
VOCAB="$PRETRAINED/vocab.txt"
CONFIG="$PRETRAINED/bert_config.json"
if [ $HAVE_PRETRAINED = 0 ]; then  # random init only: the configs/ BERT-tiny shape and a vocab from the corpus
  echo "!! no $PRETRAINED/bert_model.ckpt: the pretrained row is skipped"
  CONFIG=configs/bert_tiny_L-2_H-128_A-2.json
  VOCAB="$OUT/vocab.txt"
  [ -f "$VOCAB" ] || { $PY -c "from data_prep import corpora; corpora.write_peoples_daily('$OUT/corpus.txt')"
    $PY -m data_prep.build_vocab --input_file="$OUT/corpus.txt" --output_file="$VOCAB" --vocab_size=8000; }
fi

echo "== 1/5 data: People's Daily paragraphs x 3 questions ($OUT/data)"
[ -f "$OUT/data/test.json" ] || $PY benchmarks/squad_zh.py build --output_dir="$OUT/data" \
  --max_train_questions="$TRAIN_QUESTIONS" --no_answer_fraction=0.3333
$PY benchmarks/squad_zh.py labels --train_file="$OUT/data/train.json" --vocab_file="$VOCAB"

run_squad() {  # name, predict split, extra flags...
  local name=$1 split=$2; shift 2
  if [ -f "$OUT/$name/eval_results.txt" ]; then echo "-- $name: done before"; return; fi
  echo "-- $name ($split)"
  $PY scripts/run_squad.py --vocab_file="$VOCAB" --bert_config_file="$CONFIG" --output_dir="$OUT/$name" \
    --predict_file="$OUT/data/$split.json" --do_predict --version_2_with_negative $SIZES \
    --predict_batch_size=64 --save_checkpoints_steps=100000 --log_steps=50 --iterations_per_loop=10 "$@" \
    2> "$OUT/$name.log" | grep "^run_squad: \(exact\|f1\|HasAns_f1\|NoAns_exact\|best_f1_thresh\) " \
    || { tail -3 "$OUT/$name.log"; exit 1; }
}
threshold() {  # the null-score threshold with the best F1 on dev, as Google's README picks it
  sed -n 's/^best_f1_thresh = //p' "$OUT/$1/eval_results.txt"
}

echo "== 2/5 fine-tuning from the People's Daily checkpoint and from random init ($EPOCHS epochs, lr $LR); dev"
TRAIN="--do_train --train_file=$OUT/data/train.json --train_batch_size=$BATCH --learning_rate=$LR \
  --num_train_epochs=$EPOCHS --split_cjk_chars"
[ $HAVE_PRETRAINED = 1 ] && run_squad pretrained dev $TRAIN --init_checkpoint="$PRETRAINED/bert_model.ckpt"
run_squad random dev $TRAIN

echo "== 3/5 test, with each model's null-score threshold from dev"
[ $HAVE_PRETRAINED = 1 ] && run_squad pretrained_test test --init_checkpoint="$OUT/pretrained" --split_cjk_chars \
  --null_score_diff_threshold="$(threshold pretrained)" --export_dir="$OUT/export"
run_squad random_test test --init_checkpoint="$OUT/random" --split_cjk_chars \
  --null_score_diff_threshold="$(threshold random)"
# The same fine-tuned weights, test read with the original's doc tokens (a paragraph = one doc token).
[ $HAVE_PRETRAINED = 1 ] && run_squad pretrained_test_original_doc_tokens test --init_checkpoint="$OUT/pretrained" \
  --null_score_diff_threshold="$(threshold pretrained)"

if [ $HAVE_PRETRAINED = 1 ]; then
  echo "== 4/5 the exported SavedModel ($OUT/export) answers the test questions from a fresh process"
  [ -f "$OUT/export_eval.txt" ] || $PY - "$OUT/export" "$OUT/data/test.json" > "$OUT/export_eval.txt" <<'PYEOF'
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401  (only these: what a serving process has)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
pairs = [(qa["id"], qa["question"], p["context"]) for a in json.load(open(sys.argv[2], encoding="utf-8"))["data"]
         for p in a["paragraphs"] for qa in p["qas"]]
answers = {}
for i in range(0, len(pairs), 64):
  batch = pairs[i:i + 64]
  out = serve(question=tf.constant([q for _, q, _ in batch]), context=tf.constant([c for _, _, c in batch]))
  answers.update(zip([qid for qid, _, _ in batch], [a.decode("utf-8") for a in out["answer"].numpy()]))
json.dump(answers, sys.stdout, ensure_ascii=False)
PYEOF
  $PY - "$OUT" <<'PYEOF'
import json, sys
from bert_tf2 import squad, squad_metrics
out = sys.argv[1]
served = json.load(open(out + "/export_eval.txt", encoding="utf-8"))
written = json.load(open(out + "/pretrained_test/predictions.json", encoding="utf-8"))
metrics = squad_metrics.evaluate(squad.load_squad_json(out + "/data/test.json"), served, None, True, "zh")
same = sum(served[k] == written[k] for k in written)
print("SavedModel on test: exact %.1f, f1 %.1f (HasAns %.1f / %.1f, NoAns %.1f); answers equal to "
      "predictions.json for %d of %d questions" % (metrics["exact"], metrics["f1"], metrics["HasAns_exact"],
                                                   metrics["HasAns_f1"], metrics["NoAns_exact"], same, len(written)))
PYEOF
fi

echo "== 5/5 test (CMRC 2018 character-level F1; NoAns: \"\" right, anything else wrong; best_f1: at test's own best threshold)"
$PY benchmarks/squad_zh.py report \
  --run_dirs="$OUT/pretrained_test,$OUT/random_test,$OUT/pretrained_test_original_doc_tokens" \
  --data_file="$OUT/data/test.json" \
  | tee "$OUT/summary.txt"
