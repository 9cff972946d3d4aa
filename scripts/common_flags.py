"""Flags the training scripts share: the fine-tuning ones, the original's TPU flags and the tf.distribute ones.

    import common_flags                      # scripts/ is on sys.path when a script runs
    common_flags.define_fine_tuning_flags(output_dir=..., do_predict=..., export_dir=...)
    common_flags.define_distribution_flags()
    flags.adopt_module_key_flags(common_flags)   # so the script's --help lists them
    ...
    strategy = common_flags.strategy_from_flags(FLAGS)

The library never reads flags: these turn into a `tf.distribute.Strategy` and plain arguments here.
"""

from absl import flags

from bert_tf2.core import distribute


def define_fine_tuning_flags(*, output_dir, do_predict, export_dir, do_train="Fine-tune on the train split.",
                             num_train_epochs="Epochs of fine-tuning.",
                             seed="Seeds initialization, dropout and shuffling."):
  """Defines the flags every fine-tuning script has, with run_classifier.py's names and defaults.

  The model files, --do_train/--do_predict, batch sizes, optimizer, checkpointing, --seed and
  --export_dir. Each argument is the help text of the flag of its name (what a task's files change).
  """
  flags.DEFINE_string("bert_config_file", None, "bert_config.json (or a Hugging Face config.json).")
  flags.DEFINE_string("vocab_file", None, "vocab.txt of the pretrained model.")
  flags.DEFINE_string("init_checkpoint", None, "Google checkpoint prefix, bert_tf2 checkpoint or HF dir.")
  flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (True for uncased and Chinese models).")
  flags.DEFINE_string("output_dir", None, output_dir)
  flags.DEFINE_bool("do_train", False, do_train)
  flags.DEFINE_bool("do_predict", False, do_predict)
  flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
  flags.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
  flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate of AdamW.")
  flags.DEFINE_float("num_train_epochs", 3.0, num_train_epochs)
  flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the steps with linear warmup.")
  flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every this many steps.")
  flags.DEFINE_integer("iterations_per_loop", 1, "Steps per tf.function call.")
  flags.DEFINE_integer("log_steps", 100, "Log and write TensorBoard summaries every this many steps.")
  flags.DEFINE_integer("seed", 12345, seed)
  flags.DEFINE_string("export_dir", None, export_dir)


def define_distribution_flags():
  """Defines --use_tpu, --tpu_name, --tpu_zone, --gcp_project, --master, --num_tpu_cores,
  --distribution_strategy, --num_gpus and --mixed_precision."""
  flags.DEFINE_bool("use_tpu", False, "Same as --distribution_strategy=tpu.")
  flags.DEFINE_string("tpu_name", None, "Cloud TPU name or grpc:// address.")
  flags.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU.")
  flags.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU.")
  flags.DEFINE_string("master", None, "Unused (TPUEstimator); kept so original command lines parse.")
  flags.DEFINE_integer("num_tpu_cores", 8, "Informational: TPUStrategy uses every core it finds.")
  flags.DEFINE_enum("distribution_strategy", "one_device", list(distribute.STRATEGIES), "tf.distribute strategy.")
  flags.DEFINE_integer("num_gpus", None, "GPUs for one_device/mirrored (default: all).")
  flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_float16", "mixed_bfloat16"], "Keras dtype policy.")


def strategy_from_flags(flag_values):
  """The `tf.distribute.Strategy` the flags ask for (`--use_tpu` wins, as in the original)."""
  name = "tpu" if flag_values.use_tpu else flag_values.distribution_strategy
  return distribute.get_strategy(name, tpu_address=flag_values.tpu_name, num_gpus=flag_values.num_gpus,
                                 tpu_zone=flag_values.tpu_zone, gcp_project=flag_values.gcp_project)
