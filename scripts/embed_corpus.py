r"""Embeds a corpus on Apache Beam (RunInference): sharded vectors + ids + payloads for build_index.py.

  PYTHONPATH=. .venv/bin/python scripts/embed_corpus.py --input_file=corpus.tsv \
    --model=runs/dual_encoder/bert_model.ckpt --output_dir=runs/corpus_emb --max_seq_length=64 \
    --runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing
  PYTHONPATH=. .venv/bin/python scripts/build_index.py --embeddings_dir=runs/corpus_emb \
    --output_dir=runs/corpus_index --index_type=milvus

Input: build_index.py's (one item a line, `text<TAB>field...`). Beam's own flags (`--runner`,
`--direct_num_workers`, `--flink_master`, `--setup_file`, ...) go to the pipeline. The workers read the
input file and the model and write the shards at the paths given, so on Flink/Spark/Dataflow they
must be on a filesystem every worker sees (the launcher checks them as local paths: gs:// is not
supported yet), and `--setup_file=./setup.py` ships bert_tf2. Vectors equal `SentenceEncoder.encode`'s
(<= 1e-5; tests/test_embed_corpus.py). Prints one line per shard.
"""

import os
import sys
import threading

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Google checkpoint, Hugging Face directory or embedding SavedModel.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: the one beside the model.")
flags.DEFINE_string("input_file", None, "UTF-8 text, one item a line (tab: first field is embedded).")
flags.DEFINE_string("output_dir", None, "Directory for shard-*.npz and embeddings.json.")
flags.DEFINE_integer("max_seq_length", 64, "Tokens per text incl. [CLS]/[SEP].")
flags.DEFINE_enum("pooling_strategy", "REDUCE_MEAN", ["REDUCE_MEAN", "REDUCE_MAX", "REDUCE_MEAN_MAX", "CLS_TOKEN",
                                                      "SEP_TOKEN"], "Pooling (vectors are L2-normalized).")
flags.DEFINE_list("pooling_layer", ["-1"], "Encoder layer(s) to pool; -1 = last.")
flags.DEFINE_integer("batch_size", 64, "Texts per model call (after sorting a window by token count).")
flags.DEFINE_integer("window", 1024, "Texts RunInference hands the model at once (sorted by length inside).")
flags.DEFINE_integer("rows_per_shard", 50000, "Rows per output shard (the unit of parallel work).")
cli.define_errors_flag()


def main(argv):
  cli.require_flags(FLAGS, ("model", "input_file", "output_dir"))
  try:
    pooling_layer = [int(x) for x in FLAGS.pooling_layer]
  except ValueError:
    cli.fail("--pooling_layer must be integers")
  for name in ("batch_size", "window", "rows_per_shard"):
    if getattr(FLAGS, name) < 1:
      cli.fail("--%s must be positive" % name)
  import logging  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions
  # A failing element is re-raised here and printed as one line; not also as a logged traceback.
  logging.getLogger("apache_beam.runners.worker.bundle_processor").setLevel(logging.CRITICAL)
  from bert_tf2.core import checks
  from bert_tf2.embeddings import encoder as embeddings
  from bert_tf2.retrieval import corpus_beam, searcher
  checks.check_input_files(input_file=FLAGS.input_file, vocab_file=FLAGS.vocab_file)
  checks.check_model_path(FLAGS.model)
  checks.check_output_dir(FLAGS.output_dir)
  if os.path.exists(os.path.join(FLAGS.output_dir, corpus_beam.SUMMARY_FILE)):
    cli.fail("--output_dir: %s already holds embeddings (%s); use another directory"
             % (FLAGS.output_dir, corpus_beam.SUMMARY_FILE))
  shards = corpus_beam.plan_shards(FLAGS.input_file, FLAGS.rows_per_shard, FLAGS.errors)
  options = {"vocab_file": FLAGS.vocab_file, "max_seq_length": FLAGS.max_seq_length,
             "pooling_strategy": FLAGS.pooling_strategy, "pooling_layer": pooling_layer, "normalize": True}
  encoder = embeddings.SentenceEncoder.from_pretrained(FLAGS.model, batch_size=FLAGS.batch_size, **options)
  meta = dict(searcher.encoder_meta(encoder, FLAGS.model), dimension=encoder.dimension)
  del encoder  # the workers load their own
  rows = sum(s["rows"] for s in shards)
  print("embed_corpus: %d rows in %d shard(s); Beam options: %s" % (rows, len(shards), " ".join(argv[1:]) or "-"),
        flush=True)
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  outcome = {}

  def pipeline():
    try:
      outcome["summary"] = corpus_beam.run(shards, FLAGS.input_file, FLAGS.output_dir, FLAGS.model, options,
                                           PipelineOptions(argv[1:]), FLAGS.batch_size, FLAGS.window, FLAGS.errors,
                                           meta)
    except BaseException as e:  # pylint: disable=broad-except
      outcome["error"] = e
  # The pipeline runs in a thread: the runner may block the main thread in C where Ctrl-C is not seen;
  # here it is, and cli.run reports it and removes what the run made.
  thread = threading.Thread(target=pipeline, daemon=True)
  thread.start()
  try:
    while thread.is_alive():
      thread.join(0.2)
  finally:
    if "summary" not in outcome:
      corpus_beam.remove_temporaries(FLAGS.output_dir)
  if "error" in outcome:
    raise ValueError(corpus_beam.one_line_error(outcome["error"]))
  summary = outcome["summary"]
  for shard in summary["shards"]:
    print("  %s  %7d rows  ids %d-%d" % (shard["file"], shard["rows"], shard["first_id"], shard["last_id"]))
  print("embed_corpus: %d vectors of %d dims in %.1f s (%.1f texts/s) -> %s"
        % (summary["rows"], meta["dimension"], summary["seconds"], summary["rows"] / max(summary["seconds"], 1e-9),
           FLAGS.output_dir))


if __name__ == "__main__":
  cli.run(main, flags_parser=lambda argv: FLAGS(argv, known_only=True))
