"""The extract_features.py job: per-token activations of chosen layers, as the original's JSONL.

    count = run_extract_features("input.txt", "output.jsonl", [-1, -2, -3, -4], "bert_config.json",
                                 "bert_model.ckpt", "vocab.txt")
"""

from bert_tf2 import checkpoints, modeling, tokenization
from bert_tf2.core import checks
from bert_tf2.core import features
from bert_tf2.embeddings.feature_extraction import write_features_jsonl


def run_extract_features(input_file, output_file, layers, bert_config_file, init_checkpoint, vocab_file,
                         do_lower_case=True, max_seq_length=128, batch_size=32, errors="strict"):
  """The whole job of the original `extract_features.py`. Returns the number of lines written.

  Args:
    input_file: str, one example a line, `text_a` or `text_a ||| text_b` (blank lines count).
    layers: list of int layer indexes (the original's `--layers=-1,-2,-3,-4`).
    errors: non-UTF-8 input is an error naming file and line ("strict"), or "replace"/"ignore".
    Other args: as the original's flags. `init_checkpoint` may also be a Hugging Face directory
      or one of our TF2 checkpoints (anything `bert_tf2.checkpoints.load_checkpoint` reads).
  """
  config = modeling.BertConfig.from_json_file(bert_config_file)
  checks.check_max_seq_length(max_seq_length, config.max_position_embeddings, bert_config_file)
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  tokenization.check_special_tokens(tokenizer.vocab, vocab_file)
  examples = features.read_examples(input_file, errors)
  unpadded = features.convert_examples_to_features(examples, None, max_seq_length, tokenizer, pad=False)
  model = modeling.BertModel(config)
  status = checkpoints.load_checkpoint(model, init_checkpoint)
  if not status.loaded:
    raise ValueError("%s: no BERT variables found in this checkpoint" % init_checkpoint)
  return write_features_jsonl(model, unpadded, layers, output_file, batch_size)
