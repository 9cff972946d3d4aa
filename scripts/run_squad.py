r"""Fine-tunes BERT on SQuAD 1.1 / 2.0 (or CMRC 2018 / DRCD-style Chinese) with run_squad.py's flags.

  PYTHONPATH=. .venv/bin/python scripts/run_squad.py \
    --vocab_file=$BERT_BASE_DIR/vocab.txt --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --do_train=True --train_file=$SQUAD_DIR/train-v2.0.json \
    --do_predict=True --predict_file=$SQUAD_DIR/dev-v2.0.json --train_batch_size=24 --learning_rate=3e-5 \
    --num_train_epochs=2.0 --max_seq_length=384 --doc_stride=128 --output_dir=/tmp/squad_out \
    --version_2_with_negative=True --export_dir=/tmp/squad_export

Writes predictions.json, nbest_predictions.json and (2.0) null_odds.json to --output_dir as the
original, and, when --predict_file holds answers, eval_results.txt with the official numbers
(SQuAD 1.1: exact_match, f1; 2.0: exact, f1, HasAns_*, NoAns_*, best_*; Chinese: CMRC 2018's
character-level EM/F1), also printed. --split_cjk_chars makes each CJK character a doc token.
--export_dir writes a SavedModel answering raw (question, context) strings (bert_tf2/tasks/squad/export.py).
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # noqa: E402  (scripts/common_flags.py)
from bert_tf2.core import cli  # noqa: E402  (after the path set-up above)

FLAGS = flags.FLAGS
common_flags.define_fine_tuning_flags(
    output_dir="Checkpoints, predictions.json, nbest_predictions.json, null_odds.json.",
    do_train="Fine-tune on --train_file.",
    do_predict="Predict --predict_file.",
    num_train_epochs="Epochs of fine-tuning (steps counted on examples, as the original).",
    export_dir="Also write a SavedModel answering raw (question, context) strings.")
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists the shared flags too
flags.DEFINE_string("train_file", None, "SQuAD JSON for training, e.g. train-v1.1.json.")
flags.DEFINE_string("predict_file", None, "SQuAD JSON to predict, e.g. dev-v1.1.json (scored if it has answers).")
flags.DEFINE_integer("max_seq_length", 384, "Word pieces per window: [CLS] question [SEP] context span [SEP].")
flags.DEFINE_integer("doc_stride", 128, "Pieces between the starts of a context's windows.")
flags.DEFINE_integer("max_query_length", 64, "Questions are cut to this many pieces.")
flags.DEFINE_integer("n_best_size", 20, "Candidates kept per question (nbest_predictions.json).")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in word pieces.")
flags.DEFINE_bool("verbose_logging", False, "Log where predictions cannot be mapped back to the context.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0: questions may have no answer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "2.0: answer \"\" when null - best span score > this.")
flags.DEFINE_bool("split_cjk_chars", False, "Each CJK character its own doc token (CMRC 2018 baselines).")
flags.DEFINE_enum("eval_language", "auto", ["auto", "en", "zh"], "Scores: SQuAD's (en) or CMRC 2018's (zh).")


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("vocab_file", "bert_config_file", "output_dir"))
  if not (FLAGS.do_train or FLAGS.do_predict):
    cli.fail("at least one of --do_train or --do_predict must be true")
  from bert_tf2.tasks import runner  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks.squad.task import SquadTask  # pylint: disable=g-import-not-at-top
  task = SquadTask(FLAGS.train_file, FLAGS.predict_file, FLAGS.doc_stride, FLAGS.max_query_length, FLAGS.n_best_size,
                   FLAGS.max_answer_length, FLAGS.version_2_with_negative, FLAGS.null_score_diff_threshold,
                   FLAGS.split_cjk_chars, FLAGS.verbose_logging, FLAGS.eval_language)
  common_flags.print_results("run_squad", runner.run(task, **common_flags.run_args(FLAGS)))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir", "export_dir"))
