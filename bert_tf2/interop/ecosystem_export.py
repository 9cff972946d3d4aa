"""The export_hf.py job: a checkpoint out to Hugging Face, keras-hub and TF Hub-style SavedModels.

    export_to_ecosystems("bert_config.json", "vocab.txt", "bert_model.ckpt", do_lower_case=True,
                         model="pretrainer", hf_export_dir="out/hf", keras_hub_preset_dir="out/keras_hub",
                         tfhub_export_dir="out/tfhub")
    export_to_ecosystems(None, None, None, None, model="classifier", model_dir="runs/sentiment",
                         hf_export_dir="out/hf")
"""

import os

from absl import logging

from bert_tf2.core import checks
from bert_tf2.core import export
from bert_tf2.interop import hub_preprocessing
from bert_tf2.interop import keras_hub_export
from bert_tf2.checkpoints import load_checkpoint, save_hf_checkpoint
from bert_tf2.tasks.classification.model import BertClassifier
from bert_tf2.tasks.classification.task import read_classifier_config
from bert_tf2.modeling import BertModel
from bert_tf2.tasks.pretraining.model import BertPretrainer

MODELS = ("encoder", "pretrainer", "classifier")


def build_model(model, bert_config_file, vocab_file, init_checkpoint, do_lower_case, model_dir=None,
                max_seq_length=128):
  """(Keras model with its weights loaded, settings dict: vocab_file, do_lower_case, max_seq_length, labels).

  `model` is one of MODELS; a classifier takes labels, casing and max_seq_length from `model_dir`'s
  classifier_config.json (a run_classifier output_dir) and its weights from init_checkpoint or model_dir.
  """
  if model not in MODELS:
    raise ValueError("model must be one of %s, got %r" % (", ".join(MODELS), model))
  labels = None
  if model == "classifier":
    if not model_dir:
      raise ValueError("exporting a classifier needs model_dir (a run_classifier output_dir)")
    settings = read_classifier_config(model_dir)
    if settings is None:
      raise ValueError("%s: no classifier_config.json (is it a run_classifier output_dir?)" % model_dir)
    bert_config_file = bert_config_file or os.path.join(model_dir, "bert_config.json")
    vocab_file = vocab_file or os.path.join(model_dir, "vocab.txt")
    labels, do_lower_case = settings["labels"], settings["do_lower_case"]
    max_seq_length = settings["max_seq_length"]
    init_checkpoint = init_checkpoint or model_dir
  elif not init_checkpoint:
    raise ValueError("exporting a%s %s needs init_checkpoint (its weights)" % ("n" * (model == "encoder"), model))
  if do_lower_case is None:
    raise ValueError("do_lower_case is required (the casing the model was trained with)")
  config = checks.check_model_files(vocab_file, bert_config_file, init_checkpoint, max_seq_length)
  if model == "classifier":
    keras_model = BertClassifier(config, len(labels), multi_label=settings["multi_label"])
  else:
    keras_model = BertPretrainer(config) if model == "pretrainer" else BertModel(config)
  status = load_checkpoint(keras_model, init_checkpoint)
  if status.missing:
    raise ValueError("%s: has no %s for a %s" % (init_checkpoint, ", ".join(status.missing[:3]), model))
  return keras_model, {"vocab_file": vocab_file, "do_lower_case": bool(do_lower_case),
                       "max_seq_length": max_seq_length, "labels": labels}


def export_to_ecosystems(bert_config_file, vocab_file, init_checkpoint, do_lower_case, model="encoder",
                         model_dir=None, hf_export_dir=None, keras_hub_preset_dir=None, tfhub_export_dir=None,
                         max_seq_length=128, allow_gelu_approximation=False, keras_hub_lowercase=None):
  """Writes each export asked for; returns {"hf" | "keras_hub" | "tfhub_encoder" | "tfhub_preprocessing": path}.

  Args:
    bert_config_file, vocab_file, init_checkpoint, do_lower_case: the model (Google checkpoint prefix,
      a bert_tf2 checkpoint or output dir, or a Hugging Face directory). A classifier's default to model_dir's.
    model: "encoder", "pretrainer" (masked-LM and NSP heads too) or "classifier".
    hf_export_dir: a transformers directory (`checkpoints.save_hf_checkpoint`).
    keras_hub_preset_dir: a keras-hub preset (`keras_hub_export.save_keras_hub_preset`).
    tfhub_export_dir: TF Hub-style SavedModels: `encoder/` (`export.export_encoder`, TF Hub's
      encoder signature) and `preprocessing/` (`hub_preprocessing`), at max_seq_length.
    allow_gelu_approximation, keras_hub_lowercase: see `save_keras_hub_preset`.
  """
  if not (hf_export_dir or keras_hub_preset_dir or tfhub_export_dir):
    raise ValueError("nothing to do: give hf_export_dir, keras_hub_preset_dir and/or tfhub_export_dir")
  for name, path in (("hf_export_dir", hf_export_dir), ("keras_hub_preset_dir", keras_hub_preset_dir),
                     ("tfhub_export_dir", tfhub_export_dir)):
    if path:
      checks.check_output_dir(path, name)
  keras_model, settings = build_model(model, bert_config_file, vocab_file, init_checkpoint, do_lower_case,
                                      model_dir, max_seq_length)
  vocab_file, do_lower_case = settings["vocab_file"], settings["do_lower_case"]
  written = {}
  if keras_hub_preset_dir:  # first: it may refuse the model (exact gelu), before anything is written
    written["keras_hub"], difference = keras_hub_export.save_keras_hub_preset(
        keras_model, keras_hub_preset_dir, vocab_file, do_lower_case, settings["max_seq_length"],
        allow_gelu_approximation=allow_gelu_approximation, tokenizer_lowercase=keras_hub_lowercase)
    logging.info("keras-hub backbone vs ours on a probe batch: max |diff| %.3g", difference)
  if hf_export_dir:
    written["hf"] = save_hf_checkpoint(keras_model, hf_export_dir, vocab_file=vocab_file,
                                       do_lower_case=do_lower_case, label_list=settings["labels"])
  if tfhub_export_dir:
    encoder = getattr(keras_model, "encoder", keras_model)
    written["tfhub_encoder"] = export.export_encoder(encoder, os.path.join(tfhub_export_dir, "encoder"), vocab_file,
                                                     do_lower_case, settings["max_seq_length"])
    written["tfhub_preprocessing"] = hub_preprocessing.export_preprocessing(
        os.path.join(tfhub_export_dir, "preprocessing"), vocab_file, do_lower_case, settings["max_seq_length"])
  return written
