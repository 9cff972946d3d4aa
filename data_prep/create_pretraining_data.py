r"""Creates BERT pretraining TFRecords (masked LM + next sentence) from text files.

Google's `create_pretraining_data.py` with the same flags and record format; by default the
records are identical to the original's for the same input, vocab, flags and seed, made with all
cores (`--num_workers`). `--sharded` (with `--docs_per_shard`) shards documents for corpora past
one machine: reproducible for a seed, the same for any `--num_workers` and on Apache Beam
(`data_prep.create_pretraining_data_beam`), not the original's records.

Usage:
  python -m data_prep.create_pretraining_data \
    --input_file=../shared/data/pretrain_zh/peoples_daily_199801.txt \
    --output_file=/tmp/zh_pretrain.tfrecord \
    --vocab_file=/tmp/zh_vocab.txt --do_lower_case \
    --max_seq_length=128 --max_predictions_per_seq=20 --masked_lm_prob=0.15 \
    --random_seed=12345 --dupe_factor=5

Chinese whole-word masking (the model sees characters, whole words are masked together):
  --input_file=../shared/data/pretrain_zh/peoples_daily_199801.segmented.txt \
  --chinese_whole_word_mask=pre_segmented
"""

import os
import sys

from absl import flags
from absl import logging

from bert_tf2.core import cli
from data_prep import create_pretraining_data_lib as lib
from data_prep import common_flags
from data_prep import documents

common_flags.define_flags()
flags.adopt_module_key_flags(common_flags)  # listed by --help
# Beyond the original, local only.
flags.DEFINE_integer("num_workers", os.cpu_count() or 1,
                     "Processes for reading, tokenizing, serializing (and shards); the records do not depend on it.")
flags.DEFINE_bool("sharded", False,
                  "Shard documents (for corpora past one machine; the same records as "
                  "create_pretraining_data_beam): reproducible per seed and --docs_per_shard, not the original's records.")
flags.DEFINE_integer("docs_per_shard", 256, "Documents per shard with --sharded.")
flags.DEFINE_float("progress_seconds", 10.0, "Seconds between progress lines.")

FLAGS = flags.FLAGS


def check_masking_budget(max_seq_length, masked_lm_prob, max_predictions_per_seq):
  """A warning line if max_predictions_per_seq caps masking below masked_lm_prob, else None."""
  wanted = max(1, int(round(max_seq_length * masked_lm_prob)))
  if max_predictions_per_seq >= wanted:
    return None
  return ("max_predictions_per_seq=%d is below masked_lm_prob * max_seq_length = %g * %d = %d: full-length "
          "sequences get %d masked tokens (%.1f%%), not %d; set --max_predictions_per_seq=%d"
          % (max_predictions_per_seq, masked_lm_prob, max_seq_length, wanted, max_predictions_per_seq,
             100.0 * max_predictions_per_seq / max_seq_length, wanted, wanted))


def main(argv):
  del argv
  try:
    input_files = documents.expand_input_patterns(FLAGS.input_file)
    output_files = [f for f in FLAGS.output_file.split(",") if f]
    if not output_files:
      raise ValueError("--output_file is empty")
    if not os.path.isfile(FLAGS.vocab_file):
      raise ValueError("--vocab_file %s does not exist" % FLAGS.vocab_file)
    warning = check_masking_budget(FLAGS.max_seq_length, FLAGS.masked_lm_prob, FLAGS.max_predictions_per_seq)
    if warning:
      logging.warning(warning)
    logging.info("Reading %d input file(s): %s", len(input_files), " ".join(input_files))
    config = lib.InstanceConfig.from_flags(FLAGS)
    summary = lib.create_pretraining_data(
        input_files, output_files, FLAGS.vocab_file, FLAGS.do_lower_case, config,
        num_workers=FLAGS.num_workers, sharded=FLAGS.sharded, chinese_whole_word_mask=FLAGS.chinese_whole_word_mask,
        errors=FLAGS.errors, docs_per_shard=FLAGS.docs_per_shard, progress_seconds=FLAGS.progress_seconds)
  except (ValueError, OSError) as e:
    print("create_pretraining_data: error: %s" % e, file=sys.stderr)
    return 1
  for path, count in zip(output_files, summary.instances_per_file):
    logging.info("Wrote %d instances to %s", count, path)
  print("create_pretraining_data: " + summary.line())
  return 0


if __name__ == "__main__":
  flags.mark_flags_as_required(["input_file", "output_file", "vocab_file"])
  cli.run(main, outputs=("output_file",))  # Ctrl-C: one line, no partial output
