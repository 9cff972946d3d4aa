"""BERT's masked-LM + next-sentence training instances (Devlin et al., 2018), compiled with numba.

The algorithm of Google's `create_pretraining_data.py` on token ids, making the same draws from
the same `random.Random` in the same order, so that a seed gives the original's instances exactly:

  shuffle documents                                                  (create_training_instances)
  per dupe pass, per document: random() < short_seq_prob -> randint(2, max_num_tokens)
    per chunk of sentences:  randint(1, n-1) for the A/B split    (only with >= 2 sentences)
                             random() < 0.5 for a random next     (only with >= 2 sentences)
                             <=10 randint for another document, randint for its start sentence
      truncate_seq_pair:     random() per removed token, from the longer side (ties trim B)
      masking:               shuffle the candidate words, then per masked token random() < 0.8
                             -> [MASK], else random() < 0.5 -> keep, else randint(0, |vocab|-1)
  (the final shuffle of all instances is a permutation: `shuffled_order`)

Tokens are ids: `vocab_words[randint(0, |V|-1)]` is id `randint(0, |V|-1)` (vocab ids are
consecutive). Whole-word masking follows google-research/bert master: a `##` piece (or a
segmented Chinese word's next character) joins the previous candidate word; a word that would
overflow `num_to_predict` is skipped without a draw; each piece has its own 80/10/10 draw.

All of it, ~50x faster than in Python, runs in one compiled loop over an exact copy of CPython's
Mersenne Twister, taken from and given back to the `random.Random`:

  state   int64 [625]: the 624 MT19937 words and the index, as `Random.getstate()[1]`
  genrand the tempered 32-bit output (MT19937, Matsumoto & Nishimura 1998)
  random  (a * 2**26 + b) / 2**53 with a = genrand >> 5, b = genrand >> 6  (CPython's random())
  getrandbits(k <= 32) = genrand >> (32 - k);  randbelow(n): getrandbits(n.bit_length()) until < n
  shuffle(x): for i = len-1 .. 1: swap x[i], x[randbelow(i + 1)]

Instances come out as `Columns` (token ranges of the corpus plus the masking decisions), which
`example_jit.py` turns into records. The same draws in plain Python, `tests/reference_instances.py`,
are the oracle the tests hold this module to.
"""

import typing

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)  # compiled once, cached next to the module


class MaskingVocab(typing.NamedTuple):
  """What masking needs from the vocab: its size, three special ids, and which ids are `##` pieces."""
  size: int
  cls_id: int
  sep_id: int
  mask_id: int
  is_subword: bytes  # [size], 1 for tokens starting with "##"

  @classmethod
  def from_vocab(cls, vocab):
    """From a {token: id} dict with consecutive ids (`bert_tf2.tokenization.load_vocab`)."""
    is_subword = bytearray(len(vocab))
    for token, i in vocab.items():
      is_subword[i] = token.startswith("##")
    return cls(len(vocab), vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"], bytes(is_subword))


def state_from_random(rng):
  """A copy of `rng`'s Mersenne Twister as int64 [625] (624 words + index)."""
  version, internal, _ = rng.getstate()
  assert version == 3 and len(internal) == 625
  return np.array(internal, np.int64)


def state_to_random(state, rng):
  """Puts a state back into `rng` (a `random.Random`), as if it had made the draws itself."""
  rng.setstate((3, tuple(int(v) for v in state), None))


@_jit
def _genrand(st):
  i = st[624]
  if i >= 624:
    for kk in range(624):
      y = (st[kk] & 0x80000000) | (st[(kk + 1) % 624] & 0x7FFFFFFF)
      v = st[(kk + 397) % 624] ^ (y >> 1)
      if y & 1:
        v ^= 0x9908B0DF
      st[kk] = v
    i = 0
  y = st[i]
  st[624] = i + 1
  y ^= y >> 11
  y ^= (y << 7) & 0x9D2C5680
  y ^= (y << 15) & 0xEFC60000
  y ^= y >> 18
  return y


@_jit
def _random(st):
  a = _genrand(st) >> 5
  b = _genrand(st) >> 6
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@_jit
def _randbelow(st, n):
  k = 0
  m = n
  while m:
    k += 1
    m >>= 1
  r = _genrand(st) >> (32 - k)
  while r >= n:
    r = _genrand(st) >> (32 - k)
  return r


@_jit
def _shuffle(st, x):
  for i in range(len(x) - 1, 0, -1):
    j = _randbelow(st, i + 1)
    x[i], x[j] = x[j], x[i]


@_jit
def shuffled_range(st, n):
  """`x = list(range(n)); rng.shuffle(x)` as int64 [n]."""
  x = np.arange(n)
  _shuffle(st, x)
  return x


class Columns:
  """Instances as columns: row r is [CLS] A [SEP] B [SEP] with A = ids[a_start[r]:a_end[r]],
  B = ids[b_start[r]:b_end[r]] of the corpus, B a random next if is_random_next[r], and the tokens
  at positions[r, :num_masked[r]] (sorted) replaced by replacements[r, :num_masked[r]].

  Attributes: a_start, a_end, b_start, b_end int64 [N]; is_random_next uint8 [N]; num_masked
  int64 [N]; positions, replacements int32 [N, P] (replacement -1 keeps the original token).
  """
  NAMES = ("a_start", "a_end", "b_start", "b_end", "is_random_next", "num_masked", "positions", "replacements")

  def __init__(self, capacity, max_predictions_per_seq):
    for name in self.NAMES[:4] + ("num_masked",):
      setattr(self, name, np.zeros(capacity, np.int64))
    self.is_random_next = np.zeros(capacity, np.uint8)
    self.positions = np.zeros((capacity, max_predictions_per_seq), np.int32)
    self.replacements = np.zeros((capacity, max_predictions_per_seq), np.int32)

  def __len__(self):
    return len(self.a_start)

  def rows(self, start, end):
    """Rows start..end-1 (views)."""
    out = Columns.__new__(Columns)
    for name in self.NAMES:
      setattr(out, name, getattr(self, name)[start:end])
    return out

  def head(self, count):
    """The first `count` rows, copied."""
    out = Columns.__new__(Columns)
    for name in self.NAMES:
      setattr(out, name, getattr(self, name)[:count].copy())
    return out


@_jit
def _mask(st, tokens, joins, n, is_subword, do_whole_word_mask, num_to_predict, vocab_size, cls_id, sep_id,
          mask_id, out_positions, out_replacements, scratch):
  """`create_masked_lm_predictions` on tokens[:n]; joins[:n] marks word continuations (or is empty).
  Returns the number of masked positions, written sorted to out_positions / out_replacements.
  scratch: int64 [4, max_seq_length + 1] work space."""
  grouped = do_whole_word_mask or len(joins) > 0
  cand, word_start, words, picked = scratch[0], scratch[1], scratch[2], scratch[3]
  num_cand = 0  # cand[:num_cand]: candidate positions in order; word w = cand[word_start[w]:word_start[w + 1]]
  num_words = 0
  for i in range(n):
    t = tokens[i]
    if t == cls_id or t == sep_id:
      continue
    if not (grouped and num_cand > 0 and ((do_whole_word_mask and is_subword[t]) or (len(joins) > 0 and joins[i]))):
      word_start[num_words] = num_cand
      num_words += 1
    cand[num_cand] = i
    num_cand += 1
  word_start[num_words] = num_cand
  for w in range(num_words):
    words[w] = w
  _shuffle(st, words[:num_words])
  num_picked = 0
  for k in range(num_words):
    if num_picked >= num_to_predict:
      break
    first, end = word_start[words[k]], word_start[words[k] + 1]
    if grouped and num_picked + end - first > num_to_predict:
      continue
    for c in range(first, end):
      picked[num_picked] = cand[c]
      num_picked += 1
  for k in range(num_picked):  # the draws, in picking order; then insertion into position order
    if _random(st) < 0.8:
      replacement = mask_id
    elif _random(st) < 0.5:
      replacement = -1
    else:
      replacement = _randbelow(st, vocab_size)
    position = picked[k]
    j = k
    while j > 0 and out_positions[j - 1] > position:
      out_positions[j] = out_positions[j - 1]
      out_replacements[j] = out_replacements[j - 1]
      j -= 1
    out_positions[j] = position
    out_replacements[j] = replacement
  return num_picked


@_jit
def _truncate(st, len_a, len_b, max_num_tokens):
  """The original's `truncate_seq_pair`, counted: it deletes one token at a time from the longer of
  A and B (B on ties), from the front if random() < 0.5. Returns (front_a, back_a, front_b, back_b)."""
  excess = len_a + len_b - max_num_tokens
  cuts = np.zeros(4, np.int64)  # front_a, back_a, front_b, back_b
  if excess > 0:
    lead = min(excess, abs(len_a - len_b))
    for t in range(excess):
      front = _random(st) < 0.5
      on_a = len_a > len_b if t < lead else (t - lead) % 2 == 1
      cuts[(0 if on_a else 2) + (0 if front else 1)] += 1
  return cuts


@_jit
def _documents(st, order, dupe, doc, dupe_factor, starts, doc_starts, ids, joins, is_subword, do_whole_word_mask,
               needs_tokens, max_seq_length, short_seq_prob, masked_lm_prob, max_predictions_per_seq, vocab_size,
               cls_id, sep_id, mask_id, a_start, a_end, b_start, b_end, is_random_next, num_masked, positions,
               replacements):
  """Instances of documents (dupe, doc), (dupe, doc + 1), ... while the columns have room for a
  whole document; returns (instances written, next dupe, next doc)."""
  capacity = len(a_start)
  count = 0
  num_docs = len(order)
  max_num_tokens = max_seq_length - 3
  tokens = np.empty(max_seq_length, np.int64)
  scratch = np.empty((4, max_seq_length + 1), np.int64)
  word_joins = np.zeros(max_seq_length if len(joins) else 0, np.uint8)
  while dupe < dupe_factor:
    d = order[doc]
    first, end = doc_starts[d], doc_starts[d + 1]
    if count + (end - first) > capacity:  # a document makes at most one instance per sentence
      break
    target = max_num_tokens
    if _random(st) < short_seq_prob:
      target = 2 + _randbelow(st, max_num_tokens - 1)
    chunk_first = first
    i = first
    while i < end:
      if i == end - 1 or starts[i + 1] - starts[chunk_first] >= target:
        chunk_size = i + 1 - chunk_first
        split = 1
        if chunk_size >= 2:
          split = 1 + _randbelow(st, chunk_size - 1)
        a_lo, a_hi = starts[chunk_first], starts[chunk_first + split]
        if chunk_size == 1 or _random(st) < 0.5:
          random_next = 1
          target_b = target - (a_hi - a_lo)
          other = 0
          for _ in range(10):
            other = _randbelow(st, num_docs)
            if other != doc:
              break
          r_first, r_end = doc_starts[order[other]], doc_starts[order[other] + 1]
          s = r_first + _randbelow(st, r_end - r_first)
          b_lo = starts[s]
          while s < r_end - 1 and starts[s + 1] - b_lo < target_b:
            s += 1
          b_hi = starts[s + 1]
          i = chunk_first + split - 1  # put the unused sentences back
        else:
          random_next = 0
          b_lo, b_hi = a_hi, starts[i + 1]
        cuts = _truncate(st, a_hi - a_lo, b_hi - b_lo, max_num_tokens)
        a_lo, a_hi, b_lo, b_hi = a_lo + cuts[0], a_hi - cuts[1], b_lo + cuts[2], b_hi - cuts[3]
        len_a, len_b = a_hi - a_lo, b_hi - b_lo
        n = len_a + len_b + 3
        num_to_predict = min(max_predictions_per_seq, max(1, int(np.rint(n * masked_lm_prob))))
        if needs_tokens:
          tokens[0] = cls_id
          tokens[1:len_a + 1] = ids[a_lo:a_hi]
          tokens[len_a + 1] = sep_id
          tokens[len_a + 2:n - 1] = ids[b_lo:b_hi]
          tokens[n - 1] = sep_id
          if len(joins):  # a segmented word never continues across the start of A or B
            word_joins[:n] = 0
            word_joins[2:len_a + 1] = joins[a_lo + 1:a_hi]
            word_joins[len_a + 3:n - 1] = joins[b_lo + 1:b_hi]
        else:  # only the positions of [CLS] and [SEP] matter
          tokens[:n] = -1
          tokens[0] = cls_id
          tokens[len_a + 1] = sep_id
          tokens[n - 1] = sep_id
        num_masked[count] = _mask(st, tokens, word_joins[:n] if len(joins) else word_joins, n, is_subword,
                                  do_whole_word_mask, num_to_predict, vocab_size, cls_id, sep_id, mask_id,
                                  positions[count], replacements[count], scratch)
        a_start[count], a_end[count], b_start[count], b_end[count] = a_lo, a_hi, b_lo, b_hi
        is_random_next[count] = random_next
        count += 1
        chunk_first = i + 1
      i += 1
    doc += 1
    if doc == num_docs:
      doc = 0
      dupe += 1
  return count, dupe, doc


def create_training_instances(documents, config, vocab, rng, chunk_instances=16384):
  """Yields `Columns` of at most `chunk_instances` rows: every instance of the corpus, in the
  original's order before its final shuffle. Shuffles the document order with `rng` first, as the
  original does; `rng` is left where the original's draws leave it.

  Args:
    documents: `documents.Documents`; config: `create_pretraining_data_lib.InstanceConfig`;
    vocab: `MaskingVocab`; rng: `random.Random`.
  """
  st = state_from_random(rng)
  order = shuffled_range(st, len(documents))
  ids = np.frombuffer(documents.ids, documents.ids.typecode)
  joins = np.frombuffer(documents.joins, np.uint8) if documents.joins is not None else np.zeros(0, np.uint8)
  needs_tokens = (config.do_whole_word_mask or documents.joins is not None
                  or bool(np.any((ids == vocab.cls_id) | (ids == vocab.sep_id))))
  starts = np.frombuffer(documents.sentence_starts, np.int64)
  doc_starts = np.frombuffer(documents.doc_starts, np.int64)
  is_subword = np.frombuffer(vocab.is_subword, np.uint8)
  longest = int(np.max(np.diff(doc_starts))) if len(documents) else 0
  capacity = max(chunk_instances, longest)
  dupe = doc = 0
  while dupe < config.dupe_factor and len(documents):
    out = Columns(capacity, config.max_predictions_per_seq)
    count, dupe, doc = _documents(
        st, order, dupe, doc, config.dupe_factor, starts, doc_starts, ids, joins, is_subword,
        config.do_whole_word_mask, needs_tokens, config.max_seq_length, config.short_seq_prob,
        config.masked_lm_prob, config.max_predictions_per_seq, vocab.size, vocab.cls_id, vocab.sep_id,
        vocab.mask_id, out.a_start, out.a_end, out.b_start, out.b_end, out.is_random_next, out.num_masked,
        out.positions, out.replacements)
    state_to_random(st, rng)
    yield out.head(count)
  state_to_random(st, rng)


def shuffled_order(num_instances, rng):
  """`x = list(range(num_instances)); rng.shuffle(x)` as int64 [N], `rng` advanced: the final instance shuffle."""
  st = state_from_random(rng)
  order = shuffled_range(st, num_instances)
  state_to_random(st, rng)
  return order

