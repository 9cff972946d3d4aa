r"""`bert-tf2-serving-start`: an HTTP embedding server with bert-as-service's flags.

  bert-tf2-serving-start -model_dir /tmp/chinese_L-12_H-768_A-12 -port 5555 -num_worker 1 \
      -max_seq_len 64 -max_batch_size 256 -pooling_strategy REDUCE_MEAN -pooling_layer -2
  # or: python -m bert_tf2.serving_start -init_checkpoint runs/pretrain_zh/bert_model.ckpt \
  #       -bert_config_file runs/pretrain_zh/bert_config.json -vocab_file runs/pretrain_zh/vocab.txt

  curl -s localhost:5555/encode -d '{"texts": ["医疗保险怎么缴纳", "hello world"]}'
  python -c "from bert_tf2.serving import BertClient; print(BertClient(port=5555).encode(['hi']).shape)"

`-model_dir` is a Google model directory (bert_config.json, vocab.txt, bert_model.ckpt), a
Hugging Face directory or an embedding SavedModel (scripts/encode.py --export_dir).
`-num_worker` is the number of model calls in flight at once (threads), not processes.
"""

import os

from absl import app, flags

from bert_tf2 import cli


FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Google model dir, Hugging Face dir or embedding SavedModel.")
flags.DEFINE_string("ckpt_name", "bert_model.ckpt", "Checkpoint prefix inside a Google -model_dir.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint prefix (instead of -model_dir).")
flags.DEFINE_string("bert_config_file", None, "bert_config.json (with -init_checkpoint).")
flags.DEFINE_string("vocab_file", None, "vocab.txt (with -init_checkpoint).")
flags.DEFINE_bool("do_lower_case", None, "Lower-case input; default: from the model.")
flags.DEFINE_string("host", "0.0.0.0", "Interface to listen on.")
flags.DEFINE_integer("port", 5555, "HTTP port.")
flags.DEFINE_integer("num_worker", 1, "Concurrent model calls.")
flags.DEFINE_integer("max_seq_len", 25, "Tokens per text incl. [CLS]/[SEP] (bert-as-service's default 25).")
flags.DEFINE_integer("max_batch_size", 256, "Most texts in one model call.")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN",
                  ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN", "SEP_TOKEN", "NONE"], "Pooling.")
flags.DEFINE_list("pooling_layer", ["-2"], "Encoder layer(s) to pool; -1 = last; several are concatenated.")
flags.DEFINE_bool("normalize", False, "L2-normalize the vectors.")
flags.DEFINE_integer("max_texts_per_request", 256, "Most texts in one request (413 above).")
flags.DEFINE_integer("max_text_chars", 10000, "Most characters in one text (413 above).")


def _model_path():
  if FLAGS.init_checkpoint:
    return FLAGS.init_checkpoint
  if not FLAGS.model_dir:
    cli.fail("give -model_dir, or -init_checkpoint with -bert_config_file and -vocab_file")
  if not os.path.isdir(FLAGS.model_dir):
    cli.fail("-model_dir: no such directory: %s" % FLAGS.model_dir)
  google_prefix = os.path.join(FLAGS.model_dir, FLAGS.ckpt_name)
  return google_prefix if os.path.exists(google_prefix + ".index") else FLAGS.model_dir


def main(argv):
  del argv
  for name in ("port", "num_worker", "max_seq_len", "max_batch_size", "max_texts_per_request", "max_text_chars"):
    if getattr(FLAGS, name) < 1:
      cli.fail("-%s must be positive" % name)
  try:
    pooling_layer = [int(x) for x in FLAGS.pooling_layer]
  except ValueError:
    cli.fail("-pooling_layer must be integers, got %s" % ",".join(FLAGS.pooling_layer))
  path = _model_path()
  from bert_tf2 import embeddings, serving  # pylint: disable=g-import-not-at-top
  try:
    encoder = embeddings.SentenceEncoder.from_pretrained(
        path, vocab_file=FLAGS.vocab_file, bert_config_file=FLAGS.bert_config_file,
        do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_len,
        pooling_strategy=FLAGS.pooling_strategy, pooling_layer=pooling_layer, normalize=FLAGS.normalize,
        batch_size=FLAGS.max_batch_size)
  except (ValueError, OSError) as e:
    cli.fail(str(e))
  application = serving.create_app(encoder, max_batch_size=FLAGS.max_batch_size, num_worker=FLAGS.num_worker,
                                   max_texts_per_request=FLAGS.max_texts_per_request,
                                   max_text_chars=FLAGS.max_text_chars)
  print("bert-tf2-serving-start: serving %s on http://%s:%d (POST /encode, GET /status)"
        % (path, FLAGS.host, FLAGS.port), flush=True)
  serving.serve(application, host=FLAGS.host, port=FLAGS.port, log_level="info")


def run():
  """Console entry point (`bert-tf2-serving-start = bert_tf2.serving_start:run`)."""
  app.run(main)


if __name__ == "__main__":
  run()
