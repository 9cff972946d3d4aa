r"""Vocabulary transplant: a pretrained BERT's encoder with new token embeddings for another vocabulary.

  PYTHONPATH=. .venv/bin/python scripts/transplant_vocab.py \
    --init_checkpoint=all-MiniLM-L6-v2/ --source_vocab_file=all-MiniLM-L6-v2/vocab.txt \
    --vocab_file=zh/vocab.txt --bert_config_file=zh_minilm.json --output_file=runs/transplant/bert_model.ckpt
  # then: run_pretraining.py --init_checkpoint=runs/transplant/bert_model.ckpt --freeze_encoder ...
  #       (embeddings learn on the new language), then again without --freeze_encoder

Cross-lingual transfer (Artetxe et al., 2020): every weight but the token embeddings comes from
--init_checkpoint (Google prefix or Hugging Face directory); tokens both vocabularies share keep
their rows, the others start random (`checkpoints.load_transplanted_checkpoint`). --bert_config_file
is the new model's config: the source's shape with vocab_size = the lines of --vocab_file.
Writes a Google-format checkpoint (+ bert_config.json beside it).
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("init_checkpoint", None, "Pretrained BERT: Google checkpoint prefix or Hugging Face directory.")
flags.DEFINE_string("source_vocab_file", None, "vocab.txt the pretrained BERT was trained with.")
flags.DEFINE_string("vocab_file", None, "The new vocabulary (e.g. from data_prep.build_vocab).")
flags.DEFINE_string("bert_config_file", None, "bert_config.json of the new model (vocab_size = its lines).")
flags.DEFINE_string("output_file", None, "Checkpoint prefix to write, e.g. .../bert_model.ckpt.")
flags.DEFINE_integer("seed", 0, "Seeds the new embedding rows.")


def main(argv):
  del argv
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf2.modeling import BertConfig
  from bert_tf2.tasks.pretraining.model import BertPretrainer
  try:
    model = BertPretrainer(BertConfig.from_json_file(FLAGS.bert_config_file))
    status, copied = checkpoints.load_transplanted_checkpoint(
        model, FLAGS.init_checkpoint, FLAGS.source_vocab_file, FLAGS.vocab_file, seed=FLAGS.seed)
  except (ValueError, OSError, FileNotFoundError) as e:
    cli.fail(str(e))
  checkpoints.save_google_checkpoint(model, FLAGS.output_file)
  print("transplant_vocab: %s -> %s; %d variables set, %d missing (left initialized); %d of %d token rows "
        "copied" % (FLAGS.init_checkpoint, FLAGS.output_file, len(status.loaded), len(status.missing), copied,
                    model.encoder.config.vocab_size))


if __name__ == "__main__":
  flags.mark_flags_as_required(["init_checkpoint", "source_vocab_file", "vocab_file", "bert_config_file",
                                "output_file"])
  cli.run(main, outputs=("output_file",))
