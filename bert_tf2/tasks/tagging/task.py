"""Token tagging through the task protocol: run_ner.py's family (NER, POS; softmax or CRF).

    results = run_ner(datasets.get_processor("conll"), "data/ner", "out/", "vocab.txt", "bert_config.json",
                      init_checkpoint="bert_model.ckpt", use_crf=True, do_train=True, do_eval=True, do_predict=True)

Outputs in `output_dir` besides the runner's: `eval_results.txt` (dev: entity precision / recall /
F1 overall and per type, token accuracy), the processor's prediction file (`test_predictions.txt`,
"token gold predicted" lines; CLUENER: `cluener_predict.json`) and, when test is labelled,
`test_results.txt` (the same scores on test); `tagger_config.json` (labels, scheme, CRF, windows).
Sentences longer than max_seq_length - 2 pieces are windowed (`doc_stride`). The dev and test
files a run will use are read (and checked) before training starts.
"""

import os
import random

from bert_tf2.tasks import base, runner
from bert_tf2.tasks.tagging import data, metrics
from bert_tf2.tasks.tagging import model as tagging
from bert_tf2.tasks.tagging.export import export_tagger
from bert_tf2.tasks.tagging.model import BertTagger

TAGGER_CONFIG = "tagger_config.json"


class TaggingTask(base.Task):
  """CoNLL-style files -> `BertTagger`; one tag per word, windows for long sentences.

  Args:
    processor: a `data.ConllProcessor` (None: export only).
    data_dir: the directory of its train / dev / test files.
    use_crf: bool, a CRF over the tags (a trained output_dir's setting wins).
    doc_stride: int, pieces between the starts of consecutive windows of a long sentence.
    max_train_examples: int or None, train on a random subset of this many sentences (`seed`).
    crf_learning_rate: float or None, the peak learning rate of the CRF's scores (transitions, start,
      end), on the same warmup and decay as the encoder's; None = `tagging.CRF_LR_MULTIPLIER` (100)
      times the encoder's. bert4keras' `crf_lr_multiplier=1000` at lr 2e-5 is crf_learning_rate=2e-2.
  """

  name = "tagger"
  settings_file = TAGGER_CONFIG

  def __init__(self, processor=None, data_dir=None, use_crf=False, doc_stride=64, max_train_examples=None,
               seed=12345, crf_learning_rate=None):
    self.processor, self.data_dir, self.use_crf, self.doc_stride = processor, data_dir, use_crf, doc_stride
    self.max_train_examples, self.seed, self.crf_learning_rate = max_train_examples, seed, crf_learning_rate
    self._train_examples, self._phases, self._splits = None, set(), {}

  def check(self, config, max_seq_length, phases):
    self._phases = set(phases)
    if self.doc_stride < 1:
      raise ValueError("doc_stride must be at least 1, got %d" % self.doc_stride)
    if self.crf_learning_rate is not None:
      if "train" in phases and not self.use_crf:
        raise ValueError("crf_learning_rate is the CRF's learning rate: train with a CRF (use_crf / --crf)")
      if not self.crf_learning_rate > 0:
        raise ValueError("crf_learning_rate must be positive, got %r" % (self.crf_learning_rate,))

  def lr_multipliers(self, settings, learning_rate):
    """The CRF's variables at crf_learning_rate: the model multiplies them by CRF_LR_MULTIPLIER, and
    Adam's steps do not depend on the gradient's scale, so their factor is crf_lr / (lr * that)."""
    if not settings["use_crf"] or self.crf_learning_rate is None:
      return []
    return [("(^|/)crf/", self.crf_learning_rate / (learning_rate * tagging.CRF_LR_MULTIPLIER))]

  def settings(self, saved):
    if saved is not None:
      if self.processor is not None:
        self.processor.set_labels(saved["labels"], TAGGER_CONFIG)
        self._read_splits()
      return dict(saved, doc_stride=self.doc_stride)
    self._train_examples = self.processor.get_train_examples(self.data_dir)  # the tag set comes from train
    self._read_splits()
    return {"labels": self.processor.get_labels(), "use_crf": self.use_crf, "doc_stride": self.doc_stride,
            "scheme": self.processor.scheme, "task": self.processor.name}

  def _read_splits(self):
    """Reads dev / test now when this run evaluates / predicts: a bad file stops it before training."""
    self._splits = {}
    for phase, split in (("eval", "dev"), ("predict", "test")):
      if phase in self._phases:
        self._examples(split)

  def _examples(self, split):
    """The examples of "dev" or "test", read once."""
    if split not in self._splits:
      self._splits[split] = getattr(self.processor, "get_%s_examples" % split)(self.data_dir)
    return self._splits[split]

  def build_model(self, config, settings):
    return BertTagger(config, len(settings["labels"]), use_crf=settings["use_crf"])

  def loss_fn(self, model, batch, training):
    return tagging.loss_fn(model, batch, training)

  def metrics_fn(self, totals):
    return tagging.metrics_fn(totals)

  def train_inputs(self, settings, tokenizer):
    examples = self._train_examples
    if self.max_train_examples and len(examples) > self.max_train_examples:
      examples = random.Random(self.seed).sample(examples, self.max_train_examples)
    windows = data.convert_examples_to_features(examples, settings["labels"], settings["max_seq_length"],
                                                tokenizer, settings["doc_stride"])
    return base.TrainInputs(data.features_to_arrays(windows), len(windows),
                            {"train_windows": len(windows), "train_sentences": len(examples)})

  def make_dataset(self, arrays, batch_size, seed):
    return tagging.make_dataset(arrays, batch_size, True, seed)

  def _predict(self, model, examples, settings, tokenizer, batch_size):
    return tagging.predict_examples(model, examples, settings["labels"], settings["max_seq_length"], tokenizer,
                                    settings["doc_stride"], batch_size)

  def evaluate(self, model, settings, tokenizer, batch_size):
    examples = self._examples("dev")
    if any(e.tags is None for e in examples):
      raise ValueError("%s: the dev split has rows without labels: nothing to evaluate" % self.data_dir)
    scores = metrics.entity_scores([e.tags for e in examples],
                                   self._predict(model, examples, settings, tokenizer, batch_size))
    return base.Scores(_flat(scores, "eval_"), metrics.format_scores(scores, "eval_"))

  def predict(self, model, settings, tokenizer, batch_size, output_dir):
    """The processor's prediction file (`write_predictions`, else test_predictions.txt); scores when test has tags."""
    examples = self._examples("test")
    predicted = self._predict(model, examples, settings, tokenizer, batch_size)
    write = getattr(self.processor, "write_predictions", None)
    if write is not None:
      write(output_dir, examples, predicted)
    else:
      data.write_conll_predictions(os.path.join(output_dir, "test_predictions.txt"), examples, predicted)
    results = {"num_predictions": len(examples)}
    if all(e.tags is not None for e in examples):
      scores = metrics.entity_scores([e.tags for e in examples], predicted)
      runner.write_atomic(os.path.join(output_dir, "test_results.txt"), metrics.format_scores(scores, "test_"))
      results.update(_flat(scores, "test_"))
    return results

  def export(self, model, export_dir, vocab_file, settings, precision="float32"):
    return export_tagger(model, export_dir, vocab_file, settings["do_lower_case"], settings["max_seq_length"],
                         settings["doc_stride"], settings["labels"], precision=precision)


def _flat(scores, prefix):
  out = {prefix + k: scores[k] for k in ("precision", "recall", "f1", "token_accuracy")}
  for kind, values in scores["per_type"].items():
    out["%s%s_f1" % (prefix, kind)] = values["f1"]
  return out


def read_tagger_config(model_dir):
  """The settings a training run wrote to `model_dir/tagger_config.json`, or None."""
  return runner.read_settings(model_dir, TAGGER_CONFIG)


def run_ner(processor, data_dir, output_dir, vocab_file, bert_config_file, use_crf=False, doc_stride=64,
            max_train_examples=None, seed=12345, crf_learning_rate=None, **kwargs):
  """Fine-tunes, evaluates (dev), predicts (test) and exports a tagger; returns {name: value}.

  `processor`, `data_dir`, `use_crf`, `doc_stride` and `max_train_examples` make the `TaggingTask`;
  `kwargs` are `runner.run`'s (run_classifier's flags).
  """
  task = TaggingTask(processor, data_dir, use_crf, doc_stride, max_train_examples, seed, crf_learning_rate)
  return runner.run(task, output_dir, vocab_file, bert_config_file, seed=seed, **kwargs)
