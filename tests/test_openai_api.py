"""OpenAI's embeddings API on the embedding server, through the `openai` client itself: strings, lists,
both encoding formats, the same vectors as `BertClient().encode`; the API key on every route (401 that
the client raises as `openai.AuthenticationError`); one test per malformed-request class (4xx, OpenAI's
error shape). One server (tiny BERT, key required) serves the whole module."""
import base64
import http.client
import json

import numpy as np
import pytest

from bert_tf2 import modeling, tokenization
from bert_tf2.embeddings import encoder as embeddings
from bert_tf2.serving import server as serving
from bert_tf2.serving import start as serving_start

openai = pytest.importorskip("openai")

KEY = "sk-test-0123456789"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "cat", "runs",
         "fast", "中", "国"]
TEXTS = ["the dog is hairy .", "cat", "the cat runs fast", "中国"]
CONFIG = dict(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)


@pytest.fixture(scope="module")
def port(tmp_path_factory):
  vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  encoder = embeddings.SentenceEncoder(modeling.BertModel(modeling.BertConfig(**CONFIG)),
                                       tokenization.FullTokenizer(str(vocab_file)), max_seq_length=32, normalize=True)
  app = serving.create_app(encoder, max_batch_size=8, max_texts_per_request=4, max_text_chars=50,
                           max_request_bytes=2000, cors="*", model_name="tiny-bert", api_key=KEY)
  with serving.background_server(app) as port:
    yield port


@pytest.fixture(scope="module")
def client(port):
  return openai.OpenAI(base_url="http://127.0.0.1:%d/v1" % port, api_key=KEY, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def expected(port):
  """What bert-as-service's API returns for TEXTS on the same server, with the key."""
  with serving.BertClient("127.0.0.1", port, api_key=KEY) as bc:
    return bc.encode(TEXTS)


def _request(port, body=None, path="/v1/embeddings", method="POST", key=KEY, headers=None):
  headers = dict(headers or {"Content-Type": "application/json"})
  if key is not None:
    headers["Authorization"] = "Bearer " + key
  connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
  connection.request(method, path, body=body, headers=headers)
  response = connection.getresponse()
  status, payload = response.status, response.read()
  connection.close()
  return status, payload if response.getheader("Content-Type", "").startswith("text/") else json.loads(payload)


@pytest.mark.parametrize("encoding_format", [None, "float", "base64"])  # None: openai's default (base64 on the wire)
def test_embeddings_create_gives_the_vectors_of_encode(client, expected, encoding_format):
  kwargs = {} if encoding_format is None else {"encoding_format": encoding_format}
  response = client.embeddings.create(model="text-embedding-3-small", input=TEXTS, **kwargs)
  assert response.object == "list" and response.model == "tiny-bert"
  assert [d.index for d in response.data] == [0, 1, 2, 3]
  if encoding_format == "base64":  # asked for explicitly: the client hands over the string as sent
    vectors = np.stack([np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in response.data])
  else:
    vectors = np.array([d.embedding for d in response.data], np.float32)
  np.testing.assert_allclose(vectors, expected, atol=1e-6)
  # [CLS] the dog is hair ##y . [SEP] | [CLS] cat [SEP] | [CLS] the cat runs fast [SEP] | [CLS] 中 国 [SEP]
  assert response.usage.prompt_tokens == response.usage.total_tokens == 8 + 3 + 6 + 4


def test_one_string_and_dimensions(client, expected):
  one = client.embeddings.create(model="tiny-bert", input="the dog is hairy .")
  assert len(one.data) == 1 and one.usage.prompt_tokens == 8
  np.testing.assert_allclose(one.data[0].embedding, expected[0], atol=1e-6)
  short = client.embeddings.create(model="tiny-bert", input=TEXTS[:2], dimensions=8, encoding_format="float")
  cut = expected[:2, :8] / np.linalg.norm(expected[:2, :8], axis=1, keepdims=True)  # normalized again
  np.testing.assert_allclose([d.embedding for d in short.data], cut, atol=1e-6)


def test_models_lists_the_served_model(client):
  assert [m.id for m in client.models.list().data] == ["tiny-bert"]


def test_wrong_or_missing_key_is_401(port, client):
  wrong = openai.OpenAI(base_url=client.base_url, api_key="sk-wrong", max_retries=0, timeout=30)
  with pytest.raises(openai.AuthenticationError) as error:
    wrong.embeddings.create(model="tiny-bert", input="cat")
  assert error.value.status_code == 401 and error.value.code == "invalid_api_key"
  status, payload = _request(port, json.dumps({"model": "m", "input": "cat"}), key=None)
  assert status == 401 and "no API key" in payload["error"]["message"]
  for path, method in (("/status", "GET"), ("/encode", "POST"), ("/v1/models", "GET"), ("/nope", "GET")):
    status, payload = _request(port, b'{"texts": ["cat"]}' if method == "POST" else None, path, method, key=None)
    assert status == 401 and "error" in payload, path
  with pytest.raises(serving.BertClientError, match="incorrect API key"):
    serving.BertClient("127.0.0.1", port, api_key="sk-wrong")
  with pytest.raises(serving.BertClientError, match="HTTP 401"):
    serving.BertClient("127.0.0.1", port, ignore_all_checks=True).encode(["cat"])


def test_cors_preflight_needs_no_key(port):
  status, _ = _request(port, None, method="OPTIONS", key=None, headers={
      "Origin": "http://example.com", "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization,content-type"})
  assert status == 200


@pytest.mark.parametrize("body,status,message", [
    (b'{"model": "m", "input": ["a", ', 400, "malformed JSON"),
    (b'{"model": "m"}', 422, "expected a JSON object"),
    (b'{"model": "m", "input": 3}', 422, "must be a string or a list"),
    (b'{"model": "m", "input": []}', 422, "empty"),
    (b'{"model": "m", "input": ["cat", ""]}', 422, "input[1] is an empty string"),
    (b'{"model": "m", "input": [[1820, 4169]]}', 422, "token ids"),                    # tiktoken ids (LangChain)
    (b'{"model": "m", "input": [1820, 4169]}', 422, "token ids"),
    (b'{"model": "m", "input": "cat", "encoding_format": "int8"}', 422, "encoding_format"),
    (b'{"model": "m", "input": "cat", "dimensions": 0}', 422, "dimensions"),
    (b'{"model": "m", "input": "cat", "dimensions": 17}', 422, "vectors have 16"),
    (b'{"model": "m", "input": ["a", "b", "c", "d", "e"]}', 413, "limit is 4"),
    (json.dumps({"model": "m", "input": "x" * 51}).encode(), 413, "limit is 50"),
    (json.dumps({"model": "m", "input": ["x" * 40] * 60}).encode(), 413, "bytes"),
])
def test_malformed_request_gets_an_openai_error_and_the_server_keeps_serving(port, client, body, status, message):
  got_status, payload = _request(port, body)
  assert got_status == status and message in payload["error"]["message"], payload
  assert payload["error"]["type"] == "invalid_request_error"
  assert len(client.embeddings.create(model="m", input="cat").data) == 1


def test_the_client_raises_4xx_as_openai_errors(client):
  with pytest.raises(openai.APIStatusError) as error:
    client.embeddings.create(model="m", input=["a"] * 5)
  assert error.value.status_code == 413 and "limit is 4" in error.value.message
  with pytest.raises(openai.UnprocessableEntityError):
    client.embeddings.create(model="m", input=[[1820, 4169]])


def test_unknown_v1_route_gets_an_openai_404(port):
  status, payload = _request(port, None, path="/v1/chat/completions", method="GET")
  assert status == 404 and "/v1/embeddings" in payload["error"]["message"]


def test_api_key_flag_and_environment(monkeypatch, capsys):
  monkeypatch.setenv("BERT_TF2_API_KEY", "from-env")
  parser = serving_start.get_args_parser()
  assert parser.parse_args([]).api_key == "from-env"
  assert parser.parse_args(["-api_key", "sk-flag"]).api_key == "sk-flag"
  with pytest.raises(SystemExit):
    serving_start._check(  # pylint: disable=protected-access
        parser.parse_args(["-api_key", "two words", "-model_dir", "."]))
  assert "-api_key must be printable ASCII" in capsys.readouterr().err


def test_started_server_needs_its_key_and_names_its_model(tmp_path, monkeypatch):
  """bert-serving-start -model_dir D (the key from $BERT_TF2_API_KEY): the key guards it, /v1/models says D's name."""
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "tiny_bert"
  model_dir.mkdir()
  (model_dir / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
  (model_dir / "bert_config.json").write_text(json.dumps(CONFIG))
  checkpoints.save_google_checkpoint(modeling.BertModel(modeling.BertConfig(**CONFIG)),
                                     str(model_dir / "bert_model.ckpt"))
  monkeypatch.setenv("BERT_TF2_API_KEY", KEY)
  app, _ = serving_start.build_app(serving_start.get_args_parser().parse_args(
      ["-model_dir", str(model_dir), "-max_seq_len", "16", "-pooling_layer", "-1"]))
  with serving.background_server(app) as port:
    assert _request(port, None, "/status", "GET", key=None)[0] == 401
    with serving.BertClient("127.0.0.1", port) as bc:  # the key from the environment, as the server's
      vectors = bc.encode(TEXTS[:2])
    client = openai.OpenAI(base_url="http://127.0.0.1:%d/v1" % port, api_key=KEY, max_retries=0, timeout=30)
    assert [m.id for m in client.models.list().data] == ["tiny_bert"]
    response = client.embeddings.create(model="tiny_bert", input=TEXTS[:2])
  np.testing.assert_allclose([d.embedding for d in response.data], vectors, atol=1e-6)
