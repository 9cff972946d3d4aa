"""Raw-text SavedModel of a `BertClassifier`: strings in, probabilities and labels out.

    export_classifier(model, "export/", vocab_file, do_lower_case=True, max_seq_length=128,
                      label_list=["0", "1"], is_pair=False)

    # Any process with TensorFlow and tensorflow-text (whose ops the tokenizer uses):
    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    out = serve(text_a=tf.constant(["很好", "太差了"]))
    out["probabilities"]  # float32 [B, num_labels]
    out["labels"]         # string [B]: the most probable label (multi-label: those >= threshold, ",")

Signatures (`saved_model_cli show --dir export/ --all` lists them):
  serving_default: text_a (and text_b for pair tasks) string [B] -> probabilities, labels,
    tokenized in the graph with the fine-tuning vocab and casing, truncated as the original.
  serve_ids: input_ids, input_mask, segment_ids int32 [B, T] -> probabilities, labels.
"""

import tensorflow as tf

from bert_tf2.core.export import TextModule, save_module


class ClassifierModule(TextModule):
  """The exported object of a `BertClassifier`; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, label_list, is_pair,
               threshold=0.5):
    super().__init__(model, vocab_file, do_lower_case, max_seq_length, is_pair)
    self.label_strings = tf.constant([str(label) for label in label_list])
    self.multi_label = bool(getattr(model, "multi_label", False))
    self.threshold = threshold

  def outputs(self, inputs):
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


def export_classifier(model, export_dir, vocab_file, do_lower_case, max_seq_length, label_list,
                      is_pair=False, threshold=0.5, precision="float32"):
  """Writes a raw-text SavedModel of a `BertClassifier` to `export_dir`; returns the path.

  Args:
    model: BertClassifier (softmax, or sigmoid when `model.multi_label`).
    vocab_file, do_lower_case: the fine-tuning tokenizer's; the vocab is copied into assets/.
    max_seq_length: int, texts are truncated to it as in fine-tuning.
    label_list: the label strings, in label-id order (also written to assets/labels.txt).
    is_pair: bool, serving_default takes text_a and text_b.
    threshold: float, multi-label `labels` lists those with probability >= threshold.
    precision: "int8" adds the model as LiteRT int8 (`core.text_model`); else what `model` computes in.
  """
  module = ClassifierModule(model, vocab_file, do_lower_case, max_seq_length, label_list, is_pair, threshold)
  return save_module(module, export_dir, {"labels.txt": "".join("%s\n" % label for label in label_list)},
                     precision=precision)
