"""The task protocol: what a task family declares. `bert_tf2.tasks.runner` does everything else.

A family (classification, tagging, span QA, multiple choice, ...) is a folder holding its data
reader, model, metrics and export, and one `Task` subclass that ties them to the runner:

    class TaggingTask(Task):
      name, settings_file = "tagger", "tagger_config.json"
      def settings(self, saved): ...           # labels, CRF, windows: what eval, predict, export need
      def build_model(self, config, settings): return BertTagger(config, len(settings["labels"]), ...)
      def train_inputs(self, settings, tokenizer): ...     # -> TrainInputs (feature arrays)
      def evaluate(self, model, settings, tokenizer, batch_size): ...   # -> Scores (dev split)
      def predict(self, model, settings, tokenizer, batch_size, output_dir): ...  # writes its files
      def export(self, model, export_dir, vocab_file, settings, precision): ...  # raw-text SavedModel

    runner.run(TaggingTask(processor, data_dir), output_dir, vocab_file, bert_config_file, do_train=True)

What a family never writes again: the input and output checks, the settings file and the vocab /
config copies, the optimizer, the training loop and its resume, restoring for eval / predict /
export, the batched forward pass (`runner.predict_batches`), TensorBoard, `eval_results.txt`.
A task built with no data (`Task()`) must still build, restore and export a model from its saved
settings: that is how `registry.export_from_dir` exports any family's output_dir.
"""

import dataclasses

import tensorflow as tf


class SplitReader:
  """`get_{train,dev,test}_examples(data_dir)` = `self._read(data_dir, split)`: the one place the three
  entry points Google's `DataProcessor` names are written; a reader (any family's) defines `_read`, or
  overrides an entry point that does more (Google's GLUE processors, which read other file names)."""

  def get_train_examples(self, data_dir):
    return self._read(data_dir, "train")

  def get_dev_examples(self, data_dir):
    return self._read(data_dir, "dev")

  def get_test_examples(self, data_dir):
    return self._read(data_dir, "test")

  def _read(self, data_dir, split):
    raise NotImplementedError("%s reads no %s split: define _read(data_dir, split) or get_%s_examples"
                              % (type(self).__name__, split, split))


@dataclasses.dataclass
class TrainInputs:
  """What fine-tuning reads.

  Attributes:
    arrays: {name: np.ndarray [N, ...]}: the model inputs and the labels `loss_fn` reads.
    num_examples: int, what the step budget counts: int(num_examples / batch_size * epochs), as the
      originals (SQuAD counts questions, not their windows).
    counts: {name: int} reported in the run's results (`train_truncated`, `train_windows`, ...).
  """
  arrays: dict
  num_examples: int
  counts: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Scores:
  """An evaluation: `values` {name: number} reported and written to TensorBoard (the `eval_*`
  ones); `text`, the family's own eval_results.txt layout (None: the original's `key = value` lines)."""
  values: dict
  text: str = None


class Task:
  """The protocol; a family overrides what it has (every method below raises or does nothing)."""

  name = None            # the model in messages: "classifier", "tagger", "SQuAD model"
  settings_file = None   # written to output_dir by training; eval, predict and export read it back
  inference = "evaluate or predict with"  # what eval/predict-only runs need weights for (messages)

  def check(self, config, max_seq_length, phases):
    """Family-specific argument checks, before any work (ValueError, one line). `phases`: the set of
    "train", "eval", "predict" this run does."""

  def settings(self, saved):
    """{name: JSON value}: the family's settings. `saved` is what training wrote (None when this
    run trains); the runner adds max_seq_length and do_lower_case."""
    return dict(saved or {})

  def build_model(self, config, settings):
    """The Keras task model over a fresh `BertModel(config)`; its heads declare their checkpoint names."""
    raise NotImplementedError

  def lr_multipliers(self, settings, learning_rate):
    """(variable path regex, factor) pairs on `learning_rate` for the family's own variables (a CRF's
    rate); matched before the layer-wise decay's (`bert_tf2.optimization`). [] = none."""
    return []

  def loss_fn(self, model, features, training):
    """`bert_tf2.core.training` loss: (float32 scalar, {name: float32 sum})."""
    raise NotImplementedError

  def metrics_fn(self, totals):
    """{name: total} -> {name: float}, what the training log shows besides the loss."""
    return {}

  def train_inputs(self, settings, tokenizer):
    """`TrainInputs` of the train split. May record what the data shows in `settings` (is_pair)."""
    raise NotImplementedError

  def make_dataset(self, arrays, batch_size, seed):
    """Training batches: shuffled, repeated, full. A family overrides it to bucket by length."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    dataset = dataset.shuffle(min(len(next(iter(arrays.values()))), 100000), seed=seed).repeat()
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  def evaluate(self, model, settings, tokenizer, batch_size):
    """`Scores` of the dev split (do_eval)."""
    raise ValueError("%s: no evaluation split (use do_predict)" % self.name)

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    """Writes the family's prediction files into output_dir (do_predict); returns {name: value}."""
    raise NotImplementedError

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    """Writes the raw-text SavedModel of `model` to export_dir; returns its path. `precision`: the
    one `model` was built at, or "int8" (a float32 model, also written as LiteRT int8)."""
    raise ValueError("%s: no SavedModel export for this family" % self.name)

