"""Dense retrieval: a shared-tower dual encoder, its three training objectives, an index, Recall@K.

    model = DualEncoder(bert_model)                                   # .encoder is the BertModel
    loss = in_batch_negative_loss(model(queries), model(passages))     # or hardest_negative, simcse
    index = FaissIndex(passage_vectors, kind="hnsw")   # or bert_tf2.retrieval.milvus.MilvusIndex
    scores, ids = index.search(query_vectors, k=10)
    recall_at_k(ids, gold, ks=(1, 5, 10, 50))                         # {1: 0.41, 5: ...}

Objectives (q, p: L2-normalized [B, D] query and passage vectors of one batch; row i is a pair):
  in_batch  PaddleNLP's `in_batch_negative`: cosine matrix q p^T minus `margin` on the diagonal,
            times `scale`, softmax cross-entropy towards the diagonal (every other passage is a negative).
  hardest   PaddleNLP's hardest-negative variant: hinge max(0, margin - cos(q_i, p_i) + max_j!=i cos(q_i, p_j)).
  simcse    unsupervised SimCSE (Gao et al., 2021, arXiv:2104.08821): each sentence twice through the
            encoder with different dropout; cosine / temperature (0.05), cross-entropy to the diagonal.
Under a strategy with several replicas the candidates (passages, second views) are gathered from
all replicas, so each query is scored against the global batch, B - 1 negatives, not its replica's share.
The training job is `bert_tf2.retrieval.job`.
"""

import keras
import numpy as np
import tensorflow as tf

from bert_tf2 import modeling
from bert_tf2.embeddings import pooling
from bert_tf2.retrieval.index import FaissIndex, VectorIndex  # noqa: F401  (VectorIndex: the interface, kept here)
# The index tools, kept importable from here: build_index, Searcher, read_texts_with_payloads.
from bert_tf2.retrieval.searcher import Searcher, build_index, read_texts_with_payloads  # noqa: F401

OBJECTIVES = ("in_batch", "hardest", "simcse")


@keras.saving.register_keras_serializable(package="bert_tf2")
class DualEncoder(keras.Model):
  """One BERT tower for queries and passages: masked mean (or [CLS]) of the last layer, L2-normalized.

  Call: batch dict (`input_ids`, `input_mask`, `segment_ids` int32 [B, T]) -> float32 [B, D].
  """

  def __init__(self, encoder, pooling_strategy="REDUCE_MEAN", **kwargs):
    super().__init__(**kwargs)
    self.encoder = modeling.BertModel(encoder) if isinstance(encoder, (modeling.BertConfig, dict)) else encoder
    self.pooling_strategy = pooling_strategy

  def checkpoint_heads(self):
    """No head: the pooling has no weights, so the encoder's checkpoint names are the whole model's."""
    return []

  def call(self, batch, training=False):
    hidden = self.encoder(batch, training=training)["sequence_output"]
    pooled = pooling.pool(hidden, batch["input_mask"], self.pooling_strategy)
    return tf.math.l2_normalize(tf.cast(pooled, tf.float32), axis=-1)

  def get_config(self):
    return {"encoder": self.encoder.config.to_dict(), "pooling_strategy": self.pooling_strategy,
            "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(modeling.BertConfig.from_dict(config.pop("encoder")), **config)


def global_candidates(candidates):
  """This replica's candidates -> those of the whole global batch, and where its own pairs are in them.

  Each replica of a `tf.distribute` strategy holds b = B / R rows of the batch; scored only against
  its own, a query would get b - 1 negatives instead of the global batch's B - 1 (what DPR, SimCSE and
  MultipleNegativesRankingLoss on several GPUs mean by in-batch negatives). So under more than one
  replica the candidates are all-gathered in replica order, as TF Model Garden's dual encoder does.
  The gradient of `all_gather` sums every replica's gradient for the rows it gathered and hands each
  replica the slice of its own rows, so each replica's loss trains the other replicas' passages too;
  `training.train` divides each replica's loss by R and all-reduces (sums) the gradients, which makes
  them those of the mean loss over the global batch (when R divides B). Without a strategy, or with
  one replica, the candidates come back as they are.

  Args:
    candidates: float [b, D], this replica's passages (or second views), row i paired with query i.
  Returns:
    (float [B, D] candidates of all replicas, int32 [b] labels: the row of each local pair's candidate).
  """
  ctx = tf.distribute.get_replica_context()  # None in a cross-replica context
  local = tf.shape(candidates)[0]
  if ctx is None or ctx.num_replicas_in_sync == 1:
    return candidates, tf.range(local)
  sizes = ctx.all_gather(tf.reshape(local, [1]), axis=0)  # (R,): not all equal when R does not divide B
  offset = tf.reduce_sum(sizes[:ctx.replica_id_in_sync_group])
  return ctx.all_gather(candidates, axis=0), offset + tf.range(local)


def in_batch_negative_loss(query, passage, margin=0.2, scale=30.0):
  """PaddleNLP in_batch_negative: float [b, D] x2 (normalized) -> scalar loss (passages of all replicas)."""
  passage, labels = global_candidates(passage)
  cosine = tf.matmul(query, passage, transpose_b=True)  # (b, B)
  cosine -= margin * tf.one_hot(labels, tf.shape(cosine)[1])
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, scale * cosine))


def hardest_negative_loss(query, passage, margin=0.2):
  """Hinge on the hardest in-batch negative: float [b, D] x2 (normalized) -> scalar loss (all replicas')."""
  passage, labels = global_candidates(passage)
  cosine = tf.matmul(query, passage, transpose_b=True)  # (b, B)
  positive = tf.gather(cosine, labels, axis=1, batch_dims=1)
  hardest = tf.reduce_max(cosine - 10.0 * tf.one_hot(labels, tf.shape(cosine)[1]), axis=1)  # cosines are in [-1, 1]
  return tf.reduce_mean(tf.nn.relu(margin - positive + hardest))


def simcse_loss(first, second, temperature=0.05):
  """Unsupervised SimCSE: two dropout views float [b, D] (normalized) -> scalar loss (all replicas' second)."""
  second, labels = global_candidates(second)
  logits = tf.matmul(first, second, transpose_b=True) / temperature  # (b, B)
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def recall_at_k(retrieved, gold, ks=(1, 5, 10, 50)):
  """Fraction of queries whose gold id is among their first k retrieved ids.

  Args:
    retrieved: int [Q, K] ids, best first.
    gold: int [Q], the relevant id of each query.
  Example: recall_at_k([[3, 1], [0, 2]], [1, 5], ks=(1, 2)) -> {1: 0.0, 2: 0.5}.
  """
  hits = np.asarray(retrieved) == np.asarray(gold)[:, None]  # (Q, K)
  return {k: float(hits[:, :k].any(axis=1).mean()) for k in ks}


class BM25:
  """Okapi BM25 over token lists (k1 = 1.2, b = 0.75): the lexical baseline.

  For Chinese, `char_ngrams` turns text into character unigrams and bigrams.
  """

  def __init__(self, documents, k1=1.2, b=0.75):
    self.k1, self.b = k1, b
    self.vocab = {}
    rows, cols, counts = [], [], []
    for row, tokens in enumerate(documents):
      tf_counts = {}
      for token in tokens:
        term = self.vocab.setdefault(token, len(self.vocab))
        tf_counts[term] = tf_counts.get(term, 0) + 1
      rows += [row] * len(tf_counts)
      cols += list(tf_counts)
      counts += list(tf_counts.values())
    self.num_docs = len(documents)
    self.lengths = np.array([len(d) for d in documents], np.float32)
    self.term_freq = np.zeros([len(self.vocab), self.num_docs], np.float32)  # (V, N); small corpora only
    self.term_freq[cols, rows] = counts
    doc_freq = (self.term_freq > 0).sum(axis=1)
    self.idf = np.log(1.0 + (self.num_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)

  def scores(self, query_tokens):
    """float32 [N], the BM25 score of every document for one tokenized query."""
    ids = [self.vocab[t] for t in set(query_tokens) if t in self.vocab]
    tf_q = self.term_freq[ids]  # (q, N)
    norm = self.k1 * (1.0 - self.b + self.b * self.lengths / max(self.lengths.mean(), 1e-9))
    return (self.idf[ids, None] * tf_q * (self.k1 + 1.0) / (tf_q + norm)).sum(axis=0)

  def search(self, queries_tokens, k=10):
    """[[token]] -> int64 [Q, k] ids, best first."""
    k = min(k, self.num_docs)
    return np.stack([np.argsort(-self.scores(q), kind="stable")[:k] for q in queries_tokens]).astype(np.int64)


def char_ngrams(text, n=2):
  """"医疗保险" -> ["医", "疗", "保", "险", "医疗", "疗保", "保险"] (whitespace dropped)."""
  chars = [c for c in text if not c.isspace()]
  return chars + ["".join(chars[i:i + n]) for i in range(len(chars) - n + 1)]


def evaluate_recall(encoder, queries, passages, gold, ks=(1, 5, 10, 50), kind="flat"):
  """Recall@K of `encoder` (a SentenceEncoder) retrieving `passages[gold[i]]` for `queries[i]`."""
  index = FaissIndex(encoder.encode(passages), kind=kind)
  _, ids = index.search(encoder.encode(queries), max(ks))
  return recall_at_k(ids, gold, ks)


def rank_fusion(rankings, k=60):
  """Reciprocal-rank fusion (Cormack et al., 2009) of [Q, K] id rankings: score(d) = sum 1 / (k + rank).

  Example: rank_fusion([[[1, 2]], [[2, 3]]]) -> [[2, 1]] (2 is second and first: 1/62 + 1/61).
  Returns int64 [Q, K] ids, K the first ranking's width; -1 ids (padding) are skipped.
  """
  fused = []
  for rows in zip(*rankings):
    scores = {}
    for row in rows:
      for rank, i in enumerate(row):
        if i >= 0:
          scores[int(i)] = scores.get(int(i), 0.0) + 1.0 / (k + rank + 1)
    best = sorted(scores, key=lambda i: -scores[i])[:len(rows[0])]
    fused.append(best + [-1] * (len(rows[0]) - len(best)))
  return np.array(fused, np.int64)
