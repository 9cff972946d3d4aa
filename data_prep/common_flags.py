"""The flags of the two create_pretraining_data scripts (local and Beam), defined once.

The scripts layer, as scripts/common_flags.py: the library (`create_pretraining_data_lib`) never
reads flags; `lib.InstanceConfig.from_flags(FLAGS)` turns the parsed values into its arguments.
"""

from absl import flags

from data_prep import create_pretraining_data_lib as lib
from data_prep import documents


def define_flags(input_help="Input raw text file (or comma-separated list of files / globs).",
                 output_help="Output TF example file (or comma-separated list of files)."):
  """Defines the original's flags (same names, defaults and help) and the reading and Chinese
  masking flags, on `absl.flags.FLAGS`.

  Each script (`create_pretraining_data`, `create_pretraining_data_beam`) calls it once, then
  adopts the flags (`flags.adopt_module_key_flags(common_flags)`) so that its `--help` lists them.

  Args:
    input_help, output_help: str, the help of --input_file and --output_file (the Beam script
      reads and writes any Beam filesystem).
  """
  default = lib.InstanceConfig()
  flags.DEFINE_string("input_file", None, input_help)
  flags.DEFINE_string("output_file", None, output_help)
  flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
  flags.DEFINE_bool("do_lower_case", True, "Lower case the input text (True for uncased models).")
  flags.DEFINE_bool("do_whole_word_mask", default.do_whole_word_mask,
                    "Mask all WordPiece pieces of a word together (`##`).")
  flags.DEFINE_integer("max_seq_length", default.max_seq_length, "Maximum sequence length.")
  flags.DEFINE_integer("max_predictions_per_seq", default.max_predictions_per_seq,
                       "Maximum number of masked LM predictions per sequence.")
  flags.DEFINE_integer("random_seed", default.random_seed, "Random seed for data generation.")
  flags.DEFINE_integer("dupe_factor", default.dupe_factor,
                       "Number of times to duplicate the input data (with different masks).")
  flags.DEFINE_float("masked_lm_prob", default.masked_lm_prob, "Masked LM probability.")
  flags.DEFINE_float("short_seq_prob", default.short_seq_prob,
                     "Probability of creating sequences shorter than the maximum length.")
  # Beyond the original.
  flags.DEFINE_enum("chinese_whole_word_mask", "none", list(documents.CHINESE_WHOLE_WORD_MASK),
                    "Mask whole Chinese words: words from space-separated input (pre_segmented) or jieba.")
  flags.DEFINE_enum("errors", "strict", ["strict", "replace", "ignore"],
                    "Non-UTF-8 input: strict = error naming file and line; replace/ignore = as Python's codecs.")
