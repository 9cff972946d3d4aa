"""Every fine-tuning family, one line each (a new family adds its line here), and the export of
any family's output_dir, found by its settings file.

    export_from_dir("out/", "export/")      # a run_classifier / run_ner / run_squad / ... output_dir
 Pretraining and the dual encoder are not here: they train from record streams
and text pairs for a number of steps, and export encoders, not raw-text task models.
"""

import os

from bert_tf2.core import checks
from bert_tf2.core import precision as precisions
from bert_tf2.modeling import BertConfig
from bert_tf2.tasks import runner
from bert_tf2.tasks.classification.task import ClassificationTask
from bert_tf2.tasks.multiple_choice.task import MultipleChoiceTask
from bert_tf2.tasks.regression.task import RegressionTask
from bert_tf2.tasks.squad.task import SquadTask
from bert_tf2.tasks.tagging.task import TaggingTask

FAMILIES = {
    "classifier": ClassificationTask,
    "tagger": TaggingTask,
    "squad": SquadTask,
    "regression": RegressionTask,
    "multiple_choice": MultipleChoiceTask,
}


def export_from_dir(model_dir, export_dir, overrides=None, init_checkpoint=None, precision="float32"):
  """Exports the newest checkpoint of any family's `output_dir` as that family's SavedModel.

  The family is the one of `FAMILIES` whose settings file is in `model_dir`; its vocab and
  bert_config are the copies training wrote there. `overrides` {name: value} replace
  saved settings (a classifier's multi-label `threshold`); `init_checkpoint`, other weights than
  model_dir's newest checkpoint. `precision`: "float32"; "bfloat16" (the model is built under
  `mixed_bfloat16`: same signatures, float32 outputs); "int8" (float32 signatures, plus the model as
  LiteRT int8 and the signatures around it, which `core.text_model.TextModel` runs). Returns export_dir.
  """
  precisions.check_precision(precision)
  found = [cls for cls in FAMILIES.values() if os.path.isfile(os.path.join(model_dir, cls.settings_file))]
  if not found:
    raise ValueError("%s: not a fine-tuning output_dir (none of %s)" % (
        model_dir, ", ".join(sorted({cls.settings_file for cls in FAMILIES.values()}))))
  task = found[0]()
  checks.check_output_dir(export_dir, "export_dir")
  settings = dict(runner.read_settings(model_dir, task.settings_file), **(overrides or {}))
  config = BertConfig.from_json_file(os.path.join(model_dir, "bert_config.json"))
  with precisions.build_scope(precision):
    model = task.build_model(config, settings)
  runner.restore(model, None if init_checkpoint else model_dir, init_checkpoint, task)
  return task.export(model, export_dir, os.path.join(model_dir, "vocab.txt"), settings, precision)
