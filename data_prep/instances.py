"""BERT's masked-LM + next-sentence training instances, on token ids (Devlin et al., 2018).

The algorithm of Google's `create_pretraining_data.py`, making the same calls on the same
`random.Random` in the same order, so that a seed gives the original's instances exactly:

  shuffle documents                                                  (create_training_instances)
  per dupe pass, per document: random() < short_seq_prob -> randint(2, max_num_tokens)
    per chunk of sentences:  randint(1, n-1) for the A/B split    (only with >= 2 sentences)
                             random() < 0.5 for a random next     (only with >= 2 sentences)
                             <=10 randint for another document, randint for its start sentence
      truncate_seq_pair:     random() per removed token, from the longer side (ties trim B)
      masking:               shuffle the candidate words, then per masked token random() < 0.8
                             -> [MASK], else random() < 0.5 -> keep, else randint(0, |vocab|-1)
  (the final shuffle of all instances is a permutation, see `example_writer.shuffled_order`)

Tokens are ids, not strings: `vocab_words[randint(0, |V|-1)]` is id `randint(0, |V|-1)` because
vocab ids are consecutive. Whole-word masking follows google-research/bert master: a `##` piece
joins the previous candidate word (even across [SEP]); a word that would overflow
`num_to_predict` is skipped without a draw; each piece of a masked word has its own 80/10/10 draw.
"""

import typing


class TrainingInstance(typing.NamedTuple):
  """One sentence pair, masked, unpadded.

  Attributes:
    input_ids: list of int, [CLS] A [SEP] B [SEP] after masking. [num_tokens <= max_seq_length]
    segment_a_length: int, tokens with segment id 0 ([CLS] A [SEP]); the rest have segment id 1.
    masked_lm_positions: list of int, sorted positions that are predicted. [num_masked]
    masked_lm_ids: list of int, the original ids at those positions. [num_masked]
    is_random_next: bool, B is a random span from another document (NSP label 1).
  """
  input_ids: list
  segment_a_length: int
  masked_lm_positions: list
  masked_lm_ids: list
  is_random_next: bool


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


def _randbelow(getrandbits, n):
  """`random.Random._randbelow(n)` (what randint and randrange call), one call frame cheaper."""
  k = n.bit_length()
  r = getrandbits(k)
  while r >= n:
    r = getrandbits(k)
  return r


_BIT_LENGTHS = [n.bit_length() for n in range(1 << 13)]


def shuffle(x, rng):
  """`rng.shuffle(x)`, the same permutation and draws, twice as fast (the masking hot spot).

  CPython's shuffle swaps x[i] with x[_randbelow(i + 1)] for i from the end down to 1.
  """
  if len(x) >= len(_BIT_LENGTHS):
    rng.shuffle(x)
    return
  getrandbits, bits = rng.getrandbits, _BIT_LENGTHS
  for i in range(len(x) - 1, 0, -1):
    k = bits[i + 1]
    j = getrandbits(k)
    while j > i:
      j = getrandbits(k)
    x[i], x[j] = x[j], x[i]


def create_training_instances(documents, max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, vocab, rng, do_whole_word_mask=False):
  """Yields every instance of the corpus, in the original's order before its final shuffle.

  Shuffles `documents` in place with `rng` first, as the original does.

  Args:
    documents: `Documents` (see `documents.py`), or any list of documents indexable as below.
    max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob, max_predictions_per_seq: the
      original's flags.
    vocab: `MaskingVocab`.
    rng: `random.Random`.
    do_whole_word_mask: bool, mask all pieces of a word together.

  Yields:
    list of `TrainingInstance`, one list per dupe pass and document.
  """
  all_documents = DocumentList(documents)
  rng.shuffle(all_documents.order)
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      yield create_instances_from_document(
          all_documents, document_index, max_seq_length, short_seq_prob, masked_lm_prob,
          max_predictions_per_seq, vocab, rng, do_whole_word_mask)


class DocumentList:
  """A (shuffleable) view of some documents of a `Documents` corpus, as `all_documents` lists.

  `order[k]` is the corpus number of document k; shuffling `order` shuffles the view.
  """

  def __init__(self, corpus, order=None):
    self.corpus = corpus
    self.order = list(range(len(corpus))) if order is None else list(order)

  def __len__(self):
    return len(self.order)

  def sentence_bounds(self, k):
    """[(start, end)] token offsets into `corpus.ids` of the sentences of document k."""
    return self.corpus.sentence_bounds(self.order[k])


def create_instances_from_document(all_documents, document_index, max_seq_length, short_seq_prob,
                                   masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                   do_whole_word_mask=False):
  """Cuts one document into sentence pairs and masks them.

  Args:
    all_documents: `DocumentList`; random next sentences come from its other documents.
    document_index: int, the document to cut.
    max_seq_length: int, [CLS] A [SEP] B [SEP] fits in it.
    short_seq_prob: float, probability of a random shorter target length.
    masked_lm_prob, max_predictions_per_seq: masking rate and cap.
    vocab: `MaskingVocab`.
    rng: `random.Random`.
    do_whole_word_mask: bool.

  Returns:
    list of `TrainingInstance`.
  """
  ids = all_documents.corpus.ids
  joins = all_documents.corpus.joins
  sentences = all_documents.sentence_bounds(document_index)
  getrandbits = rng.getrandbits
  random = rng.random
  max_num_tokens = max_seq_length - 3

  target_seq_length = max_num_tokens
  if random() < short_seq_prob:
    target_seq_length = 2 + _randbelow(getrandbits, max_num_tokens - 1)

  instances = []
  chunk = []  # (start, end) of the sentences gathered so far
  current_length = 0
  i = 0
  while i < len(sentences):
    start, end = sentences[i]
    chunk.append(sentences[i])
    current_length += end - start
    if i == len(sentences) - 1 or current_length >= target_seq_length:
      a_end = 1
      if len(chunk) >= 2:
        a_end = 1 + _randbelow(getrandbits, len(chunk) - 1)
      spans_a = chunk[:a_end]
      if len(chunk) == 1 or random() < 0.5:
        is_random_next = True
        target_b_length = target_seq_length - sum(e - s for s, e in spans_a)
        for _ in range(10):
          random_document_index = _randbelow(getrandbits, len(all_documents))
          if random_document_index != document_index:
            break
        random_document = all_documents.sentence_bounds(random_document_index)
        random_start = _randbelow(getrandbits, len(random_document))
        spans_b, length_b = [], 0
        for span in random_document[random_start:]:
          spans_b.append(span)
          length_b += span[1] - span[0]
          if length_b >= target_b_length:
            break
        i -= len(chunk) - a_end  # put the unused sentences back
      else:
        is_random_next = False
        spans_b = chunk[a_end:]
      instances.append(_make_instance(
          ids, joins, spans_a, spans_b, is_random_next, max_num_tokens, masked_lm_prob,
          max_predictions_per_seq, vocab, rng, do_whole_word_mask))
      chunk = []
      current_length = 0
    i += 1
  return instances


def _gather(values, spans):
  out = []
  for start, end in spans:
    out.extend(values[start:end])
  return out


def _make_instance(ids, joins, spans_a, spans_b, is_random_next, max_num_tokens, masked_lm_prob,
                   max_predictions_per_seq, vocab, rng, do_whole_word_mask):
  tokens_a = _gather(ids, spans_a)
  tokens_b = _gather(ids, spans_b)
  (front_a, back_a), (front_b, back_b) = truncate_seq_pair(len(tokens_a), len(tokens_b), max_num_tokens, rng)
  tokens_a = tokens_a[front_a:len(tokens_a) - back_a]
  tokens_b = tokens_b[front_b:len(tokens_b) - back_b]
  tokens = [vocab.cls_id] + tokens_a + [vocab.sep_id] + tokens_b + [vocab.sep_id]
  word_continues = None
  if joins is not None:  # Chinese whole words from segmentation; a word never spans A and B.
    joins_a = _gather(joins, spans_a)[front_a:len(tokens_a) + front_a]
    joins_b = _gather(joins, spans_b)[front_b:len(tokens_b) + front_b]
    joins_a[0] = joins_b[0] = 0
    word_continues = [0] + joins_a + [0] + joins_b + [0]
  output_ids, positions, labels = create_masked_lm_predictions(
      tokens, masked_lm_prob, max_predictions_per_seq, vocab, rng, do_whole_word_mask, word_continues)
  return TrainingInstance(output_ids, len(tokens_a) + 2, positions, labels, is_random_next)


def truncate_seq_pair(len_a, len_b, max_num_tokens, rng):
  """Draws how many tokens to cut from each end of A and B so that len_a + len_b <= max_num_tokens.

  The original deletes one token at a time from the longer list (B on ties), from the front if
  `rng.random() < 0.5`, else from the back. Only the counts matter, so that is what is returned.

  Returns:
    ((front_a, back_a), (front_b, back_b)): tokens to drop, e.g. tokens_a[front_a:len_a - back_a].
  """
  random = rng.random
  cut_a, cut_b = [0, 0], [0, 0]
  while len_a + len_b > max_num_tokens:
    if len_a > len_b:
      cut_a[0 if random() < 0.5 else 1] += 1
      len_a -= 1
    else:
      cut_b[0 if random() < 0.5 else 1] += 1
      len_b -= 1
  if len_a < 1 or len_b < 1:
    raise ValueError("max_seq_length too small: a sentence pair needs at least 5 tokens")
  return tuple(cut_a), tuple(cut_b)


def create_masked_lm_predictions(tokens, masked_lm_prob, max_predictions_per_seq, vocab, rng,
                                 do_whole_word_mask=False, word_continues=None):
  """Picks the masked-LM targets of one sequence and applies 80% [MASK] / 10% keep / 10% random.

  Args:
    tokens: list of int ids, [CLS] A [SEP] B [SEP]. [num_tokens]
    masked_lm_prob: float, fraction of tokens to predict (rounded half to even, at least 1).
    max_predictions_per_seq: int, cap on predictions.
    vocab: `MaskingVocab`.
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
