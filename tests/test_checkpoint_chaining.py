"""Checkpoints chain between jobs: any checkpoint one job writes seeds another job's model.

Matching is by variable path: the encoder always, a head only when both models have it (the
masked-LM head's `output_bias` [V] is never the classifier's `output_bias` [L]). Training writes
TF1 Estimator's names (`model.ckpt-N` + a `checkpoint` state file; resuming from them is tested in
test_run_pretraining.py and test_run_classifier.py).
"""

import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints
from bert_tf2.retrieval import model as retrieval
from bert_tf2.core import training
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.modeling import BertModel
from bert_tf2.tasks.pretraining.model import BertPretrainer


def _randomize(model, seed):
  rng = np.random.default_rng(seed)
  for variable in model.weights:
    variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(np.float32))
  return model


def _save_as_training_does(model, directory, step=20):
  """What `training.train` writes: tf.train.Checkpoint(model=...) as `model.ckpt-<step>`."""
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(directory), max_to_keep=1,
                                       checkpoint_name=training.CHECKPOINT_NAME)
  return manager.save(checkpoint_number=step)


def _values(variables):
  return [v.numpy().copy() for v in variables]


def _assert_same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)


def test_pretraining_checkpoint_seeds_a_classifier_encoder_but_not_its_head(tmp_path, tiny_config):
  pretrainer = _randomize(BertPretrainer(tiny_config), seed=1)
  path = _save_as_training_does(pretrainer, tmp_path)
  assert path == str(tmp_path / "model.ckpt-20")
  clf = BertClassifier(tiny_config, num_labels=2)
  head = _values([clf.output_weights, clf.output_bias])
  status = checkpoints.load_checkpoint(clf, path)
  _assert_same(_values(clf.encoder.weights), _values(pretrainer.encoder.weights))
  _assert_same(_values([clf.output_weights, clf.output_bias]), head)  # not the masked-LM output_bias
  assert status.missing == ["output_weights", "output_bias"]
  assert any("masked_lm/output_bias" in name for name in status.unused)


def test_classifier_checkpoint_seeds_a_pretrainer_and_a_bare_encoder(tmp_path, tiny_config):
  clf = _randomize(BertClassifier(tiny_config, num_labels=2), seed=2)
  path = _save_as_training_does(clf, tmp_path, step=3)
  pretrainer = BertPretrainer(tiny_config)
  heads = _values(pretrainer.masked_lm.weights + pretrainer.next_sentence.weights)
  status = checkpoints.load_checkpoint(pretrainer, path)
  _assert_same(_values(pretrainer.encoder.weights), _values(clf.encoder.weights))
  masked_lm_heads = [v for v in pretrainer.masked_lm.weights if "word_embeddings" not in v.path]
  _assert_same(_values(masked_lm_heads + pretrainer.next_sentence.weights),
               [h for h, v in zip(heads, pretrainer.masked_lm.weights + pretrainer.next_sentence.weights)
                if "word_embeddings" not in v.path])
  assert all(name.startswith("cls/") for name in status.missing) and len(status.missing) == 7
  encoder = BertModel(tiny_config)
  checkpoints.load_checkpoint(encoder, str(tmp_path))  # the output directory: its newest checkpoint
  _assert_same(_values(encoder.weights), _values(clf.encoder.weights))


def test_same_task_checkpoint_restores_every_weight(tmp_path, tiny_config):
  for model_class, kwargs in ((BertClassifier, {"num_labels": 3}), (BertPretrainer, {})):
    source = _randomize(model_class(tiny_config, **kwargs), seed=3)
    path = _save_as_training_does(source, tmp_path / model_class.__name__)
    target = model_class(tiny_config, **kwargs)
    status = checkpoints.load_checkpoint(target, path)
    assert status.missing == [] and status.unused == []
    _assert_same(_values(target.weights), _values(source.weights))


def test_head_of_another_label_count_is_left_initialized(tmp_path, tiny_config):
  mnli = _randomize(BertClassifier(tiny_config, num_labels=3), seed=4)
  ours = _save_as_training_does(mnli, tmp_path / "ours")
  google = checkpoints.save_google_checkpoint(mnli, str(tmp_path / "google" / "model.ckpt"))
  for path in (ours, google):
    mrpc = BertClassifier(tiny_config, num_labels=2)
    head = _values([mrpc.output_weights, mrpc.output_bias])
    status = checkpoints.load_checkpoint(mrpc, path)
    assert status.missing == ["output_weights", "output_bias"]
    _assert_same(_values([mrpc.output_weights, mrpc.output_bias]), head)
    _assert_same(_values(mrpc.encoder.weights), _values(mnli.encoder.weights))


def test_encoder_shape_mismatch_still_names_the_variable(tmp_path, tiny_config):
  path = _save_as_training_does(BertClassifier(tiny_config, num_labels=2), tmp_path)
  bigger = BertClassifier(dict(tiny_config.to_dict(), vocab_size=tiny_config.vocab_size + 1), num_labels=2)
  with pytest.raises(ValueError, match=r"model.ckpt-20: variable encoder/embeddings/word_embeddings/\S+ has "
                                       r"shape \(40, 16\) but the model expects \(41, 16\)"):
    checkpoints.load_checkpoint(bigger, path)


def test_dual_encoder_output_dir_seeds_a_classifier(tmp_path, tiny_config):
  dual = retrieval.DualEncoder(_randomize(BertModel(tiny_config), seed=5))
  checkpoints.save_google_checkpoint(dual.encoder, str(tmp_path / "bert_model.ckpt"))  # what it writes
  clf = BertClassifier(tiny_config, num_labels=2)
  status = checkpoints.load_checkpoint(clf, str(tmp_path))
  assert status.missing == ["output_weights", "output_bias"]
  _assert_same(_values(clf.encoder.weights), _values(dual.encoder.weights))


def test_resolve_checkpoint_takes_what_users_pass(tmp_path, tiny_config):
  model = BertModel(tiny_config)
  ours = _save_as_training_does(model, tmp_path / "out", step=7)
  google = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "bert_model.ckpt"))
  old = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path / "old"), 1).save(2)
  assert old.endswith("ckpt-2")  # what training wrote before it took TF1's names
  resolve = checkpoints.resolve_checkpoint
  assert resolve(ours) == resolve(ours + ".index") == resolve(str(tmp_path / "out")) == ("prefix", ours)
  assert resolve(str(tmp_path / "google")) == resolve(google) == ("prefix", google)
  assert resolve(str(tmp_path / "old" / "model.ckpt-2")) == ("prefix", old)
  with pytest.raises(ValueError, match=r"model.ckpt-9: no checkpoint at this prefix \(expected .*model.ckpt-9.index\)"):
    resolve(str(tmp_path / "out" / "model.ckpt-9"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(ValueError, match="empty: no checkpoint in this directory"):
    resolve(str(tmp_path / "empty"))
