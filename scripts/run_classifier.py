r"""Fine-tunes BERT for classification, with the flags and outputs of Google's run_classifier.py.

  PYTHONPATH=. .venv/bin/python scripts/run_classifier.py --task_name=MRPC \
    --do_train=true --do_eval=true --data_dir=$GLUE_DIR/MRPC \
    --vocab_file=$BERT_BASE_DIR/vocab.txt --bert_config_file=$BERT_BASE_DIR/bert_config.json \
    --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt --max_seq_length=128 \
    --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 \
    --output_dir=/tmp/mrpc_output/ --export_dir=/tmp/mrpc_export/

Tasks: cola, mnli, mrpc, xnli; tsv / csv (any delimited file: --label_column, --text_a_column,
--text_b_column, --has_header); jsonl_multilabel; yours through --processor_module. Chinese, read as
distributed: CLUE's tnews, iflytek, afqmc, ocnli, cmnli, csl, wsc (--do_predict also writes CLUE's
submission file: tnews11_predict.json, ..., cluewsc11_predict.json); lcqmc, bq, chnsenticorp,
thucnews (--do_predict also writes <task>_predict.tsv).
--init_checkpoint takes a Google checkpoint prefix, a bert_tf2 checkpoint or a Hugging Face dir.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common_flags  # noqa: E402  (scripts/common_flags.py)
from bert_tf2.core import cli  # noqa: E402  (after the path set-up above)

FLAGS = flags.FLAGS
common_flags.define_fine_tuning_flags(
    output_dir="Checkpoints, TensorBoard logs, eval_results.txt, test_results.tsv (, a submission file).",
    do_predict="Predict the test split; writes test_results.tsv (and CLUE's <task>_predict.json, ...).",
    export_dir="Also write a raw-text SavedModel here (see export_saved_model.py).")
common_flags.define_distribution_flags()
flags.adopt_module_key_flags(common_flags)  # --help lists the shared flags too
flags.DEFINE_string("data_dir", None, "Directory of the task's train/dev/test files.")
flags.DEFINE_string("task_name", None, "The processor's name, e.g. mrpc, csv, jsonl_multilabel, tnews, lcqmc.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum word pieces per example; longer ones are truncated.")
flags.DEFINE_bool("do_eval", False, "Evaluate on the dev split; writes eval_results.txt.")
flags.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
flags.DEFINE_float("threshold", 0.5, "Multi-label: a label is predicted at probability >= threshold.")
flags.DEFINE_string("processor_module", None, "Module whose DataProcessor subclasses become task names.")
# The generic tsv/csv processors.
flags.DEFINE_string("delimiter", None, "tsv/csv: the column delimiter (default tab / comma).")
flags.DEFINE_bool("has_header", True, "tsv/csv: the first row names the columns.")
flags.DEFINE_string("label_column", "0", "tsv/csv: label column, an index or a header name.")
flags.DEFINE_string("text_a_column", "1", "tsv/csv: first text column, an index or a header name.")
flags.DEFINE_string("text_b_column", None, "tsv/csv: second text column for pair tasks.")
flags.DEFINE_list("labels", None, "tsv/csv/jsonl: the label set (default: those of the train file).")
cli.define_errors_flag()


def main(argv):
  del argv
  cli.require_flags(FLAGS, ("task_name", "data_dir", "vocab_file", "bert_config_file", "output_dir"))
  from bert_tf2.tasks.classification import processors  # pylint: disable=g-import-not-at-top
  from bert_tf2.tasks import registry, runner  # pylint: disable=g-import-not-at-top
  if FLAGS.processor_module:
    processors.load_processor_module(FLAGS.processor_module)
  options = dict(has_header=FLAGS.has_header, label_column=FLAGS.label_column, text_a_column=FLAGS.text_a_column,
                 text_b_column=FLAGS.text_b_column, labels=FLAGS.labels, errors=FLAGS.errors)
  if FLAGS.delimiter:
    options["delimiter"] = FLAGS.delimiter.replace("\\t", "\t")
  processor = processors.get_processor(FLAGS.task_name, **options)
  task = registry.FAMILIES[processor.family](processor, FLAGS.data_dir, threshold=FLAGS.threshold)
  common_flags.print_results("run_classifier", runner.run(task, **common_flags.run_args(FLAGS)))


if __name__ == "__main__":
  cli.run(main, outputs=("output_dir", "export_dir"))
