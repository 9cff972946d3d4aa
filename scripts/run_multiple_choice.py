r"""Fine-tunes BERT for multiple choice (SWAG, C3), with the flags of Google's run_classifier.py.

  PYTHONPATH=. .venv/bin/python scripts/run_multiple_choice.py --task_name=c3 \
    --do_train=true --do_eval=true --do_predict=true --data_dir=$CLUE_DIR/c3 \
    --vocab_file=$BERT_BASE_DIR/vocab.txt --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --max_seq_length=512 \
    --train_batch_size=16 --learning_rate=2e-5 --num_train_epochs=8.0 \
    --output_dir=/tmp/c3_output/ --export_dir=/tmp/c3_export/

Tasks: swag (train.csv / val.csv / test.csv of SWAG, 4 endings), c3 (train.json / dev.json /
test.json, or CLUE's d-train.json + m-train.json, d-dev.json + m-dev.json, test1.1.json / test1.0.json;
2 to --num_choices options, the missing ones masked). Predicting C3 also writes CLUE's c311_predict.json.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # noqa: E402  (scripts/common_flags.py)
from bert_tf2.core import cli  # noqa: E402  (after the path set-up above)

FLAGS = flags.FLAGS
common_flags.define_fine_tuning_flags(
    output_dir="Checkpoints, TensorBoard logs, eval_results.txt, test_results.tsv (, c311_predict.json).",
    do_predict="Predict the test split; writes test_results.tsv (and CLUE's c311_predict.json for c3).",
    export_dir="Also write a raw-text SavedModel here: context, question, options -> probabilities, label.")
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists the shared flags too
flags.DEFINE_string("data_dir", None, "Directory of the task's train/dev/test files.")
flags.DEFINE_enum("task_name", None, ["swag", "c3"], "The data set's layout: swag (CSV) or c3 (JSON).")
flags.DEFINE_integer("max_seq_length", 128, "Maximum word pieces per option; longer ones are truncated.")
flags.DEFINE_bool("do_eval", False, "Evaluate on the dev split; writes eval_results.txt.")
flags.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
flags.DEFINE_integer("num_choices", 4, "Options per question; questions with fewer are padded and masked.")
cli.define_errors_flag()


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("task_name", "data_dir", "vocab_file", "bert_config_file", "output_dir"))
  from bert_tf2.tasks import registry, runner  # pylint: disable=g-import-not-at-top
  task = registry.FAMILIES["multiple_choice"](FLAGS.task_name, FLAGS.data_dir, num_choices=FLAGS.num_choices,
                                              errors=FLAGS.errors)
  common_flags.print_results("run_multiple_choice", runner.run(task, **common_flags.run_args(FLAGS)))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir", "export_dir"))
