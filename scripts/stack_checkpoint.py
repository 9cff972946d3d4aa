r"""Progressive stacking: a deeper BERT's first checkpoint from a shallower pretrained one.

  PYTHONPATH=. .venv/bin/python scripts/stack_checkpoint.py \
    --init_checkpoint=runs/tiny/bert_model.ckpt --bert_config_file=l4.json \
    --output_file=runs/stacked_init/bert_model.ckpt
  # then: scripts/run_pretraining.py --init_checkpoint=runs/stacked_init/bert_model.ckpt ...

Encoder layer i of the new model is the checkpoint's layer i mod L (Gong et al., 2019, "Efficient
Training of BERT by Progressively Stacking"); embeddings, pooler and pretraining heads are copied.
Writes a Google-format checkpoint (+ bert_config.json beside it).
"""

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_tf2.core import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("init_checkpoint", None, "Google-format checkpoint prefix of the shallower model.")
flags.DEFINE_string("bert_config_file", None, "bert_config.json of the deeper model (same widths).")
flags.DEFINE_string("output_file", None, "Checkpoint prefix to write, e.g. .../bert_model.ckpt.")


def main(argv):
  del argv
  from bert_tf2 import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_tf2.modeling import BertConfig
  from bert_tf2.tasks.pretraining.model import BertPretrainer
  try:
    model = BertPretrainer(BertConfig.from_json_file(FLAGS.bert_config_file))
    status = checkpoints.load_stacked_checkpoint(model, FLAGS.init_checkpoint)
  except (ValueError, OSError, FileNotFoundError) as e:
    cli.fail(str(e))
  checkpoints.save_google_checkpoint(model, FLAGS.output_file)
  print("stack_checkpoint: %s -> %s (%d encoder layers); %d variables set, %d missing"
        % (FLAGS.init_checkpoint, FLAGS.output_file, model.encoder.config.num_hidden_layers,
           len(status.loaded), len(status.missing)))


if __name__ == "__main__":
  flags.mark_flags_as_required(["init_checkpoint", "bert_config_file", "output_file"])
  cli.run(main, outputs=("output_file",))
