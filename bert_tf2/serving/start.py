r"""`bert-tf2-serving-start` (also installed as `bert-serving-start`): the embedding server, bert-as-service's flags.

  bert-serving-start -model_dir /tmp/chinese_L-12_H-768_A-12 -num_worker 1 -port 5555 -port_out 5556 \
      -max_seq_len 64 -max_batch_size 256 -pooling_strategy REDUCE_MEAN -pooling_layer -2 -show_tokens_to_client
  bert-tf2-serving-start -init_checkpoint runs/pretrain_zh/bert_model.ckpt \
      -bert_config_file runs/pretrain_zh/bert_config.json -vocab_file runs/pretrain_zh/vocab.txt
  bert-tf2-serving-start --help        # every flag, in bert-as-service's groups

  curl -s localhost:5555/encode -d '{"id": 1, "texts": ["医疗保险怎么缴纳", "hello world"]}'
  python -c "from bert_serving.client import BertClient; print(BertClient().encode(['hi']).shape)"

Flags are parsed as bert-as-service parses them (argparse: `-flag value`, `-flag=value`, `--flag`,
`-pooling_layer -4 -3`, `-max_seq_len NONE`). `-model_dir` is a Google model directory
(`-config_name`, `vocab.txt`, `-ckpt_name`, or the checkpoint in `-tuned_model_dir`), a Hugging Face
directory or an embedding SavedModel (scripts/encode.py --export_dir).
What differs from bert-as-service, and why:
  -port          the one HTTP port (requests and results); `-http_port` adds a second port serving the same API
  -port_out      accepted, unused: HTTP answers on the request's connection
  -num_worker    concurrent model calls (threads sharing the cores), not processes
  -cpu           hides GPUs from TensorFlow; -device_map picks the GPUs it may see
  -api_key       [ours] a bearer token every request must carry (or $BERT_TF2_API_KEY); OpenAI's
                 POST /v1/embeddings is served beside /encode, named by -model_name
  -index_dir     [ours] a build_index.py directory (faiss or Milvus): POST /search answers from it
  accepted and ignored (resource tuning with no meaning here): -graph_tmp_dir -http_max_connect
    -priority_batch_size -xla -fp16 -gpu_memory_fraction -prefetch_size
  refused with an error (they would change the vectors, and are not implemented): -mask_cls_sep
    -no_special_token -no_position_embeddings
"""

import argparse
import os
import sys

from bert_tf2.core import cli

STRATEGIES = ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN", "SEP_TOKEN", "FIRST_TOKEN", "LAST_TOKEN",
              "NONE"]
_ALIASES = {"FIRST_TOKEN": "CLS_TOKEN", "LAST_TOKEN": "SEP_TOKEN"}  # bert-as-service's second names
IGNORED = ("graph_tmp_dir", "http_max_connect", "priority_batch_size", "xla", "fp16", "gpu_memory_fraction",
           "prefetch_size")
REFUSED = ("mask_cls_sep", "no_special_token", "no_position_embeddings")


def _max_seq_len(value):
  if value.lower() == "none":
    return None
  try:
    number = int(value)
  except ValueError:
    raise argparse.ArgumentTypeError("%r is not an integer or NONE" % value) from None
  if number <= 3:
    raise argparse.ArgumentTypeError("%d must be > 3 (room for [CLS], [SEP] and a token) or NONE" % number)
  return number


def get_args_parser():
  """bert-as-service's `get_args_parser()`: its flags (and ours), each as `-name` and `--name`."""
  parser = argparse.ArgumentParser(prog="bert-tf2-serving-start", allow_abbrev=False,
                                   description="Start the bert_tf2 embedding server (HTTP; bert-as-service's flags).")

  def add(group, name, *aliases, **kwargs):
    names = ["-" + name, "--" + name] + [p + a for a in aliases for p in ("-", "--")]
    group.add_argument(*names, dest=kwargs.pop("dest", name), **kwargs)

  files = parser.add_argument_group("File Paths", "the pretrained or fine-tuned model")
  add(files, "model_dir", help="Google model dir, Hugging Face dir or embedding SavedModel")
  add(files, "tuned_model_dir",
      help="directory of a fine-tuned checkpoint (-ckpt_name in it; config and vocab from -model_dir)")
  add(files, "ckpt_name", default="bert_model.ckpt", help="checkpoint prefix inside -model_dir / -tuned_model_dir")
  add(files, "config_name", default="bert_config.json", help="config file name inside -model_dir")
  add(files, "graph_tmp_dir", help="unused (bert-as-service's frozen-graph directory)")
  add(files, "init_checkpoint", help="[ours] a checkpoint prefix instead of -model_dir")
  add(files, "bert_config_file", help="[ours] bert_config.json for -init_checkpoint")
  add(files, "vocab_file", help="[ours] vocab.txt for -init_checkpoint")

  bert = parser.add_argument_group("BERT Parameters", "how texts are cut and vectors pooled")
  add(bert, "max_seq_len", type=_max_seq_len, default=25,
      help="tokens per text incl. [CLS]/[SEP], longer texts are cut; NONE = the model's max_position_embeddings")
  add(bert, "cased_tokenization", dest="do_lower_case", action="store_false", default=None,
      help="do not lower-case or strip accents (default: as the model was trained)")
  add(bert, "pooling_layer", type=int, nargs="+", default=[-2], help="layer(s) to pool, -1 = last; several concatenate")
  add(bert, "pooling_strategy", default="REDUCE_MEAN", choices=STRATEGIES, help="how token vectors become one vector")
  add(bert, "show_tokens_to_client", action="store_true", help="send tokens to clients that ask (show_tokens=True)")
  add(bert, "fixed_embed_length", action="store_true", help="NONE pooling: pad token vectors to max_seq_len")
  add(bert, "normalize", action="store_true", help="[ours] L2-normalize the vectors")
  add(bert, "precision", choices=("float32", "bfloat16", "int8"), default=None,
      help="[ours] how the encoder computes (int8: LiteRT on XNNPACK); default: the SavedModel's, else float32")
  for name in REFUSED:
    add(bert, name, action="store_true", help="not implemented (refused: it would change the vectors)")

  serving = parser.add_argument_group("Serving Configs", "ports, workers, limits")
  add(serving, "port", "port_in", "port_data", type=int, default=5555, help="HTTP port for requests and results")
  add(serving, "port_out", "port_result", type=int, default=5556, help="accepted, unused over HTTP")
  add(serving, "http_port", type=int, help="a second port serving the same HTTP API")
  add(serving, "http_max_connect", type=int, default=10, help="unused")
  add(serving, "cors", default="*", help="Access-Control-Allow-Origin for browsers")
  add(serving, "num_worker", type=int, default=1, help="concurrent model calls (threads)")
  add(serving, "max_batch_size", type=int, default=256, help="most texts merged into one batch")
  add(serving, "model_batch_size", type=int, default=16,
      help="[ours] most texts in one model call (a batch is cut by length; on CPU 8-16 is fastest)")
  add(serving, "priority_batch_size", type=int, default=16, help="unused")
  add(serving, "cpu", action="store_true", help="hide GPUs from TensorFlow")
  add(serving, "xla", action="store_true", help="unused")
  add(serving, "fp16", action="store_true", help="unused")
  add(serving, "gpu_memory_fraction", type=float, default=0.5, help="unused")
  add(serving, "device_map", type=int, nargs="+", default=[], help="GPU ids TensorFlow may use")
  add(serving, "prefetch_size", type=int, default=10, help="unused")
  add(serving, "host", default="0.0.0.0", help="[ours] interface to listen on")
  add(serving, "max_texts_per_request", type=int, default=256, help="[ours] most texts in one request (413 above)")
  add(serving, "max_text_chars", type=int, default=10000, help="[ours] most characters in one text (413 above)")
  add(serving, "max_request_bytes", type=int, default=4 << 20, help="[ours] largest request body in bytes (413 above)")
  add(serving, "api_key", default=os.environ.get("BERT_TF2_API_KEY") or None,
      help="[ours] every request needs 'Authorization: Bearer <key>' (401 without); default: $BERT_TF2_API_KEY, "
      "which keeps the key out of `ps`")
  add(serving, "index_dir", help="[ours] a build_index.py directory (faiss or Milvus): POST /search answers from it")
  add(serving, "model_name", help="[ours] model id of /v1/embeddings and /v1/models (default: -model_dir's name)")
  add(serving, "unk_threshold", type=float, default=0.1,
      help="[ours] share of [UNK] pieces in a batch that logs a warning and counts in /status")
  add(parser, "verbose", action="store_true", help="log every request")
  from bert_tf2.serving.client import __version__  # pylint: disable=g-import-not-at-top
  parser.add_argument("-version", "--version", action="version", version="%(prog)s " + __version__)
  return parser


def _check(args):
  """One line and exit 1 for the first bad flag."""
  for name in REFUSED:
    if getattr(args, name):
      cli.fail("-%s is not implemented by this server (it would change the vectors); drop it" % name)
  for name in ("port", "port_out", "num_worker", "max_batch_size", "model_batch_size", "max_texts_per_request",
               "max_text_chars", "max_request_bytes"):
    if getattr(args, name) < 1:
      cli.fail("-%s must be positive, got %d" % (name, getattr(args, name)))
  if args.api_key is not None and not (args.api_key.isascii() and args.api_key.isprintable() and args.api_key
                                       and " " not in args.api_key):
    cli.fail("-api_key must be printable ASCII without spaces (it travels in an HTTP header), got %d characters"
             % len(args.api_key))
  if not 0.0 <= args.unk_threshold <= 1.0:
    cli.fail("-unk_threshold must be in [0, 1], got %g" % args.unk_threshold)
  if args.init_checkpoint:
    if not (args.bert_config_file and args.vocab_file):
      cli.fail("-init_checkpoint needs -bert_config_file and -vocab_file")
    return args.init_checkpoint, args.bert_config_file, args.vocab_file
  if not args.model_dir:
    cli.fail("give -model_dir (or -init_checkpoint with -bert_config_file and -vocab_file)")
  if not os.path.isdir(args.model_dir):
    cli.fail("-model_dir: no such directory: %s" % args.model_dir)
  config = os.path.join(args.model_dir, args.config_name)
  config = config if os.path.exists(config) else None
  vocab = os.path.join(args.model_dir, "vocab.txt") if args.tuned_model_dir else None
  prefix = os.path.join(args.tuned_model_dir or args.model_dir, args.ckpt_name)
  if os.path.exists(prefix + ".index"):
    return prefix, config, vocab
  if args.tuned_model_dir:
    cli.fail("-tuned_model_dir: no checkpoint %s (.index)" % prefix)
  return args.model_dir, None, None


def _model_name(path):
  """The served model's id: the model directory's name (its parent's if it is called `model`)."""
  path = os.path.normpath(path)
  name = os.path.basename(path)
  if name == "model" or name.startswith(("bert_model.ckpt", "model.ckpt")):
    name = os.path.basename(os.path.dirname(path)) or name
  return name


def build_app(args):
  """Parsed flags -> (FastAPI app, list of ports): loads the model; `cli.fail`s on bad input."""
  path, config_file, vocab_file = _check(args)
  if args.cpu:
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
  elif args.device_map:
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d in args.device_map)
  ignored = [name for name in IGNORED if getattr(args, name) != get_args_parser().get_default(name)]
  if ignored:
    print("bert-tf2-serving-start: ignoring -%s (no meaning for this server)" % ", -".join(ignored), file=sys.stderr)
  from bert_tf2.embeddings import encoder as embeddings  # pylint: disable=g-import-not-at-top
  from bert_tf2.serving import server as serving
  try:
    encoder = embeddings.SentenceEncoder.from_pretrained(
        path, vocab_file=vocab_file, bert_config_file=config_file, do_lower_case=args.do_lower_case,
        max_seq_length=args.max_seq_len, pooling_strategy=_ALIASES.get(args.pooling_strategy, args.pooling_strategy),
        pooling_layer=args.pooling_layer, normalize=args.normalize, batch_size=args.max_batch_size,
        precision=args.precision)
  except (ValueError, OSError) as e:
    cli.fail(str(e))
  config = getattr(encoder.model, "config", None)
  if args.max_seq_len is None and config is not None:  # NONE: as long as the model allows
    encoder.max_seq_length = config.max_position_embeddings
  server_info = {"port": args.port, "port_out": args.port_out, "http_port": args.http_port, "model_dir": path,
                 "cased_tokenization": not encoder.tokenizer.do_lower_case}
  if args.max_seq_len is None:
    server_info["max_seq_len"] = None  # bert-as-service's "no limit": the client warns about it
  searcher = None
  if args.index_dir:
    from bert_tf2.retrieval import searcher as searching  # pylint: disable=g-import-not-at-top
    try:
      searcher = searching.Searcher.load(args.index_dir)
    except (ValueError, OSError) as e:
      cli.fail("-index_dir: %s" % e)
    server_info["index_dir"] = args.index_dir
  application = serving.create_app(
      encoder, max_batch_size=args.max_batch_size, num_worker=args.num_worker,
      max_texts_per_request=args.max_texts_per_request, max_text_chars=args.max_text_chars,
      max_request_bytes=args.max_request_bytes, unk_threshold=args.unk_threshold,
      show_tokens_to_client=args.show_tokens_to_client, fixed_embed_length=args.fixed_embed_length,
      model_batch_size=args.model_batch_size,
      cors=args.cors, server_info=server_info, model_name=args.model_name or _model_name(path),
      api_key=args.api_key, searcher=searcher)
  ports = [args.port] + ([args.http_port] if args.http_port and args.http_port != args.port else [])
  return application, ports


def main(argv=None):
  args = get_args_parser().parse_args(argv)
  import logging  # pylint: disable=g-import-not-at-top
  logging.basicConfig(level=logging.INFO, format="%(levelname).1s %(asctime)s %(name)s: %(message)s")
  application, ports = build_app(args)
  from bert_tf2.serving import server as serving  # pylint: disable=g-import-not-at-top
  print("bert-tf2-serving-start: serving %s on %s (POST /encode, POST /v1/embeddings, GET /status%s); -port_out is "
        "unused over HTTP" % (args.model_dir or args.init_checkpoint,
                              ", ".join("http://%s:%d" % (args.host, p) for p in ports),
                              (", POST /search" if args.index_dir else "")
                              + ("; API key required" if args.api_key else "")), flush=True)
  try:
    serving.serve(application, host=args.host, port=ports[0], extra_ports=ports[1:],
                  log_level="info" if args.verbose else "warning")
  except OSError as e:  # e.g. the port is taken
    cli.fail("cannot listen on %s port %s: %s" % (args.host, ports, e.strerror or e))


def run():
  """Console entry points `bert-tf2-serving-start` and `bert-serving-start`."""
  try:
    main()
  except KeyboardInterrupt:
    print("bert-tf2-serving-start: stopped", file=sys.stderr)
    sys.exit(130)


if __name__ == "__main__":
  run()
