"""Corpus embedding on Beam equals the local encoder; no partial shard; bad input; indexing it (faiss, Milvus)."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam", reason="the 'beam' extra: pip install -e '.[beam]'")

from bert_tf2 import checkpoints, modeling  # noqa: E402
from bert_tf2.embeddings import encoder as embeddings  # noqa: E402
from bert_tf2.retrieval import corpus_beam, searcher  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHARS = "医疗保险怎么缴纳养老失业工伤生育住房公积金查询办理"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(CHARS)
VOCAB += ["[unused%d]" % i for i in range(40 - len(VOCAB))]
OPTIONS = {"max_seq_length": 16, "pooling_strategy": "REDUCE_MEAN", "pooling_layer": [-1], "normalize": True}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """(model prefix, corpus.tsv): a random tiny BERT; 150 rows of 1-30 characters, tab fields, blank lines."""
  directory = tmp_path_factory.mktemp("embed")
  config = modeling.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=32, max_position_embeddings=64)
  checkpoints.save_google_checkpoint(modeling.BertModel(config), str(directory / "m" / "bert_model.ckpt"))
  (directory / "m" / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
  rng = random.Random(0)
  lines = ["".join(rng.choice(CHARS) for _ in range(rng.randint(1, 30))) + "\tanswer %d\t%s" % (i, "ab"[i % 2])
           + ("\n\n" if i % 40 == 0 else "\n") for i in range(150)]
  (directory / "corpus.tsv").write_text("\ufeff" + "".join(lines) + " \u3000\n")
  return str(directory / "m" / "bert_model.ckpt"), str(directory / "corpus.tsv")


def _local(model, corpus_file):
  texts, payloads = searcher.read_texts_with_payloads(corpus_file)
  return embeddings.SentenceEncoder.from_pretrained(model, **OPTIONS).encode(texts), payloads


def _beam(model, corpus_file, output_dir, beam_options, rows_per_shard=40):
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  shards = corpus_beam.plan_shards(corpus_file, rows_per_shard)
  os.makedirs(output_dir, exist_ok=True)
  return corpus_beam.run(shards, corpus_file, output_dir, model, OPTIONS, PipelineOptions(beam_options),
                         batch_size=8, window=32)


def test_beam_vectors_equal_the_local_encoder(corpus, tmp_path):
  model, corpus_file = corpus
  summary = _beam(model, corpus_file, str(tmp_path / "emb"), ["--runner=DirectRunner"])
  vectors, ids, payloads, _ = corpus_beam.read_embeddings(str(tmp_path / "emb"))
  local, local_payloads = _local(model, corpus_file)
  assert np.abs(vectors - local).max() <= 1e-5
  assert ids.tolist() == list(range(150)) and payloads == local_payloads and payloads[0]["text"][0] != "\ufeff"
  assert [(s["file"], s["rows"], s["first_id"]) for s in summary["shards"]] == [
      ("shard-%05d-of-00004.npz" % i, n, 40 * i) for i, n in enumerate([40, 40, 40, 30])]
  assert sorted(os.listdir(tmp_path / "emb")) == ["embeddings.json"] + ["shard-%05d-of-00004.npz" % i for i in range(4)]


def test_failed_pipeline_leaves_no_partial_shard(corpus, tmp_path):
  """A shard that fails (its input changed under the pipeline) leaves whole shards or none, no embeddings.json."""
  model, corpus_file = corpus
  changed = tmp_path / "corpus.tsv"
  changed.write_bytes(open(corpus_file, "rb").read())
  shards = corpus_beam.plan_shards(str(changed), 40)
  with open(changed, "r+b") as f:  # the last shard now holds one row fewer than planned
    f.seek(shards[-1]["start"])
    f.write(b"\n" * (open(corpus_file, "rb").read()[shards[-1]["start"]:].index(b"\n") + 1))
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  out = tmp_path / "emb"
  out.mkdir()
  with pytest.raises(Exception) as raised:
    corpus_beam.run(shards, str(changed), str(out), model, OPTIONS, PipelineOptions(["--runner=DirectRunner"]),
                    window=32)
  assert corpus_beam.one_line_error(raised.value) == (
      "%s changed while it was read (shard 3: 29 rows, planned 30)" % changed)
  corpus_beam.remove_temporaries(str(out))
  for name in os.listdir(out):  # whatever is there under a final name is a whole shard
    assert name.startswith("shard-") and name.endswith(".npz")
    with np.load(out / name) as data:
      assert len(data["ids"]) == 40
  with pytest.raises(ValueError, match="no embeddings.json .* did it finish"):
    corpus_beam.read_embeddings(str(out))


def test_bad_corpus_is_one_line_naming_file_and_line(tmp_path):
  empty, broken = tmp_path / "empty.tsv", tmp_path / "broken.tsv"
  empty.write_text("\n  \n")
  broken.write_bytes("医疗\n\n保险\xff\n".encode("utf-8").replace("\xff".encode("utf-8"), b"\xff"))
  with pytest.raises(ValueError, match=r"^input_file: .*empty.tsv: no non-blank lines$"):
    corpus_beam.plan_shards(str(empty), 10)
  with pytest.raises(ValueError, match=r"broken.tsv:3: invalid UTF-8 \(byte 0xff\)"):
    corpus_beam.plan_shards(str(broken), 10)


def test_searcher_answers_from_milvus_with_filters(corpus, tmp_path):
  pytest.importorskip("pymilvus")
  model, corpus_file = corpus
  encoder = embeddings.SentenceEncoder.from_pretrained(model, **OPTIONS)
  texts, payloads = searcher.read_texts_with_payloads(corpus_file)
  built = searcher.build_index(encoder, texts, payloads, str(tmp_path / "idx"), "milvus", model,
                               metadata_fields=["answer", "source"])
  built.close()
  found = searcher.Searcher.load(str(tmp_path / "idx"))
  try:
    [hits] = found.search([texts[3]], k=3)
    assert hits[0][1] == payloads[3] and hits[0][0] == pytest.approx(1.0, abs=1e-5)
    [hits] = found.search([texts[3]], k=5, filter='source == "a"')
    assert len(hits) == 5 and all(p["fields"][1] == "a" for _, p in hits)
    # The embedding server answers POST /search from the same index, filters included.
    from bert_tf2.serving import server as serving  # pylint: disable=g-import-not-at-top
    with serving.background_server(serving.create_app(encoder, searcher=found)) as port:
      status, body = _post(port, {"queries": [texts[3]], "top_k": 5, "filter": 'source == "a"'})
      assert status == 200 and [(h["rank"], h["text"], h["fields"]) for h in body["results"][0]] == [
          (rank, p["text"], p["fields"]) for rank, (_, p) in enumerate(hits, 1)]
      assert _post(port, {"queries": [texts[3]], "filter": "source =="})[0] == 400
      assert _post(port, {"queries": [], "top_k": 5})[0] == 422
  finally:
    found.close()


def _post(port, request):
  import http.client  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
  connection.request("POST", "/search", json.dumps(request), {"Content-Type": "application/json"})
  response = connection.getresponse()
  status, body = response.status, json.loads(response.read())
  connection.close()
  return status, body


def _script(name, *args, **kwargs):
  return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *args], capture_output=True, text=True,
                        cwd=ROOT, timeout=600, env=dict(os.environ, PYTHONPATH=ROOT), **kwargs)


@pytest.mark.slow
def test_two_worker_processes_equal_the_local_encoder(corpus, tmp_path):
  model, corpus_file = corpus
  done = _script("embed_corpus.py", "--model=" + model, "--input_file=" + corpus_file, "--output_dir=%s" % (
      tmp_path / "emb"), "--max_seq_length=16", "--rows_per_shard=40", "--window=32", "--batch_size=8",
                 "--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing")
  assert done.returncode == 0, done.stderr[-3000:]
  assert "shard-00003-of-00004.npz       30 rows  ids 120-149" in done.stdout, done.stdout
  vectors, ids, _, _ = corpus_beam.read_embeddings(str(tmp_path / "emb"))
  assert np.abs(vectors - _local(model, corpus_file)[0]).max() <= 1e-5 and ids.tolist() == list(range(150))
  # build_index.py indexes them without embedding again; search.py answers from Milvus with a filter.
  built = _script("build_index.py", "--embeddings_dir=%s" % (tmp_path / "emb"), "--output_dir=%s" % (
      tmp_path / "idx"), "--index_type=milvus", "--metadata_fields=answer,source")
  assert built.returncode == 0 and "150 items (milvus FLAT)" in built.stdout, built.stderr[-3000:]
  found = _script("search.py", "--index_dir=%s" % (tmp_path / "idx"), "--query=医疗保险", "--top_k=3",
                  "--filter=source == \"b\"")
  assert found.returncode == 0, found.stderr[-3000:]
  lines = found.stdout.splitlines()
  assert lines[0] == "query: 医疗保险" and len(lines) == 4 and all(
      line.startswith("  %d. " % k) and line.endswith("\tb") for k, line in enumerate(lines[1:], 1)), lines


@pytest.mark.slow
def test_interrupted_script_leaves_nothing(corpus, tmp_path):
  model, corpus_file = corpus
  big = tmp_path / "big.tsv"
  big.write_text(open(corpus_file, encoding="utf-8").read() * 40)
  out, log = tmp_path / "emb", open(tmp_path / "stderr.txt", "w")  # a file: a full pipe would block the script
  process = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "embed_corpus.py"), "--model=" + model,
                              "--input_file=%s" % big, "--output_dir=%s" % out, "--max_seq_length=16",
                              "--rows_per_shard=500", "--window=16"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                             stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ours is ignored
  deadline = time.time() + 300
  while process.poll() is None and time.time() < deadline and not (
      out.exists() and any(n.startswith("shard-") for n in os.listdir(out))):
    time.sleep(0.1)  # interrupt once the first shard is written, in the middle of the others
  assert process.poll() is None, "finished before it could be interrupted"
  os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
  process.wait(timeout=120)
  stderr = open(tmp_path / "stderr.txt", encoding="utf-8").read()
  assert process.returncode == 130 and stderr.strip().splitlines()[-1] == "embed_corpus: interrupted", stderr[-2000:]
  assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--index_type=milvus", "--milvus_uri=http://127.0.0.1:9"], "--milvus_uri: cannot connect to http://127.0.0.1:9"),
    (["--index_type=milvus", "--input_file=EMPTY"], "--input_file: EMPTY: no non-blank lines"),
    (["--index_type=milvus", "--input_file=BROKEN"], "BROKEN:1: invalid UTF-8"),
])
def test_build_index_bad_input_is_one_line_and_writes_nothing(corpus, tmp_path, args, message):
  model, corpus_file = corpus
  (tmp_path / "EMPTY").write_text("\n")
  (tmp_path / "BROKEN").write_bytes(b"\xff\n")
  args = [a.replace("EMPTY", str(tmp_path / "EMPTY")).replace("BROKEN", str(tmp_path / "BROKEN")) for a in args]
  message = message.replace("EMPTY", str(tmp_path / "EMPTY")).replace("BROKEN", str(tmp_path / "BROKEN"))
  if not any(a.startswith("--input_file") for a in args):
    args.append("--input_file=" + corpus_file)
  done = _script("build_index.py", "--model=" + model, "--output_dir=%s" % (tmp_path / "idx"),
                 "--max_seq_length=16", *args)
  assert done.returncode == 1 and message in done.stderr.strip().splitlines()[-1], done.stderr[-2000:]
  assert len(done.stderr.strip().splitlines()[-1].split("\n")) == 1 and not (tmp_path / "idx").exists()


@pytest.mark.slow
def test_build_index_dimension_mismatch_leaves_the_index(corpus, tmp_path):
  model, corpus_file = corpus
  idx = str(tmp_path / "idx")
  vectors = np.eye(8, dtype=np.float32)
  searcher.index_vectors(vectors, [{"text": str(i), "fields": []} for i in range(8)], idx, {"model": model},
                         "milvus").close()
  before = open(os.path.join(idx, "meta.json")).read()
  done = _script("build_index.py", "--model=" + model, "--input_file=" + corpus_file, "--output_dir=" + idx,
                 "--max_seq_length=16", "--index_type=milvus")
  assert done.returncode == 1 and "holds 8-dim vectors, these are 16-dim" in done.stderr.strip().splitlines()[-1]
  assert open(os.path.join(idx, "meta.json")).read() == before
