r"""Creates BERT pretraining TFRecords with Apache Beam: the local `--sharded` mode's records, any runner.

The same records, in the same order and files, as
`python -m data_prep.create_pretraining_data --sharded` with the same input, vocab, flags, seed and
`--docs_per_shard`. Beam's own options (`--runner`, `--direct_num_workers`, `--temp_location`,
`--project`, ...) are passed through to the pipeline. Needs `pip install -e ".[beam]"`.

Usage (here, two worker processes):
  python -m data_prep.create_pretraining_data_beam \
    --input_file=../shared/data/pretrain_zh/peoples_daily_199801.txt \
    --output_file=/tmp/zh-00.tfrecord,/tmp/zh-01.tfrecord --vocab_file=/tmp/zh_vocab.txt \
    --max_seq_length=128 --max_predictions_per_seq=20 --dupe_factor=5 --docs_per_shard=256 \
    --runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2

On Dataflow: gs:// paths and `--runner=DataflowRunner --project=P --region=R
--temp_location=gs://B/tmp --setup_file=./setup.py` (README, "Scaling past one machine").
"""

import logging as logging_lib
import re
import sys

from absl import app
from absl import flags
from absl import logging

from data_prep import create_pretraining_data_lib as lib
from data_prep import common_flags

common_flags.define_flags(input_help="Input raw text files or globs, comma-separated (any Beam filesystem).",
                 output_help="Output TF example files, comma-separated.")
flags.adopt_module_key_flags(common_flags)  # listed by --help
flags.DEFINE_integer("docs_per_shard", 256, "Documents per shard (the output depends on it).")
flags.DEFINE_integer("block_bytes", 32 << 20, "Input bytes a worker reads and tokenizes as one element.")
flags.DEFINE_integer("records_per_range", 1 << 16, "Records sorted together in one step (memory per worker).")
flags.DEFINE_integer("records_per_piece", 1 << 15, "Records per temporary piece of an output file.")

FLAGS = flags.FLAGS


def error_message(error):
  """The one-line message of our ValueError, also when a runner wrapped it in its own exception."""
  if isinstance(error, (ValueError, OSError)):
    return str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
  found = re.findall(r"ValueError: (.+)", str(error))
  message = found[-1] if found else "%s: %s" % (type(error).__name__, str(error).strip().splitlines()[0])
  return re.sub(r"\s*\[while running .*\]\s*$", "", message.strip())


def main(argv):
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from data_prep import beam_pipeline  # pylint: disable=g-import-not-at-top
  # A failing element is re-raised here and printed as one line; not also as a logged traceback.
  logging_lib.getLogger("apache_beam.runners.worker.bundle_processor").setLevel(logging_lib.CRITICAL)
  for name in ("input_file", "output_file", "vocab_file"):
    if not getattr(FLAGS, name):
      print("create_pretraining_data_beam: error: --%s is required" % name, file=sys.stderr)
      return 1
  config = lib.InstanceConfig.from_flags(FLAGS)
  try:
    plan = beam_pipeline.make_plan(
        [f for f in FLAGS.input_file.split(",") if f], [f for f in FLAGS.output_file.split(",") if f],
        FLAGS.vocab_file, FLAGS.do_lower_case, config, FLAGS.chinese_whole_word_mask, FLAGS.errors,
        FLAGS.docs_per_shard, block_bytes=FLAGS.block_bytes, records_per_range=FLAGS.records_per_range,
        records_per_piece=FLAGS.records_per_piece)
    logging.info("Reading %d input file(s); Beam options: %s", len(plan.paths), " ".join(argv[1:]))
    summary = beam_pipeline.run(plan, PipelineOptions(argv[1:]))
  except Exception as e:  # pylint: disable=broad-except
    print("create_pretraining_data_beam: error: %s" % error_message(e), file=sys.stderr)
    return 1
  print("create_pretraining_data_beam: " + summary.line())
  print("create_pretraining_data_beam: seconds inside the steps (summed over workers): " + ", ".join(
      "%s %.1f" % item for item in summary.step_seconds.items()))
  return 0


if __name__ == "__main__":
  app.run(main, flags_parser=lambda argv: FLAGS(argv, known_only=True))
