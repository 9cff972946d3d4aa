"""ELECTRA (bert_tf2/tasks/pretraining/electra.py): the generator's head, RTD labels, no gradient through sampling,
the discriminator out as BERT, and run_pretraining --objective=electra (train, resume, eval)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.tasks.pretraining import electra
from bert_tf2.tasks.pretraining import model as pretraining
from bert_tf2.modeling import BertConfig, BertModel
from tests.test_run_pretraining import PREDS, SEQ, VOCAB, write_records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=64, type_vocab_size=2,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
# Two sequences: [CLS] a [MASK] b [SEP] <pad> and [CLS] [MASK] c [MASK] [SEP] [SEP].
FEATURES = {"input_ids": np.array([[2, 7, 4, 9, 3, 0], [2, 4, 11, 4, 3, 3]], np.int32),
            "input_mask": np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], np.int32),
            "segment_ids": np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], np.int32),
            "masked_lm_positions": np.array([[2, 0], [1, 3]], np.int32),
            "masked_lm_ids": np.array([[8, 0], [12, 13]], np.int32),
            "masked_lm_weights": np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)}


def test_generator_head_equals_the_masked_lm_head_on_the_same_weights():
  keras.utils.set_random_seed(3)
  bert = pretraining.BertPretrainer(CONFIG)
  model = electra.ElectraPretrainer(CONFIG, generator=CONFIG)  # G == D: no projections
  assert model.generator_projection is None and isinstance(model.generator_lm, pretraining.MaskedLMHead)
  model.encoder.embeddings.set_weights(bert.encoder.embeddings.get_weights())
  for ours, theirs in zip(model.generator_layers, bert.encoder.encoder_layers):
    ours.set_weights(theirs.get_weights())
  model.generator_lm.set_weights(bert.masked_lm.get_weights())
  inputs = {k: FEATURES[k] for k in pretraining.MODEL_INPUTS}
  expected = bert(inputs, training=False)["masked_lm_logits"]
  np.testing.assert_allclose(model.generator_logits(inputs), expected, rtol=1e-5, atol=1e-5)


def test_small_generator_shares_the_embeddings_and_projects():
  model = electra.ElectraPretrainer(CONFIG, generator_hidden_size=8)
  assert model.generator_config.hidden_size == 8 and model.generator_config.num_hidden_layers == 2
  assert model.generator_projection.kernel.shape == (16, 8)
  assert model.generator_lm.word_embeddings is model.encoder.embeddings.word_embeddings
  assert len({id(v) for v in model.trainable_variables}) == len(model.trainable_variables)
  assert model.generator_logits(FEATURES).shape == (2, 2, VOCAB)


def test_rtd_labels_on_a_hand_worked_batch():
  # Generator samples: row 0 replaces position 2 (8 -> 5); its second prediction is padding (weight 0,
  # position 0: [CLS] must stay). Row 1 keeps position 1 by chance (12 -> 12) and replaces 3 (13 -> 6).
  sampled = tf.constant([[5, 17], [12, 6]])
  ids, positions, weights = FEATURES["input_ids"], FEATURES["masked_lm_positions"], FEATURES["masked_lm_weights"]
  corrupted = electra.replace_masked_tokens(ids, positions, sampled, weights)
  original = electra.replace_masked_tokens(ids, positions, FEATURES["masked_lm_ids"], weights)
  np.testing.assert_array_equal(corrupted, [[2, 7, 5, 9, 3, 0], [2, 12, 11, 6, 3, 3]])
  np.testing.assert_array_equal(original, [[2, 7, 8, 9, 3, 0], [2, 12, 11, 13, 3, 3]])
  labels, label_weights = electra.rtd_labels(corrupted, original, FEATURES["input_mask"])
  np.testing.assert_array_equal(labels, [[0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0]])
  np.testing.assert_array_equal(label_weights, FEATURES["input_mask"])  # padding excluded
  # The loss averages over the 11 real tokens only: logits 0 everywhere -> log 2, whatever the padding holds.
  logits = tf.constant([[0.0] * 5 + [99.0], [0.0] * 6])
  loss, _ = electra.rtd_loss(logits, labels, label_weights)
  np.testing.assert_allclose(loss, np.log(2.0) * 11 / (11 + 1e-5), rtol=1e-6)


def test_no_gradient_flows_through_sampling():
  keras.utils.set_random_seed(4)
  model = electra.ElectraPretrainer(CONFIG, generator_hidden_size=8)
  generator_vars = [v for part in model.generator_layers + [model.generator_projection,
                                                            model.generator_output_projection, model.generator_lm]
                    for v in part.trainable_variables if v is not model.encoder.embeddings.word_embeddings.embeddings]
  with tf.GradientTape(persistent=True) as tape:
    outputs = model(FEATURES, training=True)
    rtd, _ = electra.rtd_loss(outputs["rtd_logits"], outputs["rtd_labels"], outputs["rtd_weights"])
    losses = electra.electra_losses(outputs, FEATURES)
  assert all(g is None for g in tape.gradient(rtd, generator_vars))  # RTD reaches no generator weight
  assert all(g is not None for g in tape.gradient(losses["masked_lm_loss"], generator_vars))
  logits = tf.Variable(tf.zeros([1, 2, VOCAB]))
  with tf.GradientTape() as tape:
    sample = tf.cast(electra.sample_tokens(logits), tf.float32)
  assert tape.gradient(sample, logits) is None


def test_sampling_follows_the_generator_softmax():
  tf.random.set_seed(5)
  logits = tf.math.log(tf.constant([[[1.0, 3.0, 1e-9]]] * 4000))  # (4000, 1, 3): p = 1/4, 3/4, 0
  sample = electra.sample_tokens(logits).numpy().ravel()
  assert abs(np.mean(sample == 1) - 0.75) < 0.03 and not np.any(sample == 2)


def test_histogram_auc_golden():
  assert electra.histogram_auc([0, 1], [1, 0]) == 1.0
  assert electra.histogram_auc([1, 0], [1, 0]) == 0.5
  assert electra.histogram_auc([1, 1], [1, 1]) == 0.5
  # 2 positives in bucket 1: above the 2 negatives of bucket 0, tied with 2 -> 2 * (2 + 1) = 6 pairs;
  # 2 positives in bucket 2: above all 4 negatives -> 8; of 4 * 4 = 16 pairs.
  assert electra.histogram_auc([0, 2, 2], [2, 2, 0]) == 14 / 16


def test_exported_discriminator_loads_into_bert_model(tmp_path):
  keras.utils.set_random_seed(6)
  model = electra.ElectraPretrainer(CONFIG, generator_hidden_size=8)
  prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "bert_model.ckpt"))
  names = sorted(checkpoints.google_checkpoint_arrays(prefix))
  assert all(n.startswith("bert/") for n in names) and not any("generator" in n for n in names)
  bert = BertModel(BertConfig.from_json_file(str(tmp_path / "bert_config.json")))
  status = checkpoints.load_checkpoint(bert, prefix)
  assert not status.missing and not status.unused
  inputs = {k: FEATURES[k] for k in ("input_ids", "input_mask", "segment_ids")}
  ours, theirs = model.encoder(inputs, training=False), bert(inputs, training=False)
  for key in ("sequence_output", "pooled_output"):
    np.testing.assert_array_equal(ours[key], theirs[key])


def test_keras_file_round_trip(tmp_path):
  model = electra.ElectraPretrainer(CONFIG, generator_hidden_size=8)
  model.save(str(tmp_path / "m.keras"))
  restored = keras.models.load_model(str(tmp_path / "m.keras"))
  assert type(restored) is electra.ElectraPretrainer and restored.get_config() == model.get_config()
  np.testing.assert_array_equal(restored.generator_logits(FEATURES), model.generator_logits(FEATURES))


@pytest.mark.slow  # a pretraining subprocess (~25 s); the job itself runs in-process above
def test_run_pretraining_electra_trains_resumes_and_exports(tmp_path):
  records = write_records(str(tmp_path / "train.tfrecord"))
  config_file = str(tmp_path / "bert_config.json")
  CONFIG.to_json_file(config_file)
  out = str(tmp_path / "out")
  env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")

  def run(steps):
    command = [sys.executable, os.path.join(ROOT, "scripts", "run_pretraining.py"), "--objective=electra",
               "--generator_hidden_size=8", "--rtd_weight=50", "--bert_config_file=" + config_file,
               "--input_file=" + records, "--output_dir=" + out, "--max_seq_length=%d" % SEQ,
               "--max_predictions_per_seq=%d" % PREDS, "--train_batch_size=4", "--eval_batch_size=4",
               "--learning_rate=1e-3", "--num_warmup_steps=1", "--num_train_steps=%d" % steps,
               "--save_checkpoints_steps=2", "--iterations_per_loop=2", "--log_steps=2", "--max_eval_steps=2",
               "--seed=1", "--do_train", "--do_eval"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result

  run(2)
  resumed = run(4)
  assert "Resumed from %s at step 2" % os.path.join(out, "model.ckpt-2") in resumed.stderr
  assert "rtd_auc" in resumed.stderr and "masked_lm_accuracy" in resumed.stderr  # the training log
  with open(os.path.join(out, "eval_results.txt")) as f:
    results = dict(line.strip().split(" = ") for line in f)
  assert results["global_step"] == "4"
  assert {"masked_lm_accuracy", "rtd_accuracy", "rtd_auc", "replaced_accuracy", "rtd_loss"} <= set(results)
  assert 0.0 < float(results["replaced_fraction"]) < 1.0
  bert = BertModel(BertConfig.from_json_file(os.path.join(out, "bert_config.json")))
  status = checkpoints.load_checkpoint(bert, os.path.join(out, "bert_model.ckpt"))
  assert not status.missing and not status.unused


def test_job_trains_electra_under_mirrored_strategy_with_mixed_bfloat16(tmp_path):
  from bert_tf2.core import distribute
  from bert_tf2.tasks.pretraining import job as pretraining_job
  records = write_records(str(tmp_path / "train.tfrecord"))
  try:
    result = pretraining_job.run_pretraining(
        CONFIG, [records], str(tmp_path / "out"), max_seq_length=SEQ, max_predictions_per_seq=PREDS,
        train_batch_size=4, num_train_steps=2, num_warmup_steps=1, save_checkpoints_steps=2, log_steps=2,
        strategy=tf.distribute.MirroredStrategy(["/cpu:0"]), mixed_precision="mixed_bfloat16",
        objective="electra", generator_config=electra.generator_config(CONFIG, 8), seed=1)
  finally:
    distribute.set_mixed_precision("none")
  assert result["train"]["global_step"] == 2 and np.isfinite(result["train"]["loss"])
  assert 0.0 <= result["train"]["rtd_auc"] <= 1.0
  assert os.path.exists(str(tmp_path / "out" / "bert_model.ckpt.index"))
