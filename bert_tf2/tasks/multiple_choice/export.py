"""Raw-text SavedModel of a `BertMultipleChoice`: context, question and options in, probabilities out.

    export_multiple_choice(model, "export/", vocab_file, do_lower_case=True, max_seq_length=128)

    # Any process with TensorFlow and tensorflow-text (whose ops the tokenizer uses):
    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    out = serve(context=tf.constant(["男：你好。女：你好，请坐。"]), question=tf.constant(["他们在哪儿？"]),
                options=tf.constant([["办公室", "饭馆", "", ""]]))     # "" = no option (masked)
    out["probabilities"]  # float32 [B, C], 0 for empty options
    out["label"]          # int32 [B]: the most probable option's index

Signatures:
  serving_default: context, question string [B], options string [B, C] -> probabilities, label; each
    option packed as fine-tuning packs it (`[CLS] context [SEP] question option [SEP]`, truncated
    as the original), tokenized in the graph with the fine-tuning vocab and casing.
  serve_ids: input_ids, input_mask, segment_ids int32 [B, C, T], choice_mask int32 [B, C] -> the same.
"""

import tensorflow as tf

from bert_tf2.core.export import TextInputs, save_module
from bert_tf2.tasks.multiple_choice.model import probabilities


class MultipleChoiceModule(tf.Module):
  """The exported object of a `BertMultipleChoice`; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length):
    super().__init__()
    self.model = model
    self.text = TextInputs(vocab_file, do_lower_case, max_seq_length)

  def _outputs(self, inputs):
    p = probabilities(self.model(inputs, training=False))
    return {"probabilities": p, "label": tf.argmax(p, axis=-1, output_type=tf.int32)}

  def _serve_text(self, context, question, options):
    shape = tf.shape(options)
    batch, choices = shape[0], shape[1]
    first = tf.repeat(context, choices)
    second = tf.strings.join([tf.repeat(question, choices), tf.reshape(options, [-1])], separator=" ")
    packed = self.text.pack(first, second)  # [B * C, T]
    inputs = {name: tf.reshape(t, [batch, choices, -1]) for name, t in packed.items()}
    inputs["choice_mask"] = tf.cast(tf.not_equal(options, ""), tf.int32)
    return self._outputs(inputs)

  def text_function(self):
    """serving_default's function: context, question, options -> probabilities, label."""
    text = [tf.TensorSpec([None], tf.string, name="context"), tf.TensorSpec([None], tf.string, name="question"),
            tf.TensorSpec([None, None], tf.string, name="options")]
    return tf.function(self._serve_text, input_signature=text)

  def signatures(self):
    self.serve_text = self.text_function()
    ids = [tf.TensorSpec([None, None, None], tf.int32, name=name) for name in ("input_ids", "input_mask",
                                                                              "segment_ids")]
    self.serve_ids = tf.function(lambda input_ids, input_mask, segment_ids, choice_mask: self._outputs(
        {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids, "choice_mask": choice_mask}),
        input_signature=ids + [tf.TensorSpec([None, None], tf.int32, name="choice_mask")])
    return {"serving_default": self.serve_text.get_concrete_function(),
            "serve_ids": self.serve_ids.get_concrete_function()}


def export_multiple_choice(model, export_dir, vocab_file, do_lower_case, max_seq_length, precision="float32"):
  """Writes a raw-text SavedModel of a `BertMultipleChoice` to `export_dir`; returns the path.

  Args:
    model: BertMultipleChoice.
    vocab_file, do_lower_case: the fine-tuning tokenizer's; the vocab is copied into assets/.
    max_seq_length: int, each option's pair is truncated to it as in fine-tuning.
    precision: "int8" adds the model as LiteRT int8 (`core.text_model`).
  """
  return save_module(MultipleChoiceModule(model, vocab_file, do_lower_case, max_seq_length), export_dir,
                     precision=precision)
