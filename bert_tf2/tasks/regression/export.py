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

from bert_tf2.core.export import TextModule, save_module


class RegressorModule(TextModule):
  """The exported object of a one-output model; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, is_pair=True):
    super().__init__(model, vocab_file, do_lower_case, max_seq_length, is_pair)

  def outputs(self, inputs):
    return {"score": tf.cast(self.model(inputs, training=False), tf.float32)[:, 0]}


def export_regressor(model, export_dir, vocab_file, do_lower_case, max_seq_length, is_pair=True,
                     precision="float32"):
  """Writes the raw-text SavedModel of a one-output `model` to `export_dir`; returns the path
  (`precision` "int8": the model as LiteRT int8 too, `core.text_model`)."""
  return save_module(RegressorModule(model, vocab_file, do_lower_case, max_seq_length, is_pair), export_dir,
                     precision=precision)
