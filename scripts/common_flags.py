"""Flags the training scripts share: the original's TPU flags and the tf.distribute ones.

    import common_flags                      # scripts/ is on sys.path when a script runs
    common_flags.define_distribution_flags()
    ...
    strategy = common_flags.strategy_from_flags(FLAGS)

The library never reads flags: these turn into a `tf.distribute.Strategy` and plain arguments here.
"""

from absl import flags

from bert_tf2 import distribute


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
