"""The embedding server and bert-as-service's client: a bert-as-service session, dynamic batching,
length groups, [UNK] warnings, and one test per malformed-request class (a 413 over plain urllib too)."""
import base64
import concurrent.futures
import http.client
import http.server
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from bert_tf2 import checkpoints, modeling, tokenization
from bert_tf2.embeddings import encoder as embeddings
from bert_tf2.serving import server as serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "is", "hair", "##y", ".", "cat", "runs",
         "fast", "中", "国"]
TEXTS = ["the dog is hairy .", "cat", "the cat runs fast", "中国", "dog dog dog cat"]
CONFIG = dict(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=32, max_position_embeddings=64, type_vocab_size=2)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
  vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  vocab_file.write_text("\n".join(VOCAB) + "\n")
  return embeddings.SentenceEncoder(modeling.BertModel(modeling.BertConfig(**CONFIG)),
                                    tokenization.FullTokenizer(str(vocab_file)), max_seq_length=32)


@pytest.fixture(scope="module")
def port(encoder):
  app = serving.create_app(encoder, max_batch_size=8, max_texts_per_request=4, max_text_chars=50,
                           max_request_bytes=2000, show_tokens_to_client=True)
  with serving.background_server(app) as port:
    yield port


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  """A Google-format model directory (bert_config.json, vocab.txt, bert_model.ckpt) of a tiny BERT."""
  directory = tmp_path_factory.mktemp("uncased_L-2_H-16_A-4")
  (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
  (directory / "bert_config.json").write_text(json.dumps(CONFIG))
  model = modeling.BertModel(modeling.BertConfig(**CONFIG))
  checkpoints.save_google_checkpoint(model, str(directory / "bert_model.ckpt"))
  return str(directory)


def _post(port, body, path="/encode", method="POST", headers=None):
  connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
  connection.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
  response = connection.getresponse()
  status, payload = response.status, json.loads(response.read())
  connection.close()
  return status, payload


def test_bert_as_service_session(model_dir, capsys):
  """bert-as-service's own code, as its README writes it: BertServer + get_args_parser, BertClient."""
  from bert_serving.client import BertClient
  from bert_serving.server import BertServer
  from bert_serving.server.helper import get_args_parser
  socks = [serving.bind_socket("127.0.0.1", 0) for _ in range(2)]
  port, http_port = [s.getsockname()[1] for s in socks]
  for sock in socks:
    sock.close()
  args = get_args_parser().parse_args(["-model_dir", model_dir, "-port", str(port), "-port_out", "5556",
                                       "-http_port", str(http_port),
                                       "-max_seq_len", "16", "-num_worker", "1", "-pooling_strategy", "REDUCE_MEAN",
                                       "-pooling_layer", "-2", "-show_tokens_to_client", "-cpu", "-host", "127.0.0.1"])
  server = BertServer(args)
  reference = embeddings.SentenceEncoder.from_pretrained(model_dir, max_seq_length=16, pooling_layer=-2)
  server.start()
  assert server.is_ready.wait(30)
  try:
    with BertClient(ip="127.0.0.1", port=port, port_out=5556, output_fmt="ndarray", show_server_config=True,
                    identity="tester", check_version=True, check_length=True, check_token_info=True,
                    ignore_all_checks=False, timeout=30000) as bc:
      assert "max_seq_len" in capsys.readouterr().out  # show_server_config printed the server's config
      vectors = bc.encode(["the dog is hairy .", "中国"])
      np.testing.assert_allclose(vectors, reference.encode(["the dog is hairy .", "中国"]), atol=1e-5)
      vectors, tokens = bc.encode(["the dog is hairy ."], show_tokens=True)
      assert tokens == [["[CLS]", "the", "dog", "is", "hair", "##y", ".", "[SEP]"]] and vectors.shape == (1, 16)
      pieces = bc.encode([["the", "dog", "is", "hair", "##y", "."], ["cat", "unknownword"]], is_tokenized=True)
      np.testing.assert_allclose(pieces, reference.encode(["the dog is hairy .", "cat 日"]), atol=1e-5)
      assert bc.encode(["cat"], blocking=False) is None and bc.encode(["dog"], blocking=False) is None
      fetched = bc.fetch_all(concat=True)
      np.testing.assert_allclose(fetched, reference.encode(["cat", "dog"]), atol=1e-5)
      server_status, client_status = bc.server_status, bc.status
      assert server_status["max_seq_len"] == 16 and server_status["port_out"] == 5556
      assert client_status["identity"] == "tester" and client_status["num_request"] == 5
    with BertClient(ip="127.0.0.1", port=port, output_fmt="list", timeout=30000) as bc:
      as_list = bc.encode(["cat"])
      assert isinstance(as_list, list) and isinstance(as_list[0][0], float)
      with pytest.warns(UserWarning, match="max_seq_len=16"):
        bc.encode(["the dog " * 10])
    # bert-as-service's HTTP API on -http_port: {"id", "texts"} in, {"id", "result"} out
    status, payload = _post(http_port, json.dumps({"id": 7, "texts": ["cat"]}).encode())
    assert status == 200 and payload["id"] == 7
    np.testing.assert_allclose(payload["result"], as_list, atol=1e-6)
  finally:
    server.close()


def test_help_lists_the_bert_as_service_flags():
  out = subprocess.run([sys.executable, "-m", "bert_tf2.serving.start", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60, check=True).stdout
  for flag in ("-model_dir", "-port_out", "-max_seq_len", "-max_batch_size", "-pooling_strategy", "-pooling_layer",
               "-cpu", "-device_map", "-http_port", "-show_tokens_to_client", "-max_request_bytes", "-unk_threshold"):
    assert flag in out, flag


@pytest.mark.parametrize("argv,message", [
    (["-mask_cls_sep", "-model_dir", "."], "-mask_cls_sep is not implemented"),
    (["-model_dir", "/no/such/dir"], "no such directory: /no/such/dir"),
])
def test_bad_server_flags_end_in_one_line(argv, message):
  result = subprocess.run([sys.executable, "-m", "bert_tf2.serving.start"] + argv, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
  assert result.returncode == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_client_sends_utf8_json():
  """Chinese goes out as UTF-8 bytes, not \\uXXXX escapes."""
  received = []

  class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
      received.append(self.rfile.read(int(self.headers["Content-Length"])))
      body = json.dumps({"id": 1, "shape": [1, 2], "dtype": "float32",
                         "result_base64": base64.b64encode(np.float32([1, 2]).tobytes()).decode()}).encode()
      self.send_response(200)
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)

    def log_message(self, *args):
      del args

  httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  try:
    with serving.BertClient("127.0.0.1", httpd.server_address[1], ignore_all_checks=True) as bc:
      np.testing.assert_array_equal(bc.encode(["中国"]), [[1, 2]])
  finally:
    httpd.shutdown()
  assert "中国".encode("utf-8") in received[0] and b"\\u" not in received[0]


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


def test_length_groups_keep_short_texts_apart_from_long_ones():
  # Hand-worked: one call costs 8 + 4 x 31 = 132; two calls [5, 6] and [30, 31] cost (8 + 12) + (8 + 62) = 90.
  assert serving.length_groups([5, 30, 6, 31], overhead_tokens=8) == [[0, 2], [1, 3]]
  assert serving.length_groups([5, 30, 6, 31], overhead_tokens=100) == [[0, 2, 1, 3]]  # calls dearer than padding
  assert sorted(i for g in serving.length_groups(list(range(50, 0, -1)), 16) for i in g) == list(range(50))
  capped = serving.length_groups([7] * 5, overhead_tokens=100, max_group_size=2)
  assert len(capped) == 3 and max(map(len, capped)) == 2


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


def test_accepted_connections_have_tcp_nodelay():
  """Without TCP_NODELAY a response's body waited ~40 ms for the client's delayed ACK (Nagle)."""
  import asyncio  # pylint: disable=g-import-not-at-top
  import socket  # pylint: disable=g-import-not-at-top

  async def check():
    seen = []

    async def handle(reader, writer):
      del reader
      seen.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
      writer.close()

    server = await asyncio.start_server(handle, sock=serving.bind_socket("127.0.0.1", 0))
    _, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
    while not seen:
      await asyncio.sleep(0.01)
    writer.close()
    server.close()
    return seen

  assert asyncio.run(asyncio.wait_for(check(), 10)) == [1]


def test_dynamic_batching_respects_max_batch_size():
  slow = _SlowEncoder()
  app = serving.create_app(slow, max_batch_size=3)
  with serving.background_server(app) as port:
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
      list(pool.map(lambda t: serving.BertClient("127.0.0.1", port).encode([t, t]), ["a", "b", "c", "d", "e", "f"]))
  assert max(slow.calls) <= 3 and sum(slow.calls) == 12


def test_unk_heavy_batches_warn_and_count(port, caplog):
  with serving.BertClient("127.0.0.1", port) as bc:
    before = bc.server_status["unk_batches"]
    bc.encode(["the dog runs fast"])
    assert bc.server_status["unk_batches"] == before  # 0 of 4 pieces unknown
    with caplog.at_level(logging.WARNING, logger="bert_tf2.serving.server"):
      bc.encode(["日本 is 日本"])  # 4 of 5 pieces are [UNK]
    status = bc.server_status
  assert status["unk_batches"] == before + 1 and status["counters"]["unk_pieces"] >= 4
  assert any("[UNK]" in r.getMessage() for r in caplog.records) or before > 0  # one line a minute at most


def test_sentence_encoder_warns_once_on_unk_heavy_text(encoder, caplog):
  encoder._warned_unk = False  # pylint: disable=protected-access
  with caplog.at_level(logging.WARNING):
    encoder.encode(["the dog"])
    encoder.encode(["日本日本", "日本"])
    encoder.encode(["日本日本"])
  assert sum("are [UNK]" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("body,status,message", [
    (b'{"texts": ["a", ', 400, "malformed JSON"),                       # malformed JSON
     (b"\xff\xfe not utf-8", 400, "malformed JSON"),                    # not text at all
     (b'["a", "b"]', 422, "expected a JSON object"),                    # wrong top-level type
     (b'{"text": ["a"]}', 422, "expected a JSON object"),               # missing key
     (b'{"texts": "a"}', 422, "must be a list"),                        # texts not a list
     (b'{"texts": ["a", 3]}', 422, r"texts[1] is int"),                 # a non-string text
     (b'{"texts": [["a"], "b"], "is_tokenized": true}', 422, "texts[1] must be a list"),  # tokenized, not lists
     (b'{"texts": ["a"], "output": "xml"}', 422, '"output" must be'),   # unknown output format
     (b'{"texts": []}', 422, "empty"),                                  # empty list
     (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "limit is 4"),      # too many texts
     (json.dumps({"texts": ["x" * 51]}).encode(), 413, "limit is 50"),  # a too long text
     (json.dumps({"texts": ["x" * 40] * 60}).encode(), 413, "bytes"),   # body over the byte limit
])
def test_malformed_request_gets_json_4xx_and_server_keeps_serving(port, body, status, message):
  got_status, payload = _post(port, body)
  assert got_status == status and message in payload["error"], payload
  assert serving.BertClient("127.0.0.1", port).encode(["cat"]).shape == (1, 16)


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_body_gets_a_readable_413_over_plain_urllib(port, chunked):
  """2 MB against a 2,000-byte limit: the server reads and discards the body, so urllib sees the 413."""
  body = json.dumps({"texts": ["x" * 40] * 50000}).encode()
  data = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
  headers = {"Content-Type": "application/json"} if not chunked else {"Content-Type": "application/json",
                                                                       "Transfer-Encoding": "chunked"}
  request = urllib.request.Request("http://127.0.0.1:%d/encode" % port, data=data, headers=headers)
  with pytest.raises(urllib.error.HTTPError) as error:
    urllib.request.urlopen(request, timeout=30)
  assert error.value.code == 413 and "limit" in json.loads(error.value.read())["error"]


def test_small_chunked_body_over_the_limit_gets_413(port):
  """A chunked body (no Content-Length) over the limit that arrives in one piece: 413, not a 500."""
  body = json.dumps({"texts": ["x" * 40] * 60}).encode()  # 2.6 kB against 2,000 bytes
  request = urllib.request.Request("http://127.0.0.1:%d/encode" % port, data=iter([body]),
                                   headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
  with pytest.raises(urllib.error.HTTPError) as error:
    urllib.request.urlopen(request, timeout=30)
  assert error.value.code == 413 and "over the limit" in json.loads(error.value.read())["error"]


def test_wrong_method_and_path_get_json_errors(port):
  assert _post(port, None, method="GET")[0] == 405
  status, payload = _post(port, b"{}", path="/nope")
  assert status == 404 and "POST /encode" in payload["error"]


def test_client_checks_input_as_bert_as_service(port):
  with serving.BertClient("127.0.0.1", port) as bc:
    with pytest.raises(TypeError):
      bc.encode("one string")
    with pytest.raises(ValueError, match="non-empty"):
      bc.encode([])
    with pytest.raises(ValueError, match="non-empty"):
      bc.encode(["a", "  "])


def test_client_raises_on_server_error(port):
  with serving.BertClient("127.0.0.1", port) as bc:
    with pytest.raises(serving.BertClientError, match="limit is 4"):
      bc.encode(["a"] * 5)


def test_max_seq_len_none_means_the_models_length(model_dir):
  """bert-as-service's `-max_seq_len NONE`: no limit but the model's max_position_embeddings (64 here)."""
  from bert_tf2.serving import start as serving_start
  app, _ = serving_start.build_app(serving_start.get_args_parser().parse_args(
      ["-model_dir", model_dir, "-max_seq_len", "NONE", "-pooling_layer", "-1"]))
  with serving.background_server(app) as port:
    with serving.BertClient("127.0.0.1", port, ignore_all_checks=True) as bc:
      status = bc.server_status
      assert bc.encode(["dog " * 100]).shape == (1, 16)  # cut at 64 tokens, not refused
  assert status["max_seq_len"] is None and status["model"]["max_seq_length"] == 64


def test_tuned_model_dir_serves_the_fine_tuned_checkpoint(model_dir, tmp_path):
  """`-tuned_model_dir T -ckpt_name model.ckpt-5`: weights from T, config and vocab from -model_dir."""
  from bert_tf2.serving import start as serving_start
  tuned = modeling.BertModel(modeling.BertConfig(**CONFIG))  # other random weights than model_dir's
  checkpoints.save_google_checkpoint(tuned, str(tmp_path / "model.ckpt-5"))
  app, _ = serving_start.build_app(serving_start.get_args_parser().parse_args(
      ["-model_dir", model_dir, "-tuned_model_dir", str(tmp_path), "-ckpt_name", "model.ckpt-5", "-max_seq_len", "16"]))
  expected = embeddings.SentenceEncoder.from_pretrained(
      str(tmp_path / "model.ckpt-5"), vocab_file=os.path.join(model_dir, "vocab.txt"),
      bert_config_file=os.path.join(model_dir, "bert_config.json"), max_seq_length=16).encode(TEXTS)
  untuned = embeddings.SentenceEncoder.from_pretrained(model_dir, max_seq_length=16).encode(TEXTS)
  with serving.background_server(app) as port:
    served = serving.BertClient("127.0.0.1", port, ignore_all_checks=True).encode(TEXTS)
  np.testing.assert_allclose(served, expected, atol=1e-5)
  assert np.abs(served - untuned).max() > 1e-3


def test_plain_json_answer_of_a_large_request_is_complete():
  """A curl-style request (output "json") whose answer is serialized off the event loop (> 20,000 floats)."""
  class WideEncoder:
    def encode(self, texts, batch_size=None):
      del batch_size
      return np.arange(len(texts) * 15000, dtype=np.float32).reshape(len(texts), 15000) / 7

  with serving.background_server(serving.create_app(WideEncoder())) as port:
    status, payload = _post(port, json.dumps({"id": "x", "texts": ["a", "b"]}).encode())
  assert status == 200 and payload["id"] == "x" and payload["shape"] == [2, 15000]
  np.testing.assert_allclose(payload["result"], WideEncoder().encode(["a", "b"]), rtol=1e-7)
