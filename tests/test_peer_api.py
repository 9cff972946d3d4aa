"""The original's public API in bert_tf2: every name, and the added functions' behaviour.

The original modules (`bert-tensorflow==1.0.4`'s tokenization, modeling, optimization,
run_classifier) are read as source with `ast`: each public function, class and public method
must import from the bert_tf2 module of the same name with the original's leading arguments, or
be listed in README.md's table "The original's API in bert_tf2". The behaviour checks run the
original through tests/original_bert.py on small inputs.
"""

import ast
import importlib
import importlib.util
import inspect
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf2 import checkpoints, modeling, modeling_ops, run_classifier, tokenization
from bert_tf2.core import features
from bert_tf2.tasks.classification import processors
from bert_tf2.tasks.pretraining.model import BertPretrainer
from tests import original_bert

V1 = tf.compat.v1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGINAL_DIR = os.path.dirname(importlib.util.find_spec("bert").origin)
MODULES = ("tokenization", "modeling", "optimization", "run_classifier")
README_SECTION = "## The original's API in bert_tf2"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]", "un", "##want", "##ed",
         "runn", "##ing", ",", "the", "cat", "sat", "hello", "world", "."]


def _arguments(node):
  """Positional argument names of a FunctionDef, without `self` or `cls`."""
  names = [a.arg for a in node.args.args]
  return names[1:] if names and names[0] in ("self", "cls") else names


def original_public_api():
  """{"module.Name" or "module.Class.method": [argument names]} of the original's public API."""
  api = {}
  for module in MODULES:
    with open(os.path.join(ORIGINAL_DIR, module + ".py"), encoding="utf-8") as f:
      tree = ast.parse(f.read())
    for node in tree.body:
      if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
        api["%s.%s" % (module, node.name)] = _arguments(node)
      elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
        methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
        api["%s.%s" % (module, node.name)] = _arguments(methods["__init__"]) if "__init__" in methods else []
        for name, method in methods.items():
          if not name.startswith("_"):
            api["%s.%s.%s" % (module, node.name, name)] = _arguments(method)
  return api


def readme_replacements():
  """Names in the first column of README.md's table of the original's API (a bare name takes the
  prefix of the dotted one before it: "`modeling.BertModel.get_pooled_output`, `get_sequence_output`")."""
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    text = f.read()
  assert README_SECTION in text
  section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
  names = set()
  for line in section.splitlines():
    if not line.startswith("| `"):
      continue
    for item in re.findall(r"`([^`]+)`", line.split("|")[1]):
      item = re.sub(r"\(.*", "", item)  # "create_optimizer(loss, ...)" -> "create_optimizer"
      if "." in item:
        prefix = item.rsplit(".", 1)[0]
        names.add(item)
      else:
        names.add(prefix + "." + item)
  return names


def _ours(qualified_name):
  """The bert_tf2 object for "module.Name[.method]", or None."""
  module, *path = qualified_name.split(".")
  value = importlib.import_module("bert_tf2." + module)
  for part in path:
    value = getattr(value, part, None)
    if value is None:
      return None
  return value


def _leading_arguments(value):
  """Positional parameter names of a function, class or method (without `self`)."""
  parameters = inspect.signature(value).parameters.values()
  names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  return names[1:] if names and names[0] == "self" else names


def test_every_public_name_of_the_original_is_importable_or_listed_in_readme():
  api = original_public_api()
  listed = readme_replacements()
  assert len(api) > 60  # the parse found the modules' contents
  missing = []
  for name, arguments in sorted(api.items()):
    if name in listed:
      continue
    ours = _ours(name)
    if ours is None:
      missing.append(name + " (not importable)")
    elif callable(ours) and _leading_arguments(ours)[:len(arguments)] != arguments:
      missing.append("%s (arguments %s, the original's %s)" % (name, _leading_arguments(ours), arguments))
  assert not missing, "neither importable as the original's nor in README.md's table: " + "; ".join(missing)


def test_readme_table_lists_only_names_of_the_original():
  stale = readme_replacements() - set(original_public_api())
  assert not stale, "README.md lists names the original does not have: %s" % sorted(stale)


def test_run_classifier_names_are_the_one_home_of_each_concept():
  """Re-exports, not copies: one InputExample, one convert_single_example, one DataProcessor."""
  for name in ("InputExample", "InputFeatures", "convert_single_example", "convert_examples_to_features"):
    assert getattr(run_classifier, name) is getattr(features, name), name
  for name in ("DataProcessor", "ColaProcessor", "MnliProcessor", "MrpcProcessor", "XnliProcessor"):
    assert getattr(run_classifier, name) is getattr(processors, name), name
  assert modeling.get_shape_list is modeling_ops.get_shape_list


# --- tokenization ---


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  path.write_text("".join(token + "\n" for token in VOCAB), encoding="utf-8")
  return str(path)


def test_token_and_id_conversions_match_original(vocab_file):
  theirs = original_bert.load("tokenization")
  vocab = tokenization.load_vocab(vocab_file)
  inv_vocab = {i: t for t, i in vocab.items()}
  tokens = ["un", "##want", "##ed", ",", "runn", "##ing", "[UNK]"]
  ids = tokenization.convert_tokens_to_ids(vocab, tokens)
  assert ids == theirs.convert_tokens_to_ids(theirs.load_vocab(vocab_file), tokens) == [7, 8, 9, 12, 10, 11, 1]
  assert tokenization.convert_ids_to_tokens(inv_vocab, ids) == theirs.convert_ids_to_tokens(inv_vocab, ids) == tokens
  with pytest.raises(KeyError):
    tokenization.convert_tokens_to_ids(vocab, ["nope"])


@pytest.mark.parametrize("init_checkpoint", [
    "/models/uncased_L-12_H-768_A-12/bert_model.ckpt", "gs://b/cased_L-24_H-1024_A-16/bert_model.ckpt",
    "chinese_L-12_H-768_A-12/bert_model.ckpt-1000", "x/multi_cased_L-12_H-768_A-12/bert_model.ckpt",
    "x/my.multilingual_L-12_H-768_A-12/bert_model.ckpt", "runs/pretrain_zh/bert_model.ckpt",
    "uncased_L-12_H-768_A-12/model.ckpt", "", None])
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_validate_case_matches_checkpoint_raises_as_original(init_checkpoint, do_lower_case):
  theirs = original_bert.load("tokenization")

  def raises(fn):
    try:
      fn(do_lower_case, init_checkpoint)
    except ValueError as e:
      return str(e)
    return None

  ours, original = raises(tokenization.validate_case_matches_checkpoint), raises(theirs.validate_case_matches_checkpoint)
  assert (ours is None) == (original is None), (ours, original)
  if ours is not None:
    assert init_checkpoint in ours and "do_lower_case=%s" % (not do_lower_case) in ours


def test_text_helpers_match_original():
  theirs = original_bert.load("tokenization")
  for text in ["héllo wörld", b"h\xc3\xa9llo", b"bad \xff byte", "", "中文"]:
    assert tokenization.convert_to_unicode(text) == theirs.convert_to_unicode(text)
    assert tokenization.printable_text(text) == theirs.printable_text(text)
  for text in ["  a\tb\n c  ", "", "   ", "one", "a\u3000b"]:
    assert tokenization.whitespace_tokenize(text) == theirs.whitespace_tokenize(text)
  with pytest.raises(ValueError):
    tokenization.convert_to_unicode(3)


def test_preserve_unused_tokens_matches_original_flag(vocab_file):
  theirs = original_bert.load("tokenization")
  texts = ["[unused1] the cat", "x[unused0]y sat", "[UNUSED1] hello", "[unused7] world.", "[unused0][unused1]"]
  defaults = [tokenization.FullTokenizer(vocab_file).tokenize(t) for t in texts]
  assert defaults == [theirs.FullTokenizer(vocab_file).tokenize(t) for t in texts]  # the flag's default: off
  theirs.FLAGS.preserve_unused_tokens = True
  try:
    for do_lower_case in (True, False):
      ours = tokenization.FullTokenizer(vocab_file, do_lower_case, preserve_unused_tokens=True)
      original = theirs.FullTokenizer(vocab_file, do_lower_case)
      basic_vocab = tokenization.load_vocab(vocab_file)
      for text in texts:
        assert ours.tokenize(text) == original.tokenize(text), text
        assert (tokenization.BasicTokenizer(do_lower_case, basic_vocab, preserve_unused_tokens=True).tokenize(text)
                == theirs.BasicTokenizer(do_lower_case, basic_vocab).tokenize(text)), text
      for token in ("[unused1]", "[unused7]", "[UNUSED1]", "unused1", "[unused1]x"):
        assert tokenization.preserve_token(token, basic_vocab) == theirs.preserve_token(token, basic_vocab), token
  finally:
    theirs.FLAGS.preserve_unused_tokens = False
  assert ours.tokenize("[unused1] the cat") == ["[unused1]", "the", "cat"]
  assert defaults[0] == ["[UNK]", "[UNK]", "[UNK]", "the", "cat"]  # "[", "unused", "##1", "]" unknown pieces


# --- modeling ---


def test_bert_config_methods_match_original(tmp_path):
  theirs = original_bert.load("modeling")
  path = os.path.join(ROOT, "configs", "bert_tiny_L-2_H-128_A-2.json")
  ours, original = modeling.BertConfig.from_json_file(path), theirs.BertConfig.from_json_file(path)
  extra = {"layer_norm_eps": 1e-12}  # ours only: Google's code fixes it
  assert ours.to_dict() == dict(original.to_dict(), **extra)
  assert modeling.BertConfig.from_dict(original.to_dict()).to_dict() == ours.to_dict()
  import json
  assert json.loads(ours.to_json_string()) == dict(json.loads(original.to_json_string()), **extra)
  assert ours.to_json_string().endswith("}\n") and original.to_json_string().endswith("}\n")
  written = tmp_path / "config.json"
  written.write_text(ours.to_json_string(), encoding="utf-8")
  assert modeling.BertConfig.from_json_file(str(written)) == ours


def _run_original(build):
  """Evaluates `build(theirs)` (the original modeling module -> tensors) in a TF1 session."""
  theirs = original_bert.load("modeling")
  with original_bert.tf1_graph():
    fetches = build(theirs)
    with V1.Session() as session:
      session.run(V1.global_variables_initializer())
      return session.run(fetches)


def test_tensor_helpers_match_original():
  rng = np.random.default_rng(0)
  x = rng.normal(0, 2, size=(2, 3, 8)).astype(np.float32)
  to_mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.int32)
  theirs = _run_original(lambda m: {
      "mask": m.create_attention_mask_from_input_mask(tf.constant(x), tf.constant(to_mask)),
      "matrix": m.reshape_to_matrix(tf.constant(x)),
      "back": m.reshape_from_matrix(m.reshape_to_matrix(tf.constant(x))[:, :5], [2, 3, 8]),
      "gelu": m.gelu(tf.constant(x)),
      "layer_norm": m.layer_norm(tf.constant(x)),
      "relu": m.get_activation("ReLU")(tf.constant(x)),
      "tanh": m.get_activation("tanh")(tf.constant(x)),
      "dropout": m.layer_norm_and_dropout(tf.constant(x), 0.0, name="ln2"),
  })
  ours = {
      "mask": modeling.create_attention_mask_from_input_mask(x, to_mask),
      "matrix": modeling.reshape_to_matrix(tf.constant(x)),
      "back": modeling.reshape_from_matrix(modeling.reshape_to_matrix(tf.constant(x))[:, :5], [2, 3, 8]),
      "gelu": modeling.gelu(x),
      "layer_norm": modeling.layer_norm(tf.constant(x)),
      "relu": modeling.get_activation("ReLU")(x),
      "tanh": modeling.get_activation("tanh")(x),
      "dropout": modeling.layer_norm_and_dropout(tf.constant(x), 0.0, name="ln2"),
  }
  for name in ("mask", "matrix", "back"):
    np.testing.assert_array_equal(np.asarray(ours[name]), theirs[name], err_msg=name)
  for name in ("gelu", "layer_norm", "relu", "tanh", "dropout"):
    np.testing.assert_allclose(np.asarray(ours[name]), theirs[name], rtol=1e-6, atol=1e-6, err_msg=name)
  assert theirs["mask"].shape == (2, 3, 4) and theirs["back"].shape == (2, 3, 5)


def test_get_activation_names_match_original():
  theirs = original_bert.load("modeling")
  for name in ("linear", "", None, "LINEAR"):
    assert modeling.get_activation(name) is None and theirs.get_activation(name) is None
  assert modeling.get_activation(tf.nn.relu) is tf.nn.relu
  with pytest.raises(ValueError):
    modeling.get_activation("nope")
  with pytest.raises(ValueError):
    theirs.get_activation("nope")


def test_shape_helpers_give_static_ints_and_dynamic_tensors():
  x = tf.zeros([2, 3, 4])
  assert modeling.get_shape_list(x, expected_rank=3) == [2, 3, 4]

  @tf.function(input_signature=[tf.TensorSpec([None, 3, None], tf.float32)])
  def shape(t):
    dims = modeling.get_shape_list(t, expected_rank=[2, 3])
    assert isinstance(dims[1], int) and tf.is_tensor(dims[0]) and tf.is_tensor(dims[2])
    return tf.stack(dims)

  np.testing.assert_array_equal(shape(x).numpy(), [2, 3, 4])
  with pytest.raises(ValueError, match="rank 3"):
    modeling.assert_rank(x, 2, name="x")
  with pytest.raises(ValueError, match="rank"):
    modeling.reshape_to_matrix(tf.zeros([3]))
  modeling.assert_rank(x, [2, 3])


def test_dropout_and_initializer_follow_the_original():
  x = tf.ones([200, 50])
  assert modeling.dropout(x, 0.0) is x and modeling.dropout(x, None) is x
  dropped = modeling.dropout(x, 0.5).numpy()
  assert set(np.unique(dropped)) == {0.0, 2.0} and 0.4 < (dropped == 0).mean() < 0.6
  values = modeling.create_initializer(0.02)([20000]).numpy()
  assert np.abs(values).max() <= 0.04 + 1e-6  # truncated at 2 standard deviations, as TF1's
  assert 0.015 < values.std() < 0.02


def test_get_assignment_map_from_checkpoint_matches_original_names(tmp_path):
  config = {"vocab_size": 30, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 32, "max_position_embeddings": 32, "type_vocab_size": 2}
  ckpt = original_bert.make_google_checkpoint(config, str(tmp_path / "bert_model.ckpt"))
  theirs_module = original_bert.load("modeling")
  with original_bert.tf1_graph():
    ids = np.zeros([1, 4], np.int32)
    original_bert._bert_model(config, ids, ids + 1, ids)
    theirs, theirs_initialized = theirs_module.get_assignment_map_from_checkpoint(V1.trainable_variables(), ckpt)
  encoder = modeling.BertModel(modeling.BertConfig.from_dict(config))
  ours, initialized = modeling.get_assignment_map_from_checkpoint(encoder, ckpt)
  assert list(ours) == list(theirs) and initialized == theirs_initialized
  assert len(ours) == len(encoder.weights)
  # A pretrainer also maps the heads; loading through the map equals load_checkpoint.
  pretrainer, reference = BertPretrainer(encoder.config), BertPretrainer(encoder.config)
  assignment_map, _ = modeling.get_assignment_map_from_checkpoint(pretrainer, ckpt)
  assert set(assignment_map) == {name for name, _ in tf.train.list_variables(ckpt)}
  for name, variable in assignment_map.items():
    variable.assign(tf.train.load_variable(ckpt, name))
  checkpoints.load_checkpoint(reference, ckpt)
  for a, b in zip(pretrainer.weights, reference.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


# --- run_classifier ---


def _examples(module):
  return [module.InputExample("train-0", "the cat sat", "hello world", label="1"),
          module.InputExample("train-1", "unwanted running , the cat sat . hello", label="0"),
          module.InputExample("train-2", "hello hello hello hello", "world world world world world", label="1")]


def _read_records(path):
  return [tf.train.Example.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]


def test_file_based_features_are_the_original_records(vocab_file, tmp_path):
  theirs = original_bert.load("run_classifier")
  original_tokenizer = original_bert.load("tokenization").FullTokenizer(vocab_file, do_lower_case=True)
  theirs.file_based_convert_examples_to_features(_examples(theirs), ["0", "1"], 8, original_tokenizer,
                                                 str(tmp_path / "theirs.tf_record"))
  count = run_classifier.file_based_convert_examples_to_features(
      _examples(run_classifier), ["0", "1"], 8, tokenization.FullTokenizer(vocab_file), str(tmp_path / "ours.tf_record"))
  ours, original = _read_records(tmp_path / "ours.tf_record"), _read_records(tmp_path / "theirs.tf_record")
  assert count == len(ours) == len(original) == 3
  assert ours == original
  assert sorted(os.listdir(tmp_path)) == ["ours.tf_record", "theirs.tf_record"]  # no temp file left


def test_file_based_dataset_reads_back_the_features(vocab_file, tmp_path):
  path = str(tmp_path / "train.tf_record")
  tokenizer = tokenization.FullTokenizer(vocab_file)
  examples = _examples(run_classifier)
  run_classifier.file_based_convert_examples_to_features(examples, ["0", "1"], 8, tokenizer, path)
  expected, labels = features.features_to_arrays(features.convert_examples_to_features(examples, ["0", "1"], 8, tokenizer))
  (batch,) = list(run_classifier.file_based_dataset(path, 8, batch_size=3, is_training=False))
  for name, value in expected.items():
    np.testing.assert_array_equal(batch[name].numpy(), value, err_msg=name)
    assert batch[name].dtype == tf.int32
  np.testing.assert_array_equal(batch["label_ids"].numpy(), labels)
  np.testing.assert_array_equal(batch["is_real_example"].numpy(), [1, 1, 1])
  training = run_classifier.file_based_dataset(path, 8, batch_size=2, is_training=True, seed=1)
  shapes = [tuple(b["input_ids"].shape) for b in training.take(5)]
  assert shapes == [(2, 8)] * 5  # repeated, full batches only


def test_file_based_multi_label_records_round_trip(vocab_file, tmp_path):
  path = str(tmp_path / "multi.tf_record")
  examples = [run_classifier.InputExample("a", "the cat", label=["x", "z"]),
              run_classifier.InputExample("b", "hello", label=["y"])]
  run_classifier.file_based_convert_examples_to_features(
      examples, ["x", "y", "z"], 6, tokenization.FullTokenizer(vocab_file), path, multi_label=True)
  (batch,) = list(run_classifier.file_based_dataset(path, 6, batch_size=2, is_training=False, num_labels=3))
  np.testing.assert_array_equal(batch["label_ids"].numpy(), [[1, 0, 1], [0, 1, 0]])
  assert batch["label_ids"].dtype == tf.float32


def test_public_module_names_survive_the_layout():
  """The names users import from the original modules and from bert_tf2's own front doors."""
  from bert_tf2 import squad  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import BertClient  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving.client import BertClient as client_class  # pylint: disable=g-import-not-at-top
  assert BertClient is client_class
  for name in ("read_squad_examples", "convert_examples_to_features", "write_predictions", "RawResult",
               "_check_is_max_context", "_improve_answer_span", "get_final_text", "FeatureWriter"):
    assert hasattr(squad, name), name
