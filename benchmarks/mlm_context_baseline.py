r"""Count-model reference points for a character-level masked-LM accuracy.

  PYTHONPATH=. .venv/bin/python benchmarks/mlm_context_baseline.py \
    --train_file=runs/sentiment_zh/pretrain/data/corpus.txt \
    --heldout_file=runs/sentiment_zh/pretrain/data/heldout.txt

Masks 15% of the held-out characters and prints how often each count model (fit on the training
text) guesses them: the most frequent character (unigram), the most frequent successor of the left
neighbour, and the most frequent middle of the (left, right) pair (falling back to the left one).
A BERT whose masked-LM accuracy stays near "0.1 + 0.8 x unigram" (the 10% kept tokens copied, the
[MASK]ed 80% guessed by frequency) uses no context yet; see benchmarks/README.md, "The People's Daily run".
"""

import collections
import random

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("train_file", None, "Training text (BERT input format).")
flags.DEFINE_string("heldout_file", None, "Held-out text (BERT input format).")
flags.DEFINE_integer("seed", 0, "Seed of the 15% masking.")


def _lines(path):
  with open(path, encoding="utf-8") as f:
    return [line.strip() for line in f if line.strip()]


def main(argv):
  del argv
  unigram = collections.Counter()
  after = collections.defaultdict(collections.Counter)
  between = collections.defaultdict(collections.Counter)
  for line in _lines(FLAGS.train_file):
    s = "\n" + line + "\n"  # line ends stand in for the neighbours of the first and last character
    unigram.update(line)
    for i in range(1, len(s) - 1):
      after[s[i - 1]][s[i]] += 1
      between[(s[i - 1], s[i + 1])][s[i]] += 1
  best = lambda counter: counter.most_common(1)[0][0] if counter else None
  most_frequent = best(unigram)
  rng = random.Random(FLAGS.seed)
  n = hits_unigram = hits_left = hits_both = 0
  for line in _lines(FLAGS.heldout_file):
    s = "\n" + line + "\n"
    for i in range(1, len(s) - 1):
      if rng.random() >= 0.15:
        continue
      n += 1
      left = best(after.get(s[i - 1]))
      hits_unigram += most_frequent == s[i]
      hits_left += left == s[i]
      hits_both += (best(between.get((s[i - 1], s[i + 1]))) or left) == s[i]
  print("masked %d held-out characters: unigram %.3f  left neighbour %.3f  both neighbours %.3f  "
        "(no-context BERT plateau ~ 0.1 + 0.8 x unigram = %.3f)"
        % (n, hits_unigram / n, hits_left / n, hits_both / n, 0.1 + 0.8 * hits_unigram / n))


if __name__ == "__main__":
  flags.mark_flags_as_required(["train_file", "heldout_file"])
  app.run(main)
