r"""Fine-tunes BERT for token tagging (NER, POS) on CoNLL-style files, with run_classifier's flags.

  PYTHONPATH=. .venv/bin/python scripts/run_ner.py --task_name=conll --data_dir=runs/ner_zh/data/ner \
    --vocab_file=$BERT_DIR/vocab.txt --bert_config_file=$BERT_DIR/bert_config.json \
    --init_checkpoint=$BERT_DIR/bert_model.ckpt --do_train --do_eval --do_predict --crf \
    --max_seq_length=128 --doc_stride=64 --train_batch_size=32 --learning_rate=5e-5 \
    --num_train_epochs=3 --output_dir=/tmp/ner_output/ --export_dir=/tmp/ner_export/

Tasks (bert_tf2/tasks/tagging/datasets.py): conll (= ner, pos; BIO) and conll_bioes read
train.txt, dev.txt, test.txt, one "token tag" a line, a blank line between sentences (People's
Daily: `python -c "from data_prep import corpora; corpora.write_peoples_daily_tagging('runs/ner_zh/data')"`);
char, char_bio, char_bioes, char_bmes, msra, msra_bmes, resume, weibo read character-per-line files
as distributed (train.char.bmes, ...; the scheme read from the tags unless fixed); cluener reads
CLUENER2020's train/dev/test.json. Writes eval_results.txt (dev: entity P/R/F1 overall and per
type, token accuracy), test_predictions.txt (token, gold, predicted) and test_results.txt, or for
cluener the CLUE submission file cluener_predict.json; --export_dir a SavedModel that tags raw
text of any length, one tag per character. --crf_learning_rate and --layerwise_lr_decay: see --help.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # noqa: E402  (scripts/common_flags.py)
from bert_tf2.core import cli  # noqa: E402  (after the path set-up above)

FLAGS = flags.FLAGS
common_flags.define_fine_tuning_flags(
    output_dir="Checkpoints, TensorBoard logs, eval_results.txt, test_predictions.txt.",
    do_train="Fine-tune on train.txt.",
    do_predict="Tag test.txt; writes test_predictions.txt and test_results.txt.",
    seed="Seeds initialization, dropout, shuffling and subsampling.",
    export_dir="Also write a raw-text SavedModel here.")
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists the shared flags too
flags.DEFINE_string("data_dir", None, "Directory of the split files: train/dev/test.txt (CoNLL), train.char.bmes... "
                    "(character-per-line), train/dev/test.json (cluener).")
flags.DEFINE_string("task_name", None, "conll (= ner, pos: BIO tags), conll_bioes; character-per-line files: char "
                    "(scheme read from the tags), char_bio, char_bioes, char_bmes, msra, msra_bmes, resume, weibo; "
                    "cluener (CLUENER2020 JSON lines).")
flags.DEFINE_enum("tag_scheme", None, ["auto", "bio", "bioes", "bmes"], "Character-per-line tasks: the tag scheme "
                  "(default: the task's; auto = read from the tags).")
flags.DEFINE_integer("max_seq_length", 128, "Word pieces per window (batch sizes count windows); longer sentences "
                     "are windowed.")
flags.DEFINE_integer("doc_stride", 64, "Pieces between the starts of consecutive windows of a long sentence.")
flags.DEFINE_bool("crf", False, "Score tag sequences with a linear-chain CRF (Viterbi decoding).")
flags.DEFINE_float("crf_learning_rate", None, "With --crf: peak learning rate of the CRF's transition scores "
                   "(same warmup and decay); default 100 x --learning_rate. bert4keras' crf_lr_multiplier=1000 "
                   "at 2e-5 is 2e-2.")
flags.DEFINE_bool("do_eval", False, "Evaluate on dev.txt; writes eval_results.txt.")
flags.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
flags.DEFINE_integer("max_train_examples", None, "Train on a seeded random subset of this many sentences.")


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("task_name", "data_dir", "vocab_file", "bert_config_file", "output_dir"))
  from bert_tf2.tasks import runner  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks.tagging import datasets  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks.tagging.task import TaggingTask  # pylint: disable=g-import-not-at-top
  task = TaggingTask(datasets.get_processor(FLAGS.task_name, FLAGS.tag_scheme), FLAGS.data_dir, use_crf=FLAGS.crf,
                     doc_stride=FLAGS.doc_stride, max_train_examples=FLAGS.max_train_examples, seed=FLAGS.seed,
                     crf_learning_rate=FLAGS.crf_learning_rate)
  common_flags.print_results("run_ner", runner.run(task, **common_flags.run_args(FLAGS)))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir", "export_dir"))
