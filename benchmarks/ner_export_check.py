r"""Entity F1 of an exported tagger (SavedModel, raw text in) on People's Daily test, per sentence and
per whole document (long multi-sentence inputs: windows in the graph).

  PYTHONPATH=. .venv/bin/python benchmarks/ner_export_check.py --export_dir=runs/ner_zh/export

Gold entities come from `data_prep.corpora.peoples_daily_entities("test")`; predicted ones from the
SavedModel's per-character `tags` through `bert_tf2.tasks.tagging.export.entities`. Counting is conlleval's
(exact type and span). Documents are the paragraphs of a test document joined without separators.
"""

import collections
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("export_dir", "runs/ner_zh/export", "The tagger SavedModel.")
flags.DEFINE_integer("batch_size", 32, "Texts per request.")


def score(texts, golds, tag, batch_size):
  """(entity F1, precision, recall) of `tag` ([str] -> per-character tags [B, C]) against `golds`."""
  from bert_tf2.tasks.tagging import export as tagging_export  # pylint: disable=g-import-not-at-top
  correct = predicted = gold = 0
  per_type = collections.Counter()
  for i in range(0, len(texts), batch_size):
    batch = texts[i:i + batch_size]
    tags = tag(batch)
    for text, row, truth in zip(batch, tags, golds[i:i + batch_size]):
      found = {(k, s, e) for k, s, e, _ in tagging_export.entities(text, row)}
      truth = {(k, s, e) for k, s, e, _ in truth}
      correct += len(found & truth)
      predicted += len(found)
      gold += len(truth)
      for kind, _, _ in found & truth:
        per_type[kind] += 1
  p, r = correct / max(predicted, 1), correct / max(gold, 1)
  return 2 * p * r / max(p + r, 1e-9), p, r


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  from data_prep import corpora  # pylint: disable=g-import-not-at-top
  serve = tf.saved_model.load(FLAGS.export_dir).signatures["serving_default"]
  tag = lambda batch: serve(text=tf.constant(batch))["tags"].numpy()
  sentences = corpora.peoples_daily_entities("test")
  documents = collections.OrderedDict()
  for x in corpora.peoples_daily_entities("test", unit="paragraph"):
    text, entities = documents.get(x["document"], ("", []))
    documents[x["document"]] = (text + x["text"], entities + [(k, s + len(text), e + len(text), t)
                                                             for k, s, e, t in x["entities"]])
  for name, texts, golds in (
      ("sentences", [x["text"] for x in sentences], [x["entities"] for x in sentences]),
      ("whole documents", [t for t, _ in documents.values()], [e for _, e in documents.values()])):
    start = time.time()
    f1, p, r = score(texts, golds, tag, FLAGS.batch_size if name == "sentences" else 4)
    print("export check, %s (%d texts, up to %d characters): entity F1 %.4f (P %.4f R %.4f), %.0f s"
          % (name, len(texts), max(map(len, texts)), f1, p, r, time.time() - start))


if __name__ == "__main__":
  app.run(main)
