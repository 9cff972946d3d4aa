"""The pretraining loop: resume (exact, and after SIGKILL), eval_results.txt, multi-worker sync."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, optimization
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.tasks.pretraining import data as pretraining_data
from bert_tf2.core import training
from bert_tf2.tasks.pretraining import job as pretraining_job
from bert_tf2.modeling import BertConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ, PREDS, VOCAB = 16, 3, 40
FEATURES = pretraining_data.feature_spec(SEQ, PREDS)


def write_records(path, num_examples=64, seq=SEQ, preds=PREDS, seed=0):
  """Writes create_pretraining_data-style records with a learnable pattern (id i predicts i)."""
  rng = np.random.default_rng(seed)
  with tf.io.TFRecordWriter(path) as writer:
    for _ in range(num_examples):
      n = int(rng.integers(seq // 2, seq + 1))
      ids = [2] + list(rng.integers(5, VOCAB, n - 2)) + [3] + [0] * (seq - n)
      positions = sorted(rng.choice(np.arange(1, n - 1), preds - 1, replace=False)) + [0]
      masked_ids = [ids[p] for p in positions[:-1]] + [0]
      for p in positions[:-1]:
        ids[p] = 4  # [MASK]
      ints = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(x) for x in v]))
      feature = {
          "input_ids": ints(ids), "input_mask": ints([1] * n + [0] * (seq - n)),
          "segment_ids": ints([0] * (n // 2) + [1] * (n - n // 2) + [0] * (seq - n)),
          "masked_lm_positions": ints(positions), "masked_lm_ids": ints(masked_ids),
          "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0] * (preds - 1) + [0.0])),
          "next_sentence_labels": ints([rng.integers(0, 2)]),
      }
      writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
  return path


def tiny_dataset(path, batch_size):
  """A deterministic repeating reader for the loop tests (the real one is bert_tf2.tasks.pretraining.data)."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return (tf.data.TFRecordDataset([path]).repeat().map(lambda r: tf.io.parse_single_example(r, FEATURES))
          .batch(batch_size, drop_remainder=True).with_options(options))


def _config():
  return BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=32, max_position_embeddings=64, type_vocab_size=2,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _train(output_dir, records, num_train_steps, strategy=None, seed=1):
  tf.keras.utils.set_random_seed(seed)
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    model = pretraining.BertPretrainer(_config())
    optimizer = optimization.create_optimizer(1e-3, num_train_steps, 1)
  result = training.train(model, optimizer, pretraining.pretraining_loss_fn, tiny_dataset(records, 4),
                          strategy, str(output_dir), num_train_steps, save_checkpoints_steps=2,
                          global_batch_size=4, metrics_fn=pretraining.training_metrics, log_steps=2,
                          steps_per_execution=2, max_checkpoints_to_keep=10)
  return model, optimizer, result


def test_resume_continues_exactly_where_the_checkpoint_left_off(tmp_path):
  records = write_records(str(tmp_path / "train.tfrecord"))
  full, full_opt, result = _train(tmp_path / "full", records, num_train_steps=6)
  assert result["global_step"] == 6 and result["resumed_from"] is None
  # A run "killed" after step 2: only model.ckpt-2 is in its output_dir.
  resumed_dir = tmp_path / "resumed"
  resumed_dir.mkdir()
  for name in os.listdir(tmp_path / "full"):
    if name.startswith("model.ckpt-2."):
      os.link(tmp_path / "full" / name, resumed_dir / name)
  with open(resumed_dir / "checkpoint", "w") as f:
    f.write('model_checkpoint_path: "model.ckpt-2"\n')
  resumed, resumed_opt, result = _train(resumed_dir, records, num_train_steps=6, seed=99)
  assert result["resumed_from"] == 2 and result["global_step"] == 6
  assert int(resumed_opt.iterations) == int(full_opt.iterations) == 6
  for a, b in zip(full.trainable_variables, resumed.trainable_variables):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6, err_msg=a.path)
  # Our checkpoints are what bert_tf2.checkpoints.load_checkpoint reads (here into a bare encoder).
  encoder = pretraining.BertPretrainer(_config()).encoder
  checkpoints.load_checkpoint(encoder, str(tmp_path / "full"))
  np.testing.assert_array_equal(encoder.pooler.kernel.numpy(), full.encoder.pooler.kernel.numpy())


def test_init_checkpoint_seeds_a_fresh_run_only(tmp_path):
  from tests import original_bert
  records = write_records(str(tmp_path / "train.tfrecord"))
  init = original_bert.make_google_checkpoint(_config().to_dict(), str(tmp_path / "google" / "bert_model.ckpt"))
  out = str(tmp_path / "out")
  kwargs = dict(max_seq_length=SEQ, max_predictions_per_seq=PREDS, train_batch_size=4, learning_rate=1e-3,
                num_train_steps=1, num_warmup_steps=1, save_checkpoints_steps=1, log_steps=1)
  # With warmup the first step has learning rate 0 (as the original): the export equals the init.
  pretraining_job.run_pretraining(_config(), [records], out, init_checkpoint=init, **kwargs)
  exported = checkpoints.google_checkpoint_arrays(os.path.join(out, "bert_model.ckpt"))
  original = checkpoints.google_checkpoint_arrays(init)
  assert set(exported) == set(original)
  for name, value in original.items():
    np.testing.assert_array_equal(exported[name], value, err_msg=name)
  # Run again with another init_checkpoint: the run resumes from ckpt-1, the init is ignored.
  other = original_bert.make_google_checkpoint(_config().to_dict(), str(tmp_path / "other" / "bert_model.ckpt"), seed=5)
  result = pretraining_job.run_pretraining(_config(), [records], out, init_checkpoint=other, **kwargs)
  assert result["train"]["resumed_from"] == 1
  again = checkpoints.google_checkpoint_arrays(os.path.join(out, "bert_model.ckpt"))
  np.testing.assert_array_equal(again["bert/pooler/dense/kernel"], original["bert/pooler/dense/kernel"])


def test_freeze_encoder_trains_only_embeddings_and_heads(tmp_path):
  from tests import original_bert
  records = write_records(str(tmp_path / "train.tfrecord"))
  init = original_bert.make_google_checkpoint(_config().to_dict(), str(tmp_path / "google" / "bert_model.ckpt"))
  out = str(tmp_path / "out")
  pretraining_job.run_pretraining(_config(), [records], out, init_checkpoint=init, max_seq_length=SEQ,
                                  max_predictions_per_seq=PREDS, train_batch_size=4, learning_rate=1e-2,
                                  num_train_steps=3, num_warmup_steps=0, save_checkpoints_steps=3,
                                  freeze_encoder=True)
  before = checkpoints.google_checkpoint_arrays(init)
  after = checkpoints.google_checkpoint_arrays(os.path.join(out, "bert_model.ckpt"))
  frozen = [n for n in before if n.startswith(("bert/encoder/", "bert/pooler/"))]
  trained = [n for n in before if n.startswith(("bert/embeddings/", "cls/"))]
  assert len(frozen) == 2 * 16 + 2 and len(trained) >= 8
  for name in frozen:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)
  assert all(not np.array_equal(after[name], before[name]) for name in trained
             if name != "bert/embeddings/token_type_embeddings" and "LayerNorm" not in name)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


_WORKER = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {root!r})
    import numpy as np, tensorflow as tf
    from tests import test_run_pretraining as t
    from bert_tf2.core import distribute
    strategy = distribute.get_strategy("multi_worker_mirrored")
    model, _, result = t._train({output_dir!r}, {records!r}, num_train_steps=4, strategy=strategy,
                                seed=int(os.environ["SEED"]))
    np.savez({weights!r}, *[v.numpy() for v in model.trainable_variables])
    print("RESULT", json.dumps(result))
""")


@pytest.mark.slow  # two worker processes (~10 s); suite time
def test_multi_worker_mirrored_workers_agree(tmp_path):
  records = write_records(str(tmp_path / "train.tfrecord"))
  ports = [_free_port(), _free_port()]
  cluster = {"worker": ["127.0.0.1:%d" % p for p in ports]}
  procs = []
  for i in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
               SEED=str(10 + i), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS="1")
    code = _WORKER.format(root=ROOT, output_dir=str(tmp_path / "out"), records=records,
                          weights=str(tmp_path / ("w%d.npz" % i)))
    procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=200)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
  assert len(w0.files) == len(w1.files) > 0
  for key in w0.files:
    np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
  # Different seeds -> different initial weights on the two workers; the strategy syncs them.
  assert (tmp_path / "out" / "checkpoint").exists()
  assert not (tmp_path / "out" / ".worker_1").exists()


def _script(output_dir, records, config_file, *extra):
  return [sys.executable, os.path.join(ROOT, "scripts", "run_pretraining.py"),
          "--bert_config_file=" + config_file, "--input_file=" + records, "--output_dir=" + output_dir,
          "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % PREDS, "--train_batch_size=4",
          "--eval_batch_size=4", "--learning_rate=1e-3", "--num_warmup_steps=10",
          "--save_checkpoints_steps=20", "--iterations_per_loop=10", "--log_steps=20", "--seed=1"] + list(extra)


@pytest.fixture
def script_setup(tmp_path):
  records = write_records(str(tmp_path / "train.tfrecord"))
  config_file = str(tmp_path / "bert_config.json")
  _config().to_json_file(config_file)
  env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
  return records, config_file, env


@pytest.mark.slow  # ~20 s; exact resume is pinned in the default run by test_resume_continues_exactly_where_...
def test_sigkilled_run_resumes_from_last_checkpoint_and_finishes(tmp_path, script_setup):
  records, config_file, env = script_setup
  out = str(tmp_path / "out")
  command = _script(out, records, config_file, "--do_train", "--do_eval", "--num_train_steps=100")
  proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None and not tf.train.latest_checkpoint(out):
    time.sleep(0.05)
  os.kill(proc.pid, signal.SIGKILL)
  assert proc.wait() == -signal.SIGKILL
  killed_at = int(tf.train.latest_checkpoint(out).rsplit("-", 1)[1])
  assert 0 < killed_at < 100
  assert not os.path.exists(os.path.join(out, "eval_results.txt"))

  resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "Resumed from %s at step %d" % (os.path.join(out, "model.ckpt-%d" % killed_at), killed_at) in resumed.stderr
  with open(os.path.join(out, "eval_results.txt")) as f:
    results = dict(line.strip().split(" = ") for line in f)
  assert sorted(results) == ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
                             "next_sentence_accuracy", "next_sentence_loss"]
  assert results["global_step"] == "100"
  assert tf.train.latest_checkpoint(out).endswith("model.ckpt-100")
  assert os.path.exists(os.path.join(out, "bert_model.ckpt.index"))
  assert os.path.exists(os.path.join(out, "bert_config.json"))
  assert os.path.isdir(os.path.join(out, "train")) and os.path.isdir(os.path.join(out, "eval"))


def test_record_length_mismatch_is_one_clear_line(tmp_path, script_setup):
  records, config_file, env = script_setup
  command = _script(str(tmp_path / "out"), records, config_file, "--do_train", "--num_train_steps=20")
  command = [c.replace("--max_seq_length=%d" % SEQ, "--max_seq_length=32") for c in command]
  result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert "%s: records have max_seq_length=%d" % (records, SEQ) in result.stderr
  assert len([line for line in result.stderr.splitlines() if "records have" in line]) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="needs a GPU")
def test_mirrored_mixed_float16_trains_on_gpus(tmp_path):
  from bert_tf2.core import distribute
  records = write_records(str(tmp_path / "train.tfrecord"))
  distribute.set_mixed_precision("mixed_float16")
  try:
    strategy = distribute.get_strategy("mirrored")
    with strategy.scope():
      model = pretraining.BertPretrainer(_config())
      optimizer = keras.optimizers.LossScaleOptimizer(optimization.create_optimizer(1e-3, 4, 1))
    result = training.train(model, optimizer, pretraining.pretraining_loss_fn, tiny_dataset(records, 8),
                            strategy, str(tmp_path / "out"), 4, save_checkpoints_steps=2, global_batch_size=8,
                            metrics_fn=pretraining.training_metrics, log_steps=2)
  finally:
    distribute.set_mixed_precision("none")
  assert result["global_step"] == 4 and np.isfinite(result["loss"])
