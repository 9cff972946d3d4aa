"""A TF Hub-style BERT preprocessing SavedModel: raw strings -> the encoder's three inputs.

It follows TF Hub's "Preprocessor API for text embeddings with Transformer encoders"
(https://www.tensorflow.org/hub/common_saved_model_apis/text), as Model Garden's
`export_tfhub --export_type=preprocessing` writes it, so TF Hub tutorials work by swapping handles:

    preprocess = tf.saved_model.load("preprocess/")         # or hub.KerasLayer("preprocess/")
    encoder = tf.saved_model.load("encoder/")               # the encoder export (bert_tf2.core.export)
    inputs = preprocess(tf.constant(["hello world"]))       # single segments, default_seq_length
    # {input_word_ids, input_mask, input_type_ids}: int32 [B, default_seq_length]
    outputs = encoder(inputs)  # pooled_output [B, D], sequence_output [B, T, D], ...

    tokens = preprocess.tokenize(tf.constant(["a"]))         # int32 RaggedTensor [B, (words), (pieces)]
    pair = preprocess.bert_pack_inputs([tokens_a, tokens_b], seq_length=64)
    preprocess.tokenize.get_special_tokens_dict()           # vocab_size, start_of_sequence_id, ...

Tokens are `FullTokenizer`'s, in the graph (`bert_tf2.fast_tokenizer`). Packing is the original's:
`[CLS] a [SEP] b [SEP]`, pairs truncated longest-first (the same lengths as TF Hub's round-robin
trimmer), zero padding. The vocabulary is an asset (`vocab_file`), `do_lower_case` a variable, as on
TF Hub. A fresh process needs only `import tensorflow as tf, tensorflow_text`.
"""

import os

import tensorflow as tf

from bert_tf2.core import export
from bert_tf2.fast_tokenizer import FastTokenizer, pack_inputs

_STRINGS = tf.TensorSpec([None], tf.string, name="sentences")


def _to_hub_names(packed):
  return {"input_word_ids": packed["input_ids"], "input_mask": packed["input_mask"],
          "input_type_ids": packed["segment_ids"]}


class _Tokenize(tf.Module):
  """`preprocess.tokenize`: string [B] -> int32 RaggedTensor [B, (words), (pieces)]."""

  def __init__(self, tokenizer):
    super().__init__()
    self.tokenizer = tokenizer
    ids = tokenizer.special_ids
    special = {"vocab_size": tokenizer.vocab_size, "start_of_sequence_id": ids["[CLS]"],
               "end_of_segment_id": ids["[SEP]"], "padding_id": ids["[PAD]"], "mask_id": ids["[MASK]"]}
    self.get_special_tokens_dict = tf.function(
        lambda: {k: tf.constant(v, tf.int32) for k, v in special.items()}, input_signature=[])

  @tf.function(input_signature=[_STRINGS])
  def __call__(self, sentences):
    return self.tokenizer.word_pieces(sentences)


class _PackInputs(tf.Module):
  """`preprocess.bert_pack_inputs(segments, seq_length=...)`: 1 or 2 segments -> the three inputs.

  Each segment is an int RaggedTensor [B, (words), (pieces)] or [B, (tokens)].
  """

  def __init__(self, cls_id, sep_id, default_seq_length):
    super().__init__()
    self.cls_id, self.sep_id = cls_id, sep_id

    @tf.function(autograph=False)
    def call(inputs, seq_length=default_seq_length):
      segments = [tf.cast(s.merge_dims(-2, -1) if s.ragged_rank == 2 else s, tf.int32) for s in inputs]
      if len(segments) not in (1, 2):
        raise ValueError("bert_pack_inputs takes 1 or 2 segments, got %d" % len(segments))
      packed = pack_inputs(segments[0], segments[1] if len(segments) == 2 else None, seq_length,
                           self.cls_id, self.sep_id)
      return _to_hub_names(packed)

    self.__call__ = call  # saved as the restored object's __call__, as Model Garden's wrapper does
    for ragged_rank in (1, 2):  # trace what a restored model can be called with
      for num_segments in (1, 2):
        call.get_concrete_function(
            [tf.RaggedTensorSpec([None] * (ragged_rank + 1), tf.int32, ragged_rank=ragged_rank)] * num_segments,
            seq_length=tf.TensorSpec([], tf.int32))

  def __call__(self, inputs, seq_length=None):  # in-process calls reach the same traced function
    kwargs = {} if seq_length is None else {"seq_length": seq_length}
    return self.__dict__["__call__"](inputs, **kwargs)


class HubPreprocessing(tf.Module):
  """The exported object: callable on strings, with `tokenize` and `bert_pack_inputs` sub-objects.

  Args:
    vocab_file: str, the encoder's vocab (copied into the SavedModel's assets).
    do_lower_case: bool, the encoder's casing.
    default_seq_length: int, T of the default call and of `bert_pack_inputs` without `seq_length`.
  """

  def __init__(self, vocab_file, do_lower_case, default_seq_length=128):
    super().__init__()
    tokenizer = FastTokenizer(vocab_file, do_lower_case)
    self.tokenize = _Tokenize(tokenizer)
    self.bert_pack_inputs = _PackInputs(tokenizer.special_ids["[CLS]"], tokenizer.special_ids["[SEP]"],
                                        default_seq_length)
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False)
    self.default_seq_length = default_seq_length

  @tf.function(input_signature=[_STRINGS])
  def __call__(self, sentences):
    return self.bert_pack_inputs([self.tokenize(sentences)], seq_length=self.default_seq_length)


def export_preprocessing(export_dir, vocab_file, do_lower_case, default_seq_length=128):
  """Writes the preprocessing SavedModel to `export_dir` (temporary directory, then swapped in).

  Signatures: `serving_default` (sentences string [B] -> input_word_ids, input_mask, input_type_ids,
  int32 [B, default_seq_length]); the `tokenize` and `bert_pack_inputs` objects as above.
  """
  if not os.path.isfile(vocab_file):
    raise ValueError("%s: file not found" % vocab_file)
  module = HubPreprocessing(vocab_file, do_lower_case, default_seq_length)
  return export.save_module(module, export_dir,
                            signatures={"serving_default": module.__call__.get_concrete_function()})
