"""Weights out to Hugging Face: a directory `transformers` loads with `from_pretrained`, no torch here.

    checkpoints.save_hf_checkpoint(model, "out/", vocab_file="vocab.txt", do_lower_case=True)
    # then, anywhere with transformers:  BertModel.from_pretrained("out/")  (or the task class)

What is written, each file under a temporary name and then renamed:
  config.json              transformers' BertConfig: `model_type: bert`, `architectures` (the
                           model's declared `hf_architecture`, "BertModel" without one), and
                           `hidden_act` true to our gelu (Google's tanh form is "gelu_new" there,
                           exact erf gelu is "gelu"); a classifier adds id2label / label2id.
  model.safetensors        float32 tensors under transformers' names, in its [out, in] layout:
                           `embeddings.*` / `encoder.*` / `pooler.*` for a bare encoder,
                           `bert.*` + `cls.*` for a pretrainer (BertForPreTraining; the decoder is
                           tied to the word embeddings, so it is left out, as save_pretrained does),
                           `bert.*` + `classifier.*` for a classifier (BertForSequenceClassification)
                           or a softmax tagger (BertForTokenClassification; a CRF tagger is refused),
                           `bert.*` + `qa_outputs.*` for a span QA model (BertForQuestionAnswering);
                           these two leave the pooler out, as transformers has none for them.
  vocab.txt, tokenizer_config.json, special_tokens_map.json
                           with `vocab_file`: BertTokenizer settings equal to FullTokenizer's:
                           do_lower_case, strip_accents = do_lower_case (the original lower-cases
                           and strips accents together), tokenize_chinese_chars = true.

The names come from `checkpoints.variable_table`, the one table loading also reads, so a directory
written here loads back with `checkpoints.load_checkpoint` into the same numbers.
"""

import json
import os

import numpy as np
from absl import logging

from bert_tf2 import tokenization

# Our BertConfig.hidden_act -> transformers' ACT2FN name with the same function.
HF_ACTIVATIONS = {"gelu": "gelu_new", "gelu_exact": "gelu", "relu": "relu", "tanh": "tanh",
                  "swish": "silu", "linear": "linear"}
# transformers builds these without a pooler (add_pooling_layer=False): a pooler in the file is "unexpected".
_NO_POOLER = ("BertForTokenClassification", "BertForQuestionAnswering")
_SPECIAL_TOKENS_MAP = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                       "cls_token": "[CLS]", "mask_token": "[MASK]"}


def hf_tensors(entries):
  """{transformers name: float32 np.ndarray in transformers' layout} of `variable_table` entries."""
  tensors = {}
  for entry in entries:
    if entry.hf is None:  # no transformers name (ELECTRA's generator): not exported
      continue
    value = np.asarray(entry.variable.numpy(), dtype=np.float32)
    tensors[entry.hf] = np.ascontiguousarray(value.T if entry.hf_transpose else value)
  return tensors


def architecture(model):
  """The transformers class name `model` declares (`hf_architecture`; "BertModel" without one).

  Raises ValueError with the model's `hf_export_error` when it declares one (a CRF tagger: transformers
  has nowhere to put the transitions).
  """
  error = getattr(model, "hf_export_error", None)
  if error:
    raise ValueError(error)
  return getattr(model, "hf_architecture", None) or "BertModel"


def hf_config(model, tensors, label_list=None, pad_token_id=0):
  """The config.json dict of `model` (a BertModel or a task model with `.encoder`)."""
  config = getattr(model, "encoder", model).config
  if config.hidden_act not in HF_ACTIVATIONS:
    raise ValueError("hidden_act %r has no transformers equivalent" % config.hidden_act)
  name = architecture(model)
  d = dict(config.to_dict(), architectures=[name], model_type="bert", hidden_act=HF_ACTIVATIONS[config.hidden_act],
           pad_token_id=pad_token_id, position_embedding_type="absolute")
  if "classifier.weight" in tensors:
    num_labels = tensors["classifier.weight"].shape[0]
    labels = [str(label) for label in label_list] if label_list else ["LABEL_%d" % i for i in range(num_labels)]
    if len(labels) != num_labels:
      raise ValueError("label_list has %d labels but the classifier has %d outputs" % (len(labels), num_labels))
    d.update(id2label={str(i): label for i, label in enumerate(labels)},
             label2id={label: i for i, label in enumerate(labels)})
    if name == "BertForSequenceClassification":  # one output is a regression, as transformers reads it
      d["problem_type"] = ("regression" if num_labels == 1 else "multi_label_classification"
                           if getattr(model, "multi_label", False) else "single_label_classification")
    if getattr(model, "dropout_rate", None) is not None:
      d["classifier_dropout"] = model.dropout_rate
  return d


def tokenizer_files(vocab_file, do_lower_case, vocab_size, model_max_length):
  """{file name: text} of the tokenizer files; raises ValueError on a vocab the model cannot use."""
  vocab = tokenization.load_vocab(vocab_file)
  tokenization.check_special_tokens(vocab, vocab_file)
  if len(vocab) > vocab_size:
    raise ValueError("%s: %d tokens but the model has only %d word embeddings" % (vocab_file, len(vocab), vocab_size))
  tokenizer_config = dict(
      tokenizer_class="BertTokenizer", do_lower_case=bool(do_lower_case), strip_accents=bool(do_lower_case),
      tokenize_chinese_chars=True, do_basic_tokenize=True, model_max_length=model_max_length,
      clean_up_tokenization_spaces=True, **_SPECIAL_TOKENS_MAP)
  return {
      # Tokens in id order: a repeated line of vocab_file (which takes no id in load_vocab) is left out.
      "vocab.txt": "".join(token + "\n" for token in vocab),
      "tokenizer_config.json": json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n",
      "special_tokens_map.json": json.dumps(_SPECIAL_TOKENS_MAP, indent=2) + "\n",
  }


def _write(directory, name, write):
  tmp = os.path.join(directory, "%s.tmp-%d" % (name, os.getpid()))
  write(tmp)
  os.replace(tmp, os.path.join(directory, name))


def write_hf_directory(model, entries, directory, vocab_file=None, do_lower_case=None, label_list=None):
  """Writes `model` (BertModel, BertPretrainer, BertClassifier) as a transformers directory.

  Args:
    model: the model; its weights are read from `entries`.
    entries: `checkpoints.variable_table(model)`.
    directory: str, created if missing; other files there are kept, other weights refused.
    vocab_file: str or None; with it the tokenizer files are written too.
    do_lower_case: bool, required with `vocab_file` (the casing the model was trained with).
    label_list: label strings in label-id order, for a classifier's id2label (default LABEL_i).
  Returns:
    `directory`.
  """
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  if vocab_file and do_lower_case is None:
    raise ValueError("do_lower_case is required with vocab_file (the casing the model was trained with)")
  tensors = hf_tensors(entries)
  if architecture(model) in _NO_POOLER:  # as transformers saves them (loading back leaves it as it was)
    tensors = {k: v for k, v in tensors.items() if not k.startswith("bert.pooler.")}
  config = getattr(model, "encoder", model).config
  files = {}
  pad_token_id = 0
  if vocab_file:
    files = tokenizer_files(vocab_file, do_lower_case, config.vocab_size, config.max_position_embeddings)
    pad_token_id = tokenization.load_vocab(vocab_file)["[PAD]"]
  files["config.json"] = json.dumps(hf_config(model, tensors, label_list, pad_token_id), indent=2,
                                    sort_keys=True, ensure_ascii=False) + "\n"
  os.makedirs(directory, exist_ok=True)
  for other in ("model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"):
    if os.path.exists(os.path.join(directory, other)):  # would contradict the new weights
      raise ValueError("%s: holds %s of another model; remove it or choose another directory" % (directory, other))
  _write(directory, "model.safetensors", lambda path: save_file(tensors, path, metadata={"format": "pt"}))
  for name, text in files.items():
    _write(directory, name, lambda path, text=text: _write_text(path, text))
  logging.info("Wrote %d tensors (%s) to %s", len(tensors), architecture(model), directory)
  return directory


def _write_text(path, text):
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)

