"""SavedModel export: a classifier that serves raw text, and the bare encoder for features.

    export_classifier(model, "export/", vocab_file, do_lower_case=True, max_seq_length=128,
                      label_list=["0", "1"], is_pair=False)

    # Any process with TensorFlow and tensorflow-text (whose ops the tokenizer uses):
    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    out = serve(text_a=tf.constant(["很好", "太差了"]))
    out["probabilities"]  # float32 [B, num_labels]
    out["labels"]         # string [B]: the most probable label (multi-label: those >= threshold, ",")

Signatures of a classifier export (`saved_model_cli show --dir export/ --all` lists them):
  serving_default: text_a (and text_b for pair tasks) string [B] -> probabilities, labels,
    tokenized in the graph with the fine-tuning vocab and casing (`bert_tf2.fast_tokenizer`),
    truncated as the original to max_seq_length.
  serve_ids: input_ids, input_mask, segment_ids int32 [B, T] -> probabilities, labels.
An encoder export has serving_default on ids and serve_text on raw text_a strings, both returning
sequence_output [B, T, D] and pooled_output [B, D] (serve_text also input_mask [B, T]).
"""

import os
import shutil

import tensorflow as tf

from bert_tf2.fast_tokenizer import FastTokenizer, pack_inputs

_IDS_SIGNATURE = {name: tf.TensorSpec([None, None], tf.int32, name=name)
                  for name in ("input_ids", "input_mask", "segment_ids")}


class _TextInputs(tf.Module):
  """Raw strings -> packed int32 inputs, in the graph."""

  def __init__(self, vocab_file, do_lower_case, max_seq_length):
    super().__init__()
    self.tokenizer = FastTokenizer(vocab_file, do_lower_case)
    self.max_seq_length = max_seq_length
    self.vocab_asset = tf.saved_model.Asset(vocab_file)

  def pack(self, text_a, text_b=None):
    ids = self.tokenizer.special_ids
    packed = pack_inputs(self.tokenizer(text_a), None if text_b is None else self.tokenizer(text_b),
                         self.max_seq_length, ids["[CLS]"], ids["[SEP]"])
    packed.pop("num_truncated")
    return packed


class ClassifierModule(tf.Module):
  """The exported object of a `BertClassifier`; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, label_list, is_pair,
               threshold=0.5):
    super().__init__()
    self.model = model
    self.text = _TextInputs(vocab_file, do_lower_case, max_seq_length)
    self.label_strings = tf.constant([str(label) for label in label_list])
    self.multi_label = bool(getattr(model, "multi_label", False))
    self.threshold = threshold
    self.is_pair = is_pair

  def _outputs(self, inputs):
    logits = tf.cast(self.model(inputs, training=False), tf.float32)
    if self.multi_label:
      probabilities = tf.sigmoid(logits)
      chosen = tf.ragged.boolean_mask(
          tf.broadcast_to(self.label_strings, tf.shape(probabilities)), probabilities >= self.threshold)
      labels = tf.strings.reduce_join(chosen, axis=-1, separator=",")
    else:
      probabilities = tf.nn.softmax(logits, axis=-1)
      labels = tf.gather(self.label_strings, tf.argmax(probabilities, axis=-1))
    return {"probabilities": probabilities, "labels": labels}

  def signatures(self):
    text = tf.TensorSpec([None], tf.string, name="text_a")
    if self.is_pair:
      serve_text = tf.function(lambda text_a, text_b: self._outputs(self.text.pack(text_a, text_b)),
                               input_signature=[text, tf.TensorSpec([None], tf.string, name="text_b")])
    else:
      serve_text = tf.function(lambda text_a: self._outputs(self.text.pack(text_a)), input_signature=[text])
    self.serve_text = serve_text
    ids = tf.function(lambda input_ids, input_mask, segment_ids: self._outputs(
        {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}),
        input_signature=list(_IDS_SIGNATURE.values()))
    return {"serving_default": serve_text.get_concrete_function(), "serve_ids": ids.get_concrete_function()}


class EncoderModule(tf.Module):
  """The exported object of a bare `BertModel` (feature extraction)."""

  def __init__(self, encoder, vocab_file, do_lower_case, max_seq_length):
    super().__init__()
    self.encoder = encoder
    self.text = _TextInputs(vocab_file, do_lower_case, max_seq_length)

  def _outputs(self, inputs):
    out = self.encoder(inputs, training=False)
    return {"sequence_output": tf.cast(out["sequence_output"], tf.float32),
            "pooled_output": tf.cast(out["pooled_output"], tf.float32)}

  def signatures(self):
    ids = tf.function(lambda input_ids, input_mask, segment_ids: self._outputs(
        {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}),
        input_signature=list(_IDS_SIGNATURE.values()))

    def serve_text(text_a):
      inputs = self.text.pack(text_a)
      return dict(self._outputs(inputs), input_mask=inputs["input_mask"])

    text = tf.function(serve_text, input_signature=[tf.TensorSpec([None], tf.string, name="text_a")])
    return {"serving_default": ids.get_concrete_function(), "serve_text": text.get_concrete_function()}


def _save(module, export_dir, extra_assets=None):
  """Saves to a temporary directory beside `export_dir`, then swaps it in."""
  export_dir = os.path.abspath(export_dir)
  tmp = export_dir + ".tmp-%d" % os.getpid()
  shutil.rmtree(tmp, ignore_errors=True)
  tf.saved_model.save(module, tmp, signatures=module.signatures())
  for name, text in (extra_assets or {}).items():
    with open(os.path.join(tmp, "assets", name), "w", encoding="utf-8") as f:
      f.write(text)
  if os.path.exists(export_dir):
    old = export_dir + ".old-%d" % os.getpid()
    os.replace(export_dir, old)
    shutil.rmtree(old)
  os.replace(tmp, export_dir)
  return export_dir


def export_classifier(model, export_dir, vocab_file, do_lower_case, max_seq_length, label_list,
                      is_pair=False, threshold=0.5):
  """Writes a raw-text SavedModel of a `BertClassifier` to `export_dir`; returns the path.

  Args:
    model: BertClassifier (softmax, or sigmoid when `model.multi_label`).
    vocab_file, do_lower_case: the fine-tuning tokenizer's; the vocab is copied into assets/.
    max_seq_length: int, texts are truncated to it as in fine-tuning.
    label_list: the label strings, in label-id order (also written to assets/labels.txt).
    is_pair: bool, serving_default takes text_a and text_b.
    threshold: float, multi-label `labels` lists those with probability >= threshold.
  """
  module = ClassifierModule(model, vocab_file, do_lower_case, max_seq_length, label_list, is_pair, threshold)
  return _save(module, export_dir, {"labels.txt": "".join("%s\n" % label for label in label_list)})


def export_encoder(encoder, export_dir, vocab_file, do_lower_case, max_seq_length):
  """Writes a SavedModel of a bare `BertModel` (sequence + pooled outputs) to `export_dir`."""
  return _save(EncoderModule(encoder, vocab_file, do_lower_case, max_seq_length), export_dir)


def export_from_checkpoint(export_dir, bert_config_file, vocab_file, init_checkpoint, do_lower_case=True,
                           max_seq_length=128, model_dir=None, encoder_only=False, threshold=0.5):
  """Builds a model, loads its weights and exports it (the job of scripts/export_saved_model.py).

  Args:
    model_dir: a run_classifier output_dir: its classifier_config.json gives labels, pairing and
      casing, its newest checkpoint the weights (unless `init_checkpoint` is given).
    encoder_only: export the bare encoder from `init_checkpoint` instead of a classifier.
  Other args as `export_classifier`; `bert_config_file` and `vocab_file` default to model_dir's.
  """
  import json  # pylint: disable=g-import-not-at-top
  from bert_tf2.checkpoints import load_checkpoint
  from bert_tf2.classifier import BertClassifier
  from bert_tf2.modeling import BertConfig, BertModel
  if model_dir:
    bert_config_file = bert_config_file or os.path.join(model_dir, "bert_config.json")
    vocab_file = vocab_file or os.path.join(model_dir, "vocab.txt")
  for path in (bert_config_file, vocab_file):
    if not path or not os.path.isfile(path):
      raise ValueError("%s: file not found" % path)
  config = BertConfig.from_json_file(bert_config_file)
  if encoder_only:
    if not init_checkpoint:
      raise ValueError("exporting an encoder needs --init_checkpoint")
    encoder = BertModel(config)
    load_checkpoint(encoder, init_checkpoint)
    return export_encoder(encoder, export_dir, vocab_file, do_lower_case, max_seq_length)
  if not model_dir:
    raise ValueError("exporting a classifier needs --model_dir (a run_classifier output_dir)")
  settings_file = os.path.join(model_dir, "classifier_config.json")
  if not os.path.isfile(settings_file):
    raise ValueError("%s: file not found (is %s a run_classifier output_dir?)" % (settings_file, model_dir))
  with open(settings_file, encoding="utf-8") as f:
    settings = json.load(f)
  model = BertClassifier(config, len(settings["labels"]), multi_label=settings["multi_label"])
  status = load_checkpoint(model, init_checkpoint or model_dir)
  if status.missing:
    raise ValueError("%s: missing weights %s" % (init_checkpoint or model_dir, ", ".join(status.missing[:5])))
  return export_classifier(model, export_dir, vocab_file, settings["do_lower_case"], settings["max_seq_length"],
                           settings["labels"], settings["is_pair"], threshold)
