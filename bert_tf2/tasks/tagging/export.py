"""SavedModel of a `BertTagger` that tags raw text of any length, one tag per Unicode character.

    export_tagger(model, "export/", vocab_file, do_lower_case=True, max_seq_length=128,
                  doc_stride=64, label_list=["O", "B-LOC", ...])

    # Any process with TensorFlow and tensorflow-text:
    import tensorflow as tf, tensorflow_text  # noqa: F401
    serve = tf.saved_model.load("export/").signatures["serving_default"]
    out = serve(text=tf.constant(["江泽民在北京", "a much longer text ..."]))
    out["tags"]      # string [B, C]: a tag per character (C = the longest text's characters), "" after the end
    out["lengths"]   # int32 [B]: characters per text
    entities(text, out["tags"][i])  # [(type, start, end, text)], from this module (pure Python)

Signatures:
  serving_default: text string [B] -> tags string [B, C], lengths int32 [B].
  serve_ids: input_ids, input_mask, segment_ids, label_mask int32 [B, T] -> tag_ids int32 [B, T]
    (0 where label_mask is 0), tags string [B, T] ("" there), logits float32 [B, T, L].

What the graph does (the same steps as `tagging.tag_texts` in Python, which the tests compare):
  1. text -> characters (`tf.strings.unicode_split`; invalid UTF-8 bytes become U+FFFD), cut into
     sentences after each 。！？ or newline (`sentence_ends`): each sentence is tagged on its own, as
     the sentences of the training files were (on People's Daily test documents fed whole, cross-
     sentence windows cost 4.5 F1 points: 67.9 vs 72.4).
  2. Each character is tokenized ALONE by the fine-tuning tokenizer (`FastTokenizer`, ids equal to
     `FullTokenizer`): the layout of character-level CoNLL data (People's Daily, MSRA), where every
     character is a token line. So char -> pieces is known by construction, no offsets needed:
     a character's first piece carries its tag; whitespace, control and format characters have no
     piece and get "O".
  3. A text's pieces are cut into windows of max_seq_length - 2 pieces, doc_stride apart
     (run_squad's doc spans); all windows of the batch go through the model at once, padded to
     the longest of them.
  4. Each piece takes the tag of the window where it has the maximum context (run_squad's score
     min(left, right) + 0.01 * length, the earliest window on ties: `windows.max_context_tf`).
A tagger fine-tuned on word-level CoNLL files (English) still serves per character here, which
is not how it was trained: serve such models through `serve_ids` with your own word pieces.
"""

import tensorflow as tf

from bert_tf2.core import export, windows
from bert_tf2.tasks.tagging import data as tagging_data
from bert_tf2.tasks.tagging import metrics as tagging_metrics
from bert_tf2.fast_tokenizer import FastTokenizer

_IDS = ("input_ids", "input_mask", "segment_ids", "label_mask")


class TaggerModule(tf.Module):
  """The exported object of a `BertTagger`; see the module docstring for its signatures."""

  def __init__(self, model, vocab_file, do_lower_case, max_seq_length, doc_stride, label_list,
               sentence_ends=tagging_data.SENTENCE_ENDS):
    super().__init__()
    self.sentence_ends = tf.constant(list(sentence_ends) or ["\x00\x00"], tf.string)  # never one character
    self.model = model
    self.tokenizer = FastTokenizer(vocab_file, do_lower_case)
    self.vocab_asset = tf.saved_model.Asset(vocab_file)
    self.max_seq_length = max_seq_length
    self.doc_stride = doc_stride
    self.label_strings = tf.constant([str(label) for label in label_list])

  def _decode(self, inputs):
    logits = tf.cast(self.model({k: inputs[k] for k in _IDS[:3]}, training=False), tf.float32)
    return self.model.decode(logits, inputs["label_mask"]), logits

  def serve_ids(self, input_ids, input_mask, segment_ids, label_mask):
    inputs = dict(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids, label_mask=label_mask)
    tag_ids, logits = self._decode(inputs)
    tags = tf.where(label_mask > 0, tf.gather(self.label_strings, tag_ids), "")
    return {"tag_ids": tag_ids, "tags": tags, "logits": logits}

  def tag_text(self, text):
    chars = tf.strings.unicode_split(text, "UTF-8", errors="replace")  # (B, (C))
    flat = chars.flat_values
    # Sentences: a new one at each text's first character and after each sentence end.
    rows = chars.value_rowids()
    first_of_text = tf.range(tf.shape(rows, out_type=tf.int64)[0]) == tf.gather(chars.row_splits, rows)
    is_end = tf.reduce_any(tf.equal(flat[:, None], self.sentence_ends[None, :]), axis=1)
    starts = first_of_text | tf.concat([[False], is_end], 0)[:-1]  # (also right for no characters)
    sentence_of_char = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    sentences = tf.RaggedTensor.from_value_rowids(flat, sentence_of_char,
                                                  nrows=tf.reduce_sum(tf.cast(starts, tf.int64)))
    tags = chars.with_flat_values(self._tag_chars(sentences))
    return {"tags": tags.to_tensor(""), "lengths": tf.cast(chars.row_lengths(), tf.int32)}

  def _tag_chars(self, chars):
    """string RaggedTensor [S, (C)] of sentences' characters -> string [N chars]: a tag per character."""
    ids = self.tokenizer.special_ids
    num_texts = tf.cast(chars.nrows(), tf.int32)
    char_pieces = self.tokenizer(chars.flat_values)  # (N chars, (pieces))
    pieces_per_char = tf.cast(char_pieces.row_lengths(), tf.int32)  # (N,)
    piece_ids = char_pieces.flat_values  # (P,) all pieces of the batch, text after text
    # Where each character's first piece is among all pieces, and which pieces are first pieces.
    char_first = tf.cumsum(pieces_per_char, exclusive=True)  # (N,)
    is_first = tf.scatter_nd(tf.boolean_mask(char_first, pieces_per_char > 0)[:, None],
                             tf.ones_like(tf.boolean_mask(char_first, pieces_per_char > 0)),
                             tf.shape(piece_ids))  # (P,) 1 at first pieces
    pieces_per_text = tf.math.unsorted_segment_sum(pieces_per_char, chars.value_rowids(), num_texts)
    text_start = tf.cumsum(pieces_per_text, exclusive=True)  # (B,)

    # Windows over every text: (W,) starts / lengths, then [CLS] pieces [SEP] padded to T.
    max_pieces = self.max_seq_length - 2
    starts, lengths, counts = windows.doc_spans_tf(pieces_per_text, max_pieces, self.doc_stride,
                                                   empty_window=True)  # an empty sentence: [CLS] [SEP]
    window_text = tf.repeat(tf.range(num_texts), counts)
    first_piece = tf.gather(text_start, window_text) + starts  # (W,) global index of its first piece
    positions = tf.ragged.range(first_piece, first_piece + lengths)  # (W, (len)) global piece indexes
    body_ids = tf.gather(piece_ids, positions)
    body_first = tf.gather(is_first, positions)
    num_windows = tf.shape(starts)[0]
    cls = tf.fill([num_windows, 1], ids["[CLS]"])
    sep = tf.fill([num_windows, 1], ids["[SEP]"])
    zero = tf.zeros([num_windows, 1], tf.int32)
    shape = [None, None]  # padded to the request's longest window (at most max_seq_length)
    window_ids = tf.concat([cls, body_ids, sep], axis=1)
    inputs = {"input_ids": window_ids.to_tensor(0, shape=shape),
              "input_mask": tf.ones_like(window_ids).to_tensor(0, shape=shape),
              "segment_ids": tf.zeros_like(window_ids).to_tensor(0, shape=shape),
              "label_mask": tf.concat([zero, body_first, zero], axis=1).to_tensor(0, shape=shape)}
    tag_ids = tf.cond(num_windows > 0, lambda: self._decode(inputs)[0],  # (W, T); no text at all: no model call
                      lambda: tf.zeros_like(inputs["input_ids"]))

    # Each piece takes the tag of its maximum-context (window, position) pair: one pair per piece.
    is_max = windows.max_context_tf(starts, lengths, counts).flat_values  # (pairs,) window by window
    pair_tag = tf.RaggedTensor.from_tensor(tag_ids[:, 1:], lengths=lengths).flat_values  # after [CLS]
    piece_tag = tf.scatter_nd(tf.boolean_mask(positions.flat_values, is_max)[:, None],
                              tf.boolean_mask(pair_tag, is_max), tf.shape(piece_ids))  # (P,)

    # A character's tag: its first piece's, or O without pieces (their char_first may be P: padded).
    char_tag = tf.gather(self.label_strings, tf.gather(tf.concat([piece_tag, [0]], 0), char_first))
    return tf.where(pieces_per_char > 0, char_tag, "O")

  def text_function(self):
    """serving_default's function: text -> tags, lengths."""
    return tf.function(self.tag_text, input_signature=[tf.TensorSpec([None], tf.string, name="text")])

  def signatures(self):
    text = self.text_function()
    ids = tf.function(self.serve_ids, input_signature=[tf.TensorSpec([None, None], tf.int32, name=n) for n in _IDS])
    return {"serving_default": text.get_concrete_function(), "serve_ids": ids.get_concrete_function()}


def export_tagger(model, export_dir, vocab_file, do_lower_case, max_seq_length, doc_stride, label_list,
                  sentence_ends=tagging_data.SENTENCE_ENDS, precision="float32"):
  """Writes a raw-text SavedModel of a `BertTagger` to `export_dir` (temp dir, then renamed).

  Args:
    model: BertTagger, fine-tuned on character-level CoNLL data.
    vocab_file, do_lower_case: the fine-tuning tokenizer's; the vocab is copied into assets/.
    max_seq_length, doc_stride: the windows (as in fine-tuning and evaluation).
    label_list: tag strings in id order (also written to assets/labels.txt).
    sentence_ends: characters after which a text is cut into separately tagged sentences ("" = none).
    precision: "int8" adds the model as LiteRT int8 (`core.text_model`; its CRF stays in the graph).
  """
  module = TaggerModule(model, vocab_file, do_lower_case, max_seq_length, doc_stride, label_list, sentence_ends)
  return export.save_module(module, export_dir, {"labels.txt": "".join("%s\n" % label for label in label_list)},
                            precision=precision)


def entities(text, tags):
  """[(type, start, end, entity_text)] of one text and its `tags` row from `serving_default`.

  `tags` may be bytes (as the SavedModel returns them) or str; see `tagging_metrics.text_entities`.
  """
  tags = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in list(tags)]
  return tagging_metrics.text_entities(text, tags)
