"""The export_saved_model.py job: build a model from checkpoint files and write its SavedModel.

    export_from_checkpoint("export/", None, None, None, model_dir="runs/sentiment")    # a classifier
    export_from_checkpoint("enc/", "bert_config.json", "vocab.txt", "bert_model.ckpt", encoder_only=True)
"""

import os

from bert_tf2.core import checks
from bert_tf2.core import export
from bert_tf2.checkpoints import load_checkpoint
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.tasks.classification.job import read_classifier_config
from bert_tf2.modeling import BertConfig, BertModel


def export_from_checkpoint(export_dir, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
                           max_seq_length=128, model_dir=None, encoder_only=False, threshold=0.5):
  """Builds a model, loads its weights and exports it; returns the export path.

  Args:
    model_dir: a run_classifier output_dir: its classifier_config.json gives labels, pairing,
      casing and max_seq_length, its newest checkpoint the weights (unless `init_checkpoint` is given).
    encoder_only: export the bare encoder of `init_checkpoint` (`export.export_encoder`) instead.
    do_lower_case, max_seq_length: the encoder export's (a classifier keeps its fine-tuning ones).
    threshold: float, multi-label classifiers predict the labels with probability >= threshold.
  `bert_config_file` and `vocab_file` default to model_dir's.
  """
  if model_dir:
    bert_config_file = bert_config_file or os.path.join(model_dir, "bert_config.json")
    vocab_file = vocab_file or os.path.join(model_dir, "vocab.txt")
  for path in (bert_config_file, vocab_file):
    if not path or not os.path.isfile(path):
      raise ValueError("%s: file not found" % path)
  config = BertConfig.from_json_file(bert_config_file)
  if encoder_only:
    if not init_checkpoint:
      raise ValueError("exporting an encoder needs init_checkpoint (its weights)")
    checks.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
    encoder = BertModel(config)
    load_checkpoint(encoder, init_checkpoint)
    return export.export_encoder(encoder, export_dir, vocab_file, do_lower_case, max_seq_length)
  if not model_dir:
    raise ValueError("exporting a classifier needs model_dir (a run_classifier output_dir)")
  settings = read_classifier_config(model_dir)
  if settings is None:
    raise ValueError("%s: file not found (is %s a run_classifier output_dir?)"
                     % (os.path.join(model_dir, "classifier_config.json"), model_dir))
  model = BertClassifier(config, len(settings["labels"]), multi_label=settings["multi_label"])
  status = load_checkpoint(model, init_checkpoint or model_dir)
  if status.missing:
    raise ValueError("%s: missing weights %s" % (init_checkpoint or model_dir, ", ".join(status.missing[:5])))
  return export.export_classifier(model, export_dir, vocab_file, settings["do_lower_case"],
                                  settings["max_seq_length"], settings["labels"], settings["is_pair"], threshold)
