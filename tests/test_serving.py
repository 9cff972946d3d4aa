"""The embedding server: results, dynamic batching, a small load test, one test per malformed-request class."""
import concurrent.futures
import http.client
import json
import threading
import time

import numpy as np
import pytest

from bert_tf2 import embeddings, modeling, serving, tokenization

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "cat", "runs",
         "fast", "中", "国"]
TEXTS = ["the dog is hairy .", "cat", "the cat runs fast", "中国", "dog dog dog cat"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
  vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  config = modeling.BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)
  return embeddings.SentenceEncoder(modeling.BertModel(config), tokenization.FullTokenizer(str(vocab_file)),
                                    max_seq_length=32)


@pytest.fixture(scope="module")
def port(encoder):
  app = serving.create_app(encoder, max_batch_size=8, max_texts_per_request=4, max_text_chars=50,
                           max_request_bytes=2000)
  with serving.background_server(app) as port:
    yield port


def _post(port, body, path="/encode", method="POST", headers=None):
  connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
  connection.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
  response = connection.getresponse()
  status, payload = response.status, json.loads(response.read())
  connection.close()
  return status, payload


def test_client_gets_the_encoder_vectors(encoder, port):
  with serving.BertClient("127.0.0.1", port) as client:
    vectors = client.encode(TEXTS[:4])
    status = client.status()
  np.testing.assert_allclose(vectors, encoder.encode(TEXTS[:4]), atol=1e-5)
  assert status["model"]["dimension"] == 16 and status["limits"]["max_texts_per_request"] == 4


def test_concurrent_clients_all_succeed(encoder, port):
  """A small version of benchmarks/server_load.py: 4 clients x 10 requests, zero failures."""
  expected = encoder.encode(TEXTS)

  def client_run(seed):
    rng = np.random.default_rng(seed)
    with serving.BertClient("127.0.0.1", port) as client:
      for _ in range(10):
        picks = rng.choice(len(TEXTS), size=rng.integers(1, 5), replace=False)
        np.testing.assert_allclose(client.encode([TEXTS[i] for i in picks]), expected[picks], atol=1e-5)
    return 10

  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    assert sum(pool.map(client_run, range(4))) == 40


class _SlowEncoder:
  """Takes 0.2 s per call, so requests arriving meanwhile queue up and must share the next call."""
  dimension = 2

  def __init__(self):
    self.calls = []

  def encode(self, texts, batch_size=None):
    del batch_size
    self.calls.append(len(texts))
    time.sleep(0.2)
    return np.array([[len(t), i] for i, t in enumerate(texts)], np.float32)


def test_dynamic_batching_merges_concurrent_requests():
  slow = _SlowEncoder()
  app = serving.create_app(slow, max_batch_size=16)
  with serving.background_server(app) as port:
    texts = ["x" * (i + 1) for i in range(8)]
    barrier = threading.Barrier(8)

    def one(text):
      barrier.wait()
      return serving.BertClient("127.0.0.1", port).encode([text])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
      results = list(pool.map(one, texts))
  assert [r[0, 0] for r in results] == [len(t) for t in texts]  # each request got its own row
  assert sum(slow.calls) == 8 and len(slow.calls) <= 3, slow.calls


def test_dynamic_batching_respects_max_batch_size():
  slow = _SlowEncoder()
  app = serving.create_app(slow, max_batch_size=3)
  with serving.background_server(app) as port:
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
      list(pool.map(lambda t: serving.BertClient("127.0.0.1", port).encode([t, t]), ["a", "b", "c", "d", "e", "f"]))
  assert max(slow.calls) <= 3 and sum(slow.calls) == 12


@pytest.mark.parametrize("body,status,message", [
    (b'{"texts": ["a", ', 400, "malformed JSON"),                       # malformed JSON
     (b"\xff\xfe not utf-8", 400, "malformed JSON"),                    # not text at all
     (b'["a", "b"]', 422, "expected a JSON object"),                    # wrong top-level type
     (b'{"text": ["a"]}', 422, "expected a JSON object"),               # missing key
     (b'{"texts": "a"}', 422, "must be a list"),                        # texts not a list
     (b'{"texts": ["a", 3]}', 422, r"texts[1] is int"),                 # a non-string text
     (b'{"texts": []}', 422, "empty"),                                  # empty list
     (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "limit is 4"),      # too many texts
     (json.dumps({"texts": ["x" * 51]}).encode(), 413, "limit is 50"),  # a too long text
     (json.dumps({"texts": ["x" * 40] * 60}).encode(), 413, "bytes"),   # body over the byte limit
])
def test_malformed_request_gets_json_4xx_and_server_keeps_serving(port, body, status, message):
  got_status, payload = _post(port, body)
  assert got_status == status and message in payload["error"], payload
  assert serving.BertClient("127.0.0.1", port).encode(["cat"]).shape == (1, 16)


def test_wrong_method_and_path_get_json_errors(port):
  assert _post(port, None, method="GET")[0] == 405
  status, payload = _post(port, b"{}", path="/nope")
  assert status == 404 and "POST /encode" in payload["error"]


def test_client_raises_on_server_error(port):
  with pytest.raises(serving.BertClientError, match="empty"):
    serving.BertClient("127.0.0.1", port).encode([])
