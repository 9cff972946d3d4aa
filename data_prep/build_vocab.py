r"""Learns a BERT WordPiece vocab.txt from a text corpus, for pretraining from scratch.

[PAD] [UNK] [CLS] [SEP] [MASK] first ([PAD] = id 0), optional [unusedN] slots, every CJK character
of the corpus as its own token, then WordPiece pieces learned by tf-text's learner from the other
words (see `wordpiece_vocab.py`).

Usage:
  python -m data_prep.build_vocab \
    --input_file=../shared/data/pretrain_zh/peoples_daily_199801.txt \
    --output_file=/tmp/zh_vocab.txt --vocab_size=8000 --do_lower_case
"""

import sys

from absl import flags

from bert_tf2 import tokenization
from bert_tf2.core import cli
from data_prep import documents
from data_prep import wordpiece_vocab

flags.DEFINE_string("input_file", None, "Input text file(s), comma-separated globs.")
flags.DEFINE_string("output_file", None, "Where to write vocab.txt (one token per line).")
flags.DEFINE_integer("vocab_size", 30000, "Target size; exceeded only if the corpus has more CJK characters.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents before counting (uncased model).")
flags.DEFINE_integer("num_unused_tokens", 0, "Number of [unusedN] slots after the special tokens.")
flags.DEFINE_integer("max_unique_chars", 1000, "Alphabet size for non-CJK words; words with rarer characters are dropped.")
flags.DEFINE_enum("errors", "strict", ["strict", "replace", "ignore"], "Non-UTF-8 input: error, or as Python's codecs.")

FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    input_files = documents.expand_input_patterns(FLAGS.input_file)
    counts = wordpiece_vocab.count_words(documents.read_lines(input_files, FLAGS.errors), FLAGS.do_lower_case)
    if not counts:
      raise ValueError("%s: no words in the corpus" % FLAGS.input_file)
    vocab = wordpiece_vocab.build_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused_tokens, FLAGS.max_unique_chars)
    wordpiece_vocab.write_vocab(vocab, FLAGS.output_file)
  except (ValueError, OSError, ImportError) as e:
    print("build_vocab: error: %s" % e, file=sys.stderr)
    return 1
  num_cjk = sum(1 for t in vocab if len(t) == 1 and tokenization.is_chinese_char(ord(t)))
  if len(vocab) > FLAGS.vocab_size:
    print("build_vocab: warning: %d CJK characters exceed --vocab_size=%d; all kept" % (num_cjk, FLAGS.vocab_size),
          file=sys.stderr)
  print("build_vocab: wrote %d tokens (%d CJK characters) learned from %d distinct words to %s"
        % (len(vocab), num_cjk, len(counts), FLAGS.output_file))
  return 0


if __name__ == "__main__":
  flags.mark_flags_as_required(["input_file", "output_file"])
  cli.run(main, outputs=("output_file",))
