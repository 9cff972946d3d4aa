"""What one batch of the embedding server does in its worker thread: tokenize, count [UNK], encode, split.

`EncodeRunner(requests)` takes the requests `DynamicBatcher` merged (EncodeRequest tuples: texts or
word pieces) and returns each request's (float32 vectors, tokens). Texts are cut into model calls of
similar length (`length_groups`), so short texts are not padded to long ones; `stats` counts where the
time went (prepare / model seconds, padding, [UNK] pieces), which /status reports.
"""

import logging as std_logging
import time

import numpy as np

from bert_tf2.serving.batching import length_groups

_log = std_logging.getLogger("bert_tf2.serving.server")  # the server's logger: its [UNK] warnings

def tokenized_features(encoder, pieces_lists):
  """Pre-tokenized input ([[piece]]) -> [InputFeatures]: `[CLS] pieces [SEP]`, truncated, unknown -> [UNK]."""
  from bert_tf2.core import features as features_lib  # pylint: disable=g-import-not-at-top
  vocab, features = encoder.tokenizer.vocab, []
  for i, pieces in enumerate(pieces_lists):
    tokens = ["[CLS]"] + [p if p in vocab else "[UNK]" for p in pieces][:encoder.max_seq_length - 2] + ["[SEP]"]
    ids = [vocab[t] for t in tokens]
    features.append(features_lib.InputFeatures(input_ids=ids, input_mask=[1] * len(ids), segment_ids=[0] * len(ids),
                                               tokens=tokens, guid=i))
  return features


class EncodeRunner:
  """What a batch does in the worker thread: tokenize, count [UNK], encode by length groups, split."""

  def __init__(self, encoder, stats, max_batch_size, unk_threshold, overhead_tokens, fixed_embed_length,
               model_batch_size):
    self.encoder, self.stats, self.max_batch_size = encoder, stats, max_batch_size
    self.model_batch_size = model_batch_size
    self.unk_threshold, self.overhead_tokens = unk_threshold, overhead_tokens
    self.fixed_embed_length = fixed_embed_length
    self.has_features = hasattr(encoder, "features") and hasattr(encoder, "encode_features")
    self._last_unk_warning = 0.0

  def __call__(self, requests):
    if not self.has_features:  # any object with encode(texts, batch_size): no tokens, no groups
      texts = [t for r in requests for t in r.texts]
      start = time.perf_counter()
      vectors = self.encoder.encode(texts, batch_size=self.max_batch_size)
      self.stats["model_seconds"] += time.perf_counter() - start
      bounds = np.cumsum([0] + [len(r.texts) for r in requests])
      return [(vectors[a:b], None) for a, b in zip(bounds[:-1], bounds[1:])]
    start = time.perf_counter()
    per_request = [tokenized_features(self.encoder, r.texts) if r.is_tokenized else self.encoder.features(r.texts)
                   for r in requests]
    features = [f for fs in per_request for f in fs]
    self._count_unk(features)
    lengths = [len(f.input_ids) for f in features]
    groups = length_groups(lengths, self.overhead_tokens, self.model_batch_size)
    self.stats["prepare_seconds"] += time.perf_counter() - start
    start = time.perf_counter()
    rows = [None] * len(features)
    for group in groups:
      vectors = self.encoder.encode_features([features[i] for i in group], batch_size=len(group))
      for row, i in zip(vectors, group):
        rows[i] = row
    self.stats["model_seconds"] += time.perf_counter() - start
    self.stats.update(model_calls=len(groups), real_tokens=sum(lengths),
                      padded_tokens=sum(len(g) * max(lengths[i] for i in g) for g in groups))
    results, offset = [], 0
    for fs in per_request:
      mine = rows[offset:offset + len(fs)]
      offset += len(fs)
      if mine[0].ndim == 2:  # NONE pooling: token vectors, padded per request (or to max_seq_len)
        length = self.encoder.max_seq_length if self.fixed_embed_length else max(r.shape[0] for r in mine)
        mine = [np.pad(r, [(0, length - r.shape[0]), (0, 0)]) for r in mine]
      results.append((np.stack(mine).astype(np.float32), [f.tokens for f in fs]))
    return results

  def _count_unk(self, features):
    from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
    unknown, pieces = embeddings.unk_share(features)
    self.stats.update(unk_pieces=unknown, pieces=pieces)
    if pieces and unknown > self.unk_threshold * pieces:
      self.stats["unk_batches"] += 1
      now = time.monotonic()
      if now - self._last_unk_warning > 60:  # at most one line a minute; /status counts them all
        self._last_unk_warning = now
        _log.warning("%d of %d word pieces (%.0f%%) in a batch of %d texts are [UNK] (threshold %.0f%%): the "
                     "model's vocabulary does not cover these texts, so their vectors say little "
                     "(%d such batches so far, see /status)", unknown, pieces, 100.0 * unknown / pieces,
                     len(features), 100.0 * self.unk_threshold, self.stats["unk_batches"])
