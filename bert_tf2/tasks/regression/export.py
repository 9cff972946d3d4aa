"""Raw-text SavedModel of a regression model (`BertClassifier(config, 1)`): strings in, a score out.

    export_regressor(model, "export/", vocab_file, do_lower_case=True, max_seq_length=128)

    import tensorflow as tf, tensorflow_text  # noqa: F401  (the tokenizer's ops)
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    serve(text_a=tf.constant(["A man is playing a guitar."]),
          text_b=tf.constant(["A man plays the guitar."]))["score"]   # float32 [B]

Signatures:
  serving_default: text_a and text_b (text_a only when trained on single texts) string [B] ->
    score float32 [B], tokenized in the graph with the fine-tuning vocab and casing.
  serve_ids: input_ids, input_mask, segment_ids int32 [B, T] -> score float32 [B].
"""

import tensorflow as tf

from bert_tf2.core.export import IDS_SIGNATURE, TextInputs, save_module


class RegressorModule(tf.Module):
  """The exported object of a one-output model; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, is_pair=True):
    super().__init__()
    self.model = model
    self.text = TextInputs(vocab_file, do_lower_case, max_seq_length)
    self.is_pair = is_pair

  def _outputs(self, inputs):
    return {"score": tf.cast(self.model(inputs, training=False), tf.float32)[:, 0]}

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
        input_signature=list(IDS_SIGNATURE.values()))
    return {"serving_default": serve_text.get_concrete_function(), "serve_ids": ids.get_concrete_function()}


def export_regressor(model, export_dir, vocab_file, do_lower_case, max_seq_length, is_pair=True):
  """Writes the raw-text SavedModel of a one-output `model` to `export_dir`; returns the path."""
  return save_module(RegressorModule(model, vocab_file, do_lower_case, max_seq_length, is_pair), export_dir)
