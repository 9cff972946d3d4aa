r"""Top-k search in an index from scripts/build_index.py: queries from flags, a file, or interactively.

  PYTHONPATH=. .venv/bin/python scripts/search.py --index_dir=runs/faq_index --query=医疗保险怎么缴纳 --top_k=5
  PYTHONPATH=. .venv/bin/python scripts/search.py --index_dir=runs/faq_index   # FAQ mode: type questions

  PYTHONPATH=. .venv/bin/python scripts/search.py --index_dir=runs/idx --query=医保 --filter='source == "faq"'

Prints, per query, `rank. score  text<TAB>answer...`; in FAQ mode the nearest known questions
with their answers. An empty line or end of input quits. The index may be faiss or Milvus
(build_index.py --index_type); --filter is a Milvus boolean expression over its metadata fields.
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("index_dir", None, "Directory written by build_index.py.")
flags.DEFINE_string("model", None, "Override the model recorded in the index (same vectors space!).")
flags.DEFINE_multi_string("query", None, "A query; repeat the flag for several.")
flags.DEFINE_string("query_file", None, "Queries, one a line.")
flags.DEFINE_integer("top_k", 5, "Results per query.")
flags.DEFINE_string("filter", None, "Milvus boolean expression over metadata fields, e.g. 'source == \"faq\"'.")
cli.define_errors_flag()


def _print_results(query, results):
  print("query: %s" % query)
  for rank, (score, payload) in enumerate(results, 1):
    text = payload["text"] if isinstance(payload, dict) else str(payload)
    fields = payload.get("fields", []) if isinstance(payload, dict) else []
    print("  %d. %.4f  %s" % (rank, score, "\t".join([text] + fields)))
  sys.stdout.flush()


def main(argv):
  del argv
  if not FLAGS.index_dir:
    cli.fail("--index_dir is required")
  if not os.path.exists(os.path.join(FLAGS.index_dir, "meta.json")):
    cli.fail("--index_dir: no index (meta.json) in %s" % FLAGS.index_dir)
  if FLAGS.top_k < 1:
    cli.fail("--top_k must be positive")
  from bert_tf2.core import checks  # pylint: disable=g-import-not-at-top
  from bert_tf2.retrieval import searcher as searching
  queries = list(FLAGS.query or [])
  if FLAGS.query_file:
    queries += [q for q in checks.read_lines(FLAGS.query_file, FLAGS.errors) if q.strip()]
  searcher = searching.Searcher.load(FLAGS.index_dir, FLAGS.model)  # errors: one line (cli.run)
  try:
    if queries:
      for query, results in zip(queries, searcher.search(queries, FLAGS.top_k, filter=FLAGS.filter)):
        _print_results(query, results)
      return
    interactive = sys.stdin.isatty()
    while True:  # FAQ mode
      if interactive:
        print("question> ", end="", file=sys.stderr, flush=True)
      line = sys.stdin.readline()
      if not line.strip():
        break
      _print_results(line.strip(), searcher.search([line.strip()], FLAGS.top_k, filter=FLAGS.filter)[0])
  finally:
    searcher.close()


if __name__ == "__main__":
  cli.run(main, outputs=())
