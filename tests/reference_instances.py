"""The oracle of `data_prep/instances.py`: BERT's training instances in pure Python, on token ids.

The algorithm of Google's `create_pretraining_data.py`, making the same calls on the same
`random.Random` in the same order, so that a seed gives the original's instances exactly. The
library draws the same numbers in compiled code (`data_prep/instances.py`); this readable
version is what the tests hold it to (`test_instances_jit.py`), and each of its steps is held to
the original's code (`test_create_pretraining_data.py`). The draws:

  shuffle documents                                                  (create_training_instances)
  per dupe pass, per document: random() < short_seq_prob -> randint(2, max_num_tokens)
    per chunk of sentences:  randint(1, n-1) for the A/B split    (only with >= 2 sentences)
                             random() < 0.5 for a random next     (only with >= 2 sentences)
                             <=10 randint for another document, randint for its start sentence
      truncate_seq_pair:     random() per removed token, from the longer side (ties trim B)
      masking:               shuffle the candidate words, then per masked token random() < 0.8
                             -> [MASK], else random() < 0.5 -> keep, else randint(0, |vocab|-1)
  (the final shuffle of all instances is a permutation, see `create_pretraining_data_lib.final_order`)

Instances come out as `InstanceSpec`s (token ranges of the corpus plus the masking decisions),
not token lists (`columns_from_specs` gives the compiled generator's `Columns`). Tokens are ids,
not strings: `vocab_words[randint(0, |V|-1)]` is id `randint(0, |V|-1)` because
vocab ids are consecutive. Whole-word masking follows google-research/bert master: a `##` piece
joins the previous candidate word (even across [SEP]); a word that would overflow
`num_to_predict` is skipped without a draw; each piece of a masked word has its own 80/10/10 draw.
"""

import typing

import numpy as np

from data_prep.instances import Columns


class InstanceSpec(typing.NamedTuple):
  """One instance as token ranges of the corpus plus its masking: all the writer needs.

  A and B are each one contiguous range of the corpus `ids` (consecutive sentences, truncated),
  so no token list is built per instance.

  Attributes:
    a_start, a_end, b_start, b_end: int, token offsets of A and B in the corpus `ids`.
    is_random_next: bool, B is a random span from another document (NSP label 1).
    masked_lm_positions: list of int, sorted positions in [CLS] A [SEP] B [SEP]. [num_masked]
    masked_lm_replacements: list of int, the id written at each position; -1 keeps the original.
  """
  a_start: int
  a_end: int
  b_start: int
  b_end: int
  is_random_next: bool
  masked_lm_positions: list
  masked_lm_replacements: list


def columns_from_specs(specs, max_predictions_per_seq):
  """`InstanceSpec`s as the compiled generator's `Columns` (to compare them, or to serialize them)."""
  width = max([max_predictions_per_seq] + [len(spec.masked_lm_positions) for spec in specs])
  out = Columns(len(specs), width)
  for r, spec in enumerate(specs):
    out.a_start[r], out.a_end[r], out.b_start[r], out.b_end[r] = spec[:4]
    out.is_random_next[r] = spec.is_random_next
    k = out.num_masked[r] = len(spec.masked_lm_positions)
    out.positions[r, :k] = spec.masked_lm_positions
    out.replacements[r, :k] = spec.masked_lm_replacements
  return out


def _randbelow(getrandbits, n):
  """`random.Random._randbelow(n)` (what randint and randrange call), one call frame cheaper."""
  k = n.bit_length()
  r = getrandbits(k)
  while r >= n:
    r = getrandbits(k)
  return r


_RUNS = {}


def _bit_length_runs(top, bottom):
  """[(k, hi, lo)]: runs of i from `top` down to `bottom` with the same k = (i + 1).bit_length()."""
  runs = _RUNS.get((top, bottom))
  if runs is None:
    runs, key = [], (top, bottom)
    while top >= bottom:
      k = (top + 1).bit_length()
      lo = max(bottom, (1 << (k - 1)) - 1)
      runs.append((k, top, lo))
      top = lo - 1
    if len(_RUNS) < 1 << 16:
      _RUNS[key] = runs
  return runs


def shuffle(x, rng, keep=None):
  """`rng.shuffle(x)`: the same permutation and the same draws, ~2x faster (the masking hot spot).

  CPython's shuffle swaps x[i] with x[_randbelow(i + 1)] for i from the end down to 1. Speed
  tricks: the draw's bit count k is constant over runs of i (no per-step lookup), and with
  `keep`, only x[:keep] is wanted: position i is final once step i is done, so for i >= keep
  the step only moves x[i] to j (the draws are unchanged).
  """
  getrandbits = rng.getrandbits
  keep = len(x) if keep is None else max(1, keep)
  for k, hi, lo in _bit_length_runs(len(x) - 1, keep):
    for i in range(hi, lo - 1, -1):
      j = getrandbits(k)
      while j > i:
        j = getrandbits(k)
      x[j] = x[i]
  for k, hi, lo in _bit_length_runs(min(keep, len(x)) - 1, 1):
    for i in range(hi, lo - 1, -1):
      j = getrandbits(k)
      while j > i:
        j = getrandbits(k)
      x[i], x[j] = x[j], x[i]


def create_training_instances(documents, max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, vocab, rng, do_whole_word_mask=False):
  """Yields every instance of the corpus, in the original's order before its final shuffle.

  Shuffles the document order with `rng` first, as the original does.

  Args:
    documents: `Documents` (see `documents.py`).
    max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob, max_predictions_per_seq: the
      original's flags.
    vocab: `data_prep.instances.MaskingVocab`.
    rng: `random.Random`.
    do_whole_word_mask: bool, mask all pieces of a word together.

  Yields:
    list of `InstanceSpec`, one list per dupe pass and document.
  """
  all_documents = DocumentList(documents)
  rng.shuffle(all_documents.order)
  # Masking needs no tokens unless words are grouped or a [CLS]/[SEP] id occurs inside the text.
  ids = np.frombuffer(documents.ids, documents.ids.typecode)
  needs_tokens = (do_whole_word_mask or documents.joins is not None
                  or bool(np.any((ids == vocab.cls_id) | (ids == vocab.sep_id))))
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      yield create_instances_from_document(
          all_documents, document_index, max_seq_length, short_seq_prob, masked_lm_prob,
          max_predictions_per_seq, vocab, rng, do_whole_word_mask, needs_tokens)


class DocumentList:
  """A (shuffleable) view of the documents of a `Documents` corpus, as `all_documents` lists.

  `order[k]` is the corpus number of document k; shuffling `order` shuffles the view.
  """

  def __init__(self, corpus, order=None):
    self.corpus = corpus
    self.order = list(range(len(corpus))) if order is None else list(order)

  def __len__(self):
    return len(self.order)

  def sentence_range(self, k):
    """(first, end): the corpus sentence numbers of document k."""
    d = self.order[k]
    return self.corpus.doc_starts[d], self.corpus.doc_starts[d + 1]


def create_instances_from_document(all_documents, document_index, max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                   do_whole_word_mask=False, needs_tokens=True):
  """Cuts one document into sentence pairs and masks them.

  Sentences of a document are consecutive in the corpus, so a chunk of sentences is one token
  range [starts[first], starts[end]) and A and B are ranges too.

  Args:
    all_documents: `DocumentList`; random next sentences come from its other documents.
    document_index: int, the document to cut.
    max_seq_length: int, [CLS] A [SEP] B [SEP] fits in it.
    short_seq_prob: float, probability of a random shorter target length.
    masked_lm_prob, max_predictions_per_seq: masking rate and cap.
    vocab: `data_prep.instances.MaskingVocab`.
    rng: `random.Random`.
    do_whole_word_mask: bool.
    needs_tokens: bool, False if masking may skip looking at the tokens (see `mask_pair`).

  Returns:
    list of `InstanceSpec`.
  """
  starts = all_documents.corpus.sentence_starts
  getrandbits = rng.getrandbits
  random = rng.random
  max_num_tokens = max_seq_length - 3

  target_seq_length = max_num_tokens
  if random() < short_seq_prob:
    target_seq_length = 2 + _randbelow(getrandbits, max_num_tokens - 1)

  instances = []
  first, end = all_documents.sentence_range(document_index)
  chunk_first = i = first  # the chunk is sentences chunk_first..i
  while i < end:
    if i == end - 1 or starts[i + 1] - starts[chunk_first] >= target_seq_length:
      chunk_size = i + 1 - chunk_first
      a_end = 1
      if chunk_size >= 2:
        a_end = 1 + _randbelow(getrandbits, chunk_size - 1)
      a_lo, a_hi = starts[chunk_first], starts[chunk_first + a_end]
      if chunk_size == 1 or random() < 0.5:
        is_random_next = True
        target_b_length = target_seq_length - (a_hi - a_lo)
        for _ in range(10):
          random_document_index = _randbelow(getrandbits, len(all_documents))
          if random_document_index != document_index:
            break
        r_first, r_end = all_documents.sentence_range(random_document_index)
        s = r_first + _randbelow(getrandbits, r_end - r_first)
        b_lo = starts[s]
        while s < r_end - 1 and starts[s + 1] - b_lo < target_b_length:
          s += 1
        b_hi = starts[s + 1]
        i = chunk_first + a_end - 1  # put the unused sentences back
      else:
        is_random_next = False
        b_lo, b_hi = a_hi, starts[i + 1]
      instances.append(_make_instance(
          all_documents.corpus, a_lo, a_hi, b_lo, b_hi, is_random_next, max_num_tokens, masked_lm_prob,
          max_predictions_per_seq, vocab, rng, do_whole_word_mask, needs_tokens))
      chunk_first = i + 1
    i += 1
  return instances


def _make_instance(corpus, a_lo, a_hi, b_lo, b_hi, is_random_next, max_num_tokens, masked_lm_prob,
                   max_predictions_per_seq, vocab, rng, do_whole_word_mask, needs_tokens):
  (front_a, back_a), (front_b, back_b) = truncate_seq_pair(a_hi - a_lo, b_hi - b_lo, max_num_tokens, rng)
  a_lo, a_hi, b_lo, b_hi = a_lo + front_a, a_hi - back_a, b_lo + front_b, b_hi - back_b
  num_tokens = a_hi - a_lo + b_hi - b_lo + 3
  num_to_predict = min(max_predictions_per_seq, max(1, int(round(num_tokens * masked_lm_prob))))
  if not needs_tokens:
    positions, replacements = mask_pair(a_hi - a_lo, b_hi - b_lo, num_to_predict, vocab, rng)
    return InstanceSpec(a_lo, a_hi, b_lo, b_hi, is_random_next, positions, replacements)
  ids, joins = corpus.ids, corpus.joins
  tokens = [vocab.cls_id] + ids[a_lo:a_hi].tolist() + [vocab.sep_id] + ids[b_lo:b_hi].tolist() + [vocab.sep_id]
  word_continues = None
  if joins is not None:  # Chinese whole words from segmentation; a word never spans A and B.
    word_continues = [0, 0] + list(joins[a_lo + 1:a_hi]) + [0, 0] + list(joins[b_lo + 1:b_hi]) + [0]
  output_ids, positions, _ = create_masked_lm_predictions(
      tokens, masked_lm_prob, max_predictions_per_seq, vocab, rng, do_whole_word_mask, word_continues)
  return InstanceSpec(a_lo, a_hi, b_lo, b_hi, is_random_next, positions, [output_ids[p] for p in positions])


def truncate_seq_pair(len_a, len_b, max_num_tokens, rng):
  """Draws how many tokens to cut from each end of A and B so that len_a + len_b <= max_num_tokens.

  The original deletes one token at a time from the longer list (B on ties), from the front if
  `rng.random() < 0.5`, else from the back. Which list loses each token depends on the lengths
  only: first the longer one until both are equal, then B, A, B, A, ... So the draws are made in
  one go and only counted.

  Returns:
    ((front_a, back_a), (front_b, back_b)): tokens to drop, e.g. tokens_a[front_a:len_a - back_a].
  """
  excess = len_a + len_b - max_num_tokens
  cut_a = cut_b = (0, 0)
  if excess > 0:
    random = rng.random
    fronts = [random() < 0.5 for _ in range(excess)]
    lead = min(excess, abs(len_a - len_b))  # removals from the longer list before the tie
    b_draws, a_draws = fronts[lead::2], fronts[lead + 1::2]
    if len_a > len_b:
      a_draws += fronts[:lead]
    else:
      b_draws += fronts[:lead]
    front_a, front_b = a_draws.count(True), b_draws.count(True)
    cut_a, cut_b = (front_a, len(a_draws) - front_a), (front_b, len(b_draws) - front_b)
    len_a, len_b = len_a - len(a_draws), len_b - len(b_draws)
  if len_a < 1 or len_b < 1:
    raise ValueError("max_seq_length too small: a sentence pair needs at least 5 tokens")
  return cut_a, cut_b


def mask_pair(len_a, len_b, num_to_predict, vocab, rng):
  """`create_masked_lm_predictions` for [CLS] A [SEP] B [SEP] when no token of A or B is [CLS]/[SEP].

  The candidates are then every position but 0, len_a + 1 and the last, whatever the tokens, so
  the same draws pick the same positions without building the token list.

  Returns:
    (masked_lm_positions [k] sorted, replacements [k]: the id written there, -1 = keep the token).
  """
  candidates = list(range(1, len_a + 1))
  candidates += range(len_a + 2, len_a + len_b + 2)
  shuffle(candidates, rng, num_to_predict)
  random = rng.random
  getrandbits = rng.getrandbits
  mask_id, vocab_size = vocab.mask_id, vocab.size
  picked = []
  for index in candidates[:num_to_predict]:
    if random() < 0.8:
      picked.append((index, mask_id))
    elif random() < 0.5:
      picked.append((index, -1))
    else:
      picked.append((index, _randbelow(getrandbits, vocab_size)))
  picked.sort()
  return [p for p, _ in picked], [r for _, r in picked]


def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                 do_whole_word_mask=False, word_continues=None):
  """Picks the masked-LM targets of one sequence and applies 80% [MASK] / 10% keep / 10% random.

  Args:
    tokens: list of int ids, [CLS] A [SEP] B [SEP]. [num_tokens]
    masked_lm_prob: float, fraction of tokens to predict (rounded half to even, at least 1).
    max_predictions_per_seq: int, cap on predictions.
    vocab: `data_prep.instances.MaskingVocab`.
    rng: `random.Random`.
    do_whole_word_mask: bool, `##` pieces join the previous word.
    word_continues: list of 0/1 or None, 1 where a token continues the previous token's word
      (Chinese word segmentation); joins words like `##` does. [num_tokens]

  Returns:
    (output_ids [num_tokens], masked_lm_positions [k] sorted, masked_lm_ids [k] original ids).

  Example: with tokens [CLS] a b [SEP] c [SEP] and masked_lm_prob 0.15 one position of a, b, c is
    predicted (round(6 * 0.15) = 1).
  """
  cls_id, sep_id = vocab.cls_id, vocab.sep_id
  grouped = do_whole_word_mask or word_continues is not None
  if not grouped:
    if tokens[0] == cls_id and tokens[-1] == sep_id and tokens.count(cls_id) == 1 and tokens.count(sep_id) == 2:
      middle = tokens.index(sep_id)  # the usual [CLS] A [SEP] B [SEP], without a Python loop
      cand_indexes = list(range(1, middle))
      cand_indexes += range(middle + 1, len(tokens) - 1)
    else:
      cand_indexes = [i for i, t in enumerate(tokens) if t != cls_id and t != sep_id]
  else:
    is_subword = vocab.is_subword
    cand_indexes = []
    for i, t in enumerate(tokens):
      if t == cls_id or t == sep_id:
        continue
      if cand_indexes and ((do_whole_word_mask and is_subword[t]) or (word_continues and word_continues[i])):
        cand_indexes[-1].append(i)
      else:
        cand_indexes.append([i])
  shuffle(cand_indexes, rng)

  num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
  picked = cand_indexes[:num_to_predict] if not grouped else _pick_words(cand_indexes, num_to_predict)

  output_ids = list(tokens)
  random = rng.random
  getrandbits = rng.getrandbits
  mask_id, vocab_size = vocab.mask_id, vocab.size
  for index in picked:
    if random() < 0.8:
      output_ids[index] = mask_id
    elif random() >= 0.5:  # else: 10% keep the original
      output_ids[index] = _randbelow(getrandbits, vocab_size)
  positions = sorted(picked)
  return output_ids, positions, [tokens[i] for i in positions]


def _pick_words(words, num_to_predict):
  """Takes shuffled words whose pieces still fit: [[3], [1, 2], [5]], 2 -> [3, 5] ([1, 2] is skipped)."""
  picked = []
  for word in words:
    if len(picked) >= num_to_predict:
      break
    if len(picked) + len(word) > num_to_predict:
      continue
    picked.extend(word)
  return picked
