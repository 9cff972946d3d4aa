"""TEST REFERENCE ONLY: google-research/bert master's whole-word masking, patched into the wheel.

The PyPI wheel (`bert-tensorflow==1.0.4`) predates `--do_whole_word_mask`. Master's
`create_masked_lm_predictions` groups candidate indexes into words (a `##` token joins the
previous group, even across [SEP]; [CLS]/[SEP] are never candidates), shuffles the groups,
skips a group that would overflow `num_to_predict` (no draw), and gives each index of a chosen
group its own 80/10/10 draw. With whole-word masking off every index is its own group, which
is exactly the wheel's behaviour. `patched(module, do_whole_word_mask)` installs this version
into the original module for the duration of a `with` block, so the original's
`create_training_instances` can serve as the reference for both settings.
"""

import contextlib


def make_create_masked_lm_predictions(module, do_whole_word_mask):
  """Master's `create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng)`."""

  def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng):
    cand_indexes = []
    for i, token in enumerate(tokens):
      if token == "[CLS]" or token == "[SEP]":
        continue
      if do_whole_word_mask and len(cand_indexes) >= 1 and token.startswith("##"):
        cand_indexes[-1].append(i)
      else:
        cand_indexes.append([i])

    rng.shuffle(cand_indexes)
    output_tokens = list(tokens)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))

    masked_lms = []
    covered_indexes = set()
    for index_set in cand_indexes:
      if len(masked_lms) >= num_to_predict:
        break
      if len(masked_lms) + len(index_set) > num_to_predict:
        continue
      if any(index in covered_indexes for index in index_set):
        continue
      for index in index_set:
        covered_indexes.add(index)
        if rng.random() < 0.8:
          masked_token = "[MASK]"
        elif rng.random() < 0.5:
          masked_token = tokens[index]
        else:
          masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]
        output_tokens[index] = masked_token
        masked_lms.append(module.MaskedLmInstance(index=index, label=tokens[index]))

    masked_lms = sorted(masked_lms, key=lambda x: x.index)
    return output_tokens, [p.index for p in masked_lms], [p.label for p in masked_lms]

  return create_masked_lm_predictions


@contextlib.contextmanager
def patched(module, do_whole_word_mask):
  """Temporarily replaces `module.create_masked_lm_predictions` with master's version."""
  saved = module.create_masked_lm_predictions
  module.create_masked_lm_predictions = make_create_masked_lm_predictions(module, do_whole_word_mask)
  try:
    yield module
  finally:
    module.create_masked_lm_predictions = saved
