"""Retrieval: loss golden cases, training on a toy task, faiss vs exact index, Recall@K, BM25, scripts."""
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, modeling, tokenization
from bert_tf2.embeddings import encoder as embeddings
from bert_tf2.core import features
from bert_tf2.retrieval import model as retrieval
from bert_tf2.retrieval import job as dual_encoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("医疗保险怎么缴纳养老失业工伤生育住房公积金查询办理")
VOCAB += ["[unused%d]" % i for i in range(40 - len(VOCAB))]


def test_in_batch_negative_loss_hand_worked():
  q = tf.constant([[1.0, 0.0], [0.0, 1.0]])
  p = tf.constant([[1.0, 0.0], [0.6, 0.8]])
  # cosines [[1, .6], [0, .8]]; minus margin .2 on the diagonal; times scale 10.
  logits = np.array([[8.0, 6.0], [0.0, 6.0]])
  expected = np.mean([-logits[0, 0] + np.log(np.exp(logits[0]).sum()), -logits[1, 1] + np.log(np.exp(logits[1]).sum())])
  assert float(retrieval.in_batch_negative_loss(q, p, margin=0.2, scale=10.0)) == pytest.approx(expected, rel=1e-6)


def test_hardest_negative_loss_hand_worked():
  q = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
  p = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]])
  # row 0: pos 1, hardest .8 -> relu(.2 - 1 + .8) = 0; row 1: pos 1, hardest .8 -> 0;
  # row 2: pos .96, hardest max(.6, .8) = .8 -> relu(.2 - .96 + .8) = .04.
  assert float(retrieval.hardest_negative_loss(q, p, margin=0.2)) == pytest.approx(0.04 / 3, abs=1e-6)


def test_simcse_loss_is_cross_entropy_of_cosine_over_temperature():
  z = tf.constant([[1.0, 0.0], [0.96, 0.28]])
  cos = 0.96
  expected = math.log(1.0 + math.exp((cos - 1.0) / 0.05))  # both rows are symmetric
  assert float(retrieval.simcse_loss(z, z, temperature=0.05)) == pytest.approx(expected, rel=1e-5)


# Run in a fresh interpreter: the CPU is split into two logical devices before TF starts.
_TWO_REPLICAS = r"""
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bert_tf2.retrieval import model as retrieval

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(7)
q, p = (tf.math.l2_normalize(tf.constant(rng.normal(size=(8, 6)), tf.float32), axis=-1) for _ in range(2))
for loss_fn in (retrieval.in_batch_negative_loss, retrieval.hardest_negative_loss, retrieval.simcse_loss):
  def loss_and_grads(q, p, num_replicas):
    with tf.GradientTape() as tape:
      tape.watch([q, p])
      loss = loss_fn(q, p) / num_replicas  # as training.train scales each replica's loss
    return (loss,) + tuple(tape.gradient(loss, [q, p]))

  def run(split):  # split: rows of each replica
    starts = np.cumsum([0] + split)
    rows = lambda ctx: slice(starts[ctx.replica_id_in_sync_group], starts[ctx.replica_id_in_sync_group + 1])
    inputs = strategy.experimental_distribute_values_from_function(lambda ctx: (q[rows(ctx)], p[rows(ctx)]))
    out = tf.function(lambda q, p: strategy.run(loss_and_grads, args=(q, p, 2)))(*inputs)
    return [strategy.experimental_local_results(o) for o in out]

  loss, grad_q, grad_p = loss_and_grads(q, p, 1)  # one device, the whole batch
  losses, grads_q, grads_p = run([4, 4])
  np.testing.assert_allclose(sum(losses), loss, rtol=1e-6)
  np.testing.assert_allclose(tf.concat(grads_q, 0), grad_q, atol=1e-6)
  np.testing.assert_allclose(tf.concat(grads_p, 0), grad_p, atol=1e-6)  # through the other replica's loss too
  losses, _, _ = run([5, 3])  # uneven shares: each replica's labels still point at its own pairs
  np.testing.assert_allclose((5 * losses[0] + 3 * losses[1]) * 2 / 8, loss, rtol=1e-6)
print("ok")
"""


def test_losses_under_two_replicas_score_the_global_batch():
  result = subprocess.run([sys.executable, "-c", _TWO_REPLICAS], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"), timeout=120)
  assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


@pytest.fixture
def tokenizer(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("\n".join(VOCAB) + "\n")
  return tokenization.FullTokenizer(str(path))


PAIRS = [("医疗保险怎么缴纳", "医疗保险缴纳办理"), ("养老保险查询", "养老查询办理"), ("失业保险怎么办理", "失业办理"),
         ("住房公积金查询", "公积金查询"), ("工伤保险缴纳", "工伤缴纳"), ("生育保险怎么查询", "生育查询"),
         ("公积金怎么缴纳", "住房公积金缴纳"), ("失业金查询", "失业金怎么查询")]


@pytest.fixture
def model_dir(tiny_config, tmp_path):
  """A directory with an untrained tiny BERT as Google's bert_model.ckpt and its vocab.txt."""
  checkpoints.save_google_checkpoint(modeling.BertModel(tiny_config), str(tmp_path / "m" / "bert_model.ckpt"))
  (tmp_path / "m" / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
  return str(tmp_path / "m")


@pytest.fixture
def pairs_file(tmp_path):
  """PAIRS as query<TAB>passage lines."""
  path = tmp_path / "pairs.tsv"
  path.write_text("".join("%s\t%s\n" % pair for pair in PAIRS))
  return str(path)


# "hardest" is also trained (2 steps) by test_train_saves_a_loadable_google_model.
@pytest.mark.parametrize("objective", ["in_batch", pytest.param("simcse", marks=pytest.mark.slow), pytest.param("hardest", marks=pytest.mark.slow)])
def test_training_lowers_the_loss(tiny_config, tokenizer, objective):
  tf.keras.utils.set_random_seed(0)
  model = retrieval.DualEncoder(tiny_config)
  losses = dual_encoder.train_dual_encoder(model, tokenizer, PAIRS, objective=objective, epochs=12, batch_size=4,
                                           learning_rate=3e-3, max_seq_length=16, rng=random.Random(1), log_every=0)
  assert len(losses) == (48 if objective == "simcse" else 24) and all(np.isfinite(losses))  # simcse: every text
  assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses


def test_simcse_views_differ_only_by_dropout(tiny_config, tokenizer):
  model = retrieval.DualEncoder(tiny_config.copy(hidden_dropout_prob=0.3))
  batch = features.texts_to_batch(tokenizer, ["医疗保险", "养老"], 8)
  assert not np.allclose(model(batch, training=True), model(batch, training=True))
  np.testing.assert_allclose(model(batch), model(batch))


def test_trained_encoder_round_trips_through_google_checkpoint(tiny_config, tokenizer, tmp_path):
  model = retrieval.DualEncoder(tiny_config)
  batch = features.texts_to_batch(tokenizer, [q for q, _ in PAIRS], 16)
  prefix = checkpoints.save_google_checkpoint(model.encoder, str(tmp_path / "m" / "bert_model.ckpt"))
  reloaded = modeling.BertModel(tiny_config)
  checkpoints.load_checkpoint(reloaded, prefix)
  encoder = embeddings.SentenceEncoder(reloaded, tokenizer, max_seq_length=16, pooling_layer=-1, normalize=True)
  np.testing.assert_allclose(encoder.encode([q for q, _ in PAIRS]), model(batch).numpy(), atol=1e-5)


def test_faiss_and_numpy_fallback_agree(monkeypatch):
  rng = np.random.default_rng(0)
  vectors = rng.normal(size=[300, 8]).astype(np.float32)
  queries = rng.normal(size=[20, 8]).astype(np.float32)
  flat_scores, flat_ids = retrieval.FaissIndex(vectors).search(queries, 5)
  monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
  exact = retrieval.FaissIndex(vectors, kind="hnsw")
  assert exact.faiss_index is None
  scores, ids = exact.search(queries, 5)
  np.testing.assert_array_equal(ids, flat_ids)
  np.testing.assert_allclose(scores, flat_scores, rtol=1e-5)
  np.testing.assert_allclose(scores, np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :5], rtol=1e-5)


def test_hnsw_index_finds_near_duplicates(tmp_path):
  pytest.importorskip("faiss")
  rng = np.random.default_rng(1)
  vectors = rng.normal(size=[500, 16]).astype(np.float32)
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # inner product = cosine
  index = retrieval.FaissIndex(vectors, payloads=["doc%d" % i for i in range(500)], kind="hnsw")
  _, ids = index.search(vectors[:50] + 0.01, 1)
  assert (ids[:, 0] == np.arange(50)).mean() >= 0.98
  index.save(str(tmp_path / "idx"), meta={"model": "x"})
  loaded, meta = retrieval.FaissIndex.load(str(tmp_path / "idx"))
  assert meta["model"] == "x" and loaded.kind == "hnsw" and loaded.payloads[3] == "doc3"


def test_recall_at_k_hand_worked():
  assert retrieval.recall_at_k([[3, 1], [0, 2]], [1, 5], ks=(1, 2)) == {1: 0.0, 2: 0.5}
  assert retrieval.recall_at_k([[1, 3], [5, 2]], [1, 5], ks=(1,)) == {1: 1.0}


def test_bm25_ranks_lexical_match_first():
  docs = ["医疗保险缴纳办理", "养老保险查询", "住房公积金查询"]
  bm25 = retrieval.BM25([retrieval.char_ngrams(d) for d in docs])
  assert bm25.search([retrieval.char_ngrams("医疗保险怎么缴纳"), retrieval.char_ngrams("公积金")], k=3)[:, 0].tolist() == [0, 2]
  assert retrieval.char_ngrams("医疗 保险") == ["医", "疗", "保", "险", "医疗", "疗保", "保险"]


def test_build_index_and_search_scripts_faq(model_dir, pairs_file, tmp_path):
  """FAQ mode: known questions in, the nearest known question (with its answer) out."""
  prefix, faq = os.path.join(model_dir, "bert_model.ckpt"), pairs_file
  run = lambda *args: subprocess.run([sys.executable] + list(args), capture_output=True, text=True, cwd=ROOT,
                                     timeout=120, input="医疗保险怎么缴纳\n\n")
  built = run(os.path.join(ROOT, "scripts", "build_index.py"), "--model=" + prefix, "--input_file=%s" % faq,
              "--output_dir=%s" % (tmp_path / "idx"), "--max_seq_length=16", "--pooling_layer=-1")
  assert built.returncode == 0, built.stderr[-2000:]
  found = run(os.path.join(ROOT, "scripts", "search.py"), "--index_dir=%s" % (tmp_path / "idx"), "--top_k=3")
  assert found.returncode == 0, found.stderr[-2000:]
  lines = [line for line in found.stdout.splitlines() if line.startswith("  1.")]
  assert lines and "医疗保险怎么缴纳" in lines[0] and "医疗保险缴纳办理" in lines[0], found.stdout


def test_train_saves_a_loadable_google_model(model_dir, pairs_file, tmp_path):
  losses = dual_encoder.run_train_dual_encoder(model_dir, pairs_file, str(tmp_path / "out"), "hardest",
                                               epochs=1, batch_size=4, max_seq_length=16, log_every=0)
  assert len(losses) == 2
  # Beside the Google-format model: the training checkpoints and TensorBoard train/ (training.train's).
  assert {"bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index",
          "vocab.txt"} <= set(os.listdir(tmp_path / "out"))
  # The loss the script reports is the one of the last log line and of TensorBoard's last point.
  [events] = os.listdir(tmp_path / "out" / "train")
  logged = [tf.make_ndarray(v.tensor) for e in tf.compat.v1.train.summary_iterator(
      str(tmp_path / "out" / "train" / events)) for v in e.summary.value if v.tag == "loss"]
  assert logged and np.isclose(logged[-1], dual_encoder.final_logged_loss(losses, 0))
  encoder = embeddings.SentenceEncoder.from_pretrained(str(tmp_path / "out"), max_seq_length=16, pooling_layer=-1,
                                                       normalize=True)
  recall = retrieval.evaluate_recall(encoder, [q for q, _ in PAIRS], [p for _, p in PAIRS], list(range(8)), ks=(1, 8))
  assert recall[8] == 1.0 and 0.0 <= recall[1] <= 1.0


@pytest.mark.slow
def test_evaluate_recall_script(model_dir, pairs_file):
  result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "evaluate_recall.py"),
                           "--model=%s" % model_dir, "--pairs_file=%s" % pairs_file, "--max_seq_length=16"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "8 queries, 8 passages" in result.stdout and "Recall@50 1.0000" in result.stdout


def test_training_file_error_names_file_and_line(tmp_path):
  path = tmp_path / "pairs.tsv"
  path.write_text("a\tb\nno tab here\n")
  with pytest.raises(ValueError, match=r"pairs.tsv: line 2: expected query<TAB>passage"):
    dual_encoder.read_training_file(str(path), "in_batch")
  assert dual_encoder.read_training_file(str(path), "simcse") == ["a", "b", "no tab here"]


def test_final_logged_loss_is_the_last_log_windows_mean():
  assert dual_encoder.final_logged_loss([4.0, 3.0, 2.0, 1.0, 0.5], 2) == 0.5  # lines at steps 2, 4, 5
  assert dual_encoder.final_logged_loss([4.0, 3.0, 2.0, 1.0], 2) == 1.5
  assert dual_encoder.final_logged_loss([4.0, 3.0, 2.0, 1.0], 0) == 2.5  # one line, at the end


@pytest.mark.slow  # ~6 s; ELECTRA's job runs under MirroredStrategy + mixed_bfloat16 by default
def test_job_trains_under_mirrored_strategy_with_mixed_bfloat16(model_dir, pairs_file, tmp_path):
  from bert_tf2.core import distribute  # pylint: disable=g-import-not-at-top
  try:
    losses = dual_encoder.run_train_dual_encoder(
        model_dir, pairs_file, str(tmp_path / "out"), "in_batch", epochs=1, batch_size=4, max_seq_length=16,
        log_every=0, strategy=tf.distribute.MirroredStrategy(["/cpu:0"]), mixed_precision="mixed_bfloat16", seed=1)
  finally:
    distribute.set_mixed_precision("none")
  assert len(losses) == 2 and all(np.isfinite(losses))
  assert tf.train.latest_checkpoint(str(tmp_path / "out")).endswith("model.ckpt-2")
  assert os.path.exists(str(tmp_path / "out" / "bert_model.ckpt.index"))
