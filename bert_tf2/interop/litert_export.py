"""A bert_tf2 SavedModel (encoder or classifier) -> a LiteRT `.tflite` on ids, with its vocab beside it.

    export_litert("minilm_export/", "minilm_litert/", precision="int8")
    # minilm_litert/model.tflite, vocab.txt, litert_config.json

    # Any process with ai-edge-litert and numpy (tokenize with vocab.txt: BERT's WordPiece):
    from ai_edge_litert.interpreter import Interpreter
    run = Interpreter("minilm_litert/model.tflite").get_signature_runner()
    run(input_ids=ids, input_mask=mask, segment_ids=segments)  # int32 [B, T] each
    # encoder: embeddings [B, dim] (the export's pooling), sequence_output [B, T, D], pooled_output [B, D]
    # classifier: probabilities [B, num_labels] (labels in litert_config.json)

Read from the SavedModel, not a checkpoint: one route for every source (an encoder exported by
`encode.py --export_dir` or `export_saved_model.py --encoder_only`, a classifier by
`export_saved_model.py --model_dir`), and the export already records the vocab, casing and pooling.
Its `serve_ids` signature is frozen and converted (`bert_tf2.core.litert.convert`); tokenization stays
outside, as LiteRT has no WordPiece op. Other families (a tagger's CRF decoding, SQuAD's span search)
are refused with a one-line error.
"""

import json
import os
import shutil

import tensorflow as tf

from bert_tf2.core import export, litert
from bert_tf2.embeddings import pooling

CONFIG_FILE = "litert_config.json"


def _encoder_function(loaded):
  settings = export.encoder_settings(loaded)
  serve_ids = loaded.signatures["serve_ids"]

  def outputs(input_ids, input_mask, segment_ids):
    out = serve_ids(input_word_ids=input_ids, input_mask=input_mask, input_type_ids=segment_ids)
    layers = tf.unstack(out["encoder_outputs"], axis=1)  # L x (B, T, D)
    embeddings = pooling.pool_layers(layers, input_mask, settings["pooling_layer"], settings["pooling_strategy"],
                                     settings["normalize"])
    return {"embeddings": embeddings, "sequence_output": out["sequence_output"],
            "pooled_output": out["pooled_output"]}
  config = {key: settings[key] for key in ("do_lower_case", "max_seq_length", "pooling_strategy", "pooling_layer",
                                           "normalize")}
  return tf.function(outputs), dict(config, kind="encoder"), settings["vocab_file"]


def _classifier_function(loaded, saved_model_dir):
  serve_ids = loaded.signatures["serve_ids"]

  def outputs(input_ids, input_mask, segment_ids):
    return {"probabilities": serve_ids(input_ids=input_ids, input_mask=input_mask,
                                       segment_ids=segment_ids)["probabilities"]}
  with open(os.path.join(saved_model_dir, "assets", "labels.txt"), encoding="utf-8") as f:
    labels = [line.rstrip("\n") for line in f]
  vocab_file = loaded.text.vocab_asset.asset_path.numpy().decode()
  return tf.function(outputs), {"kind": "classifier", "labels": labels}, vocab_file


def export_litert(saved_model_dir, output_dir, precision="float32"):
  """Writes `output_dir`/model.tflite (ids in, see module doc), vocab.txt and litert_config.json.

  Args:
    saved_model_dir: an encoder or classifier SavedModel written by bert_tf2.
    output_dir: replaced if it exists (written beside it first).
    precision: "float32", "float16" (weights) or "int8" (dynamic range; `bert_tf2.core.litert`).
  Returns output_dir; ValueError (one line) for another precision or model family.
  """
  if precision not in litert.PRECISIONS:
    raise ValueError("precision must be one of %s for LiteRT; got %r" % (", ".join(litert.PRECISIONS), precision))
  if not os.path.exists(os.path.join(saved_model_dir, "saved_model.pb")):
    raise ValueError("%s: no saved_model.pb (export one with export_saved_model.py or encode.py --export_dir)"
                     % saved_model_dir)
  import tensorflow_text  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import  (the tokenizer's ops)
  loaded = tf.saved_model.load(saved_model_dir)
  outputs = sorted(loaded.signatures["serve_ids"].structured_outputs) if "serve_ids" in loaded.signatures else []
  if hasattr(loaded, "num_layers"):
    fn, config, vocab_file = _encoder_function(loaded)
  elif outputs == ["labels", "probabilities"] and os.path.exists(os.path.join(saved_model_dir, "assets",
                                                                              "labels.txt")):
    fn, config, vocab_file = _classifier_function(loaded, saved_model_dir)
  else:
    raise ValueError("%s: LiteRT export covers encoder and classifier SavedModels; this one's serve_ids gives %s"
                     % (saved_model_dir, ", ".join(outputs) or "nothing"))
  tflite = litert.convert(fn, precision)
  output_dir = os.path.abspath(output_dir)
  tmp = output_dir + ".tmp-%d" % os.getpid()
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  with open(os.path.join(tmp, "model.tflite"), "wb") as f:
    f.write(tflite)
  shutil.copyfile(vocab_file, os.path.join(tmp, "vocab.txt"))
  config.update(precision=precision, inputs=list(litert.INPUT_NAMES),
                outputs=sorted(litert.Runner(tflite).output_names))
  with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
    json.dump(config, f, indent=2, sort_keys=True)
  export.replace_directory(tmp, output_dir)
  return output_dir
