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

from bert_tf2.core import cli

cli.handle_ctrl_c()  # before Keras' imports (seconds): a Ctrl-C during them is one line, exit 130 too

from bert_tf2.core import distribute  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position


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
  flags.DEFINE_float("layerwise_lr_decay", 1.0, "Layer-wise learning-rate decay (ELECTRA's recipe, 0.8 there): "
                     "encoder layer l of L trains at learning_rate * decay^(L - l), the embeddings at "
                     "decay^(L + 1), pooler and heads at learning_rate; 1.0 = off.")


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


def run_args(flag_values):
  """`bert_tf2.tasks.runner.run`'s keyword arguments from the flags above (and the script's
  --max_seq_length, --do_eval and --eval_batch_size, where it has them)."""
  args = dict(output_dir=flag_values.output_dir, vocab_file=flag_values.vocab_file,
              bert_config_file=flag_values.bert_config_file, init_checkpoint=flag_values.init_checkpoint,
              do_lower_case=flag_values.do_lower_case, max_seq_length=flag_values.max_seq_length,
              do_train=flag_values.do_train, do_predict=flag_values.do_predict,
              train_batch_size=flag_values.train_batch_size, predict_batch_size=flag_values.predict_batch_size,
              learning_rate=flag_values.learning_rate, num_train_epochs=flag_values.num_train_epochs,
              warmup_proportion=flag_values.warmup_proportion,
              save_checkpoints_steps=flag_values.save_checkpoints_steps, log_steps=flag_values.log_steps,
              steps_per_execution=flag_values.iterations_per_loop, strategy=strategy_from_flags(flag_values),
              mixed_precision=flag_values.mixed_precision, export_dir=flag_values.export_dir, seed=flag_values.seed,
              layerwise_lr_decay=flag_values.layerwise_lr_decay)
  for name in ("do_eval", "eval_batch_size"):
    if name in flag_values:
      args[name] = flag_values[name].value
  return args


def print_results(program, results):
  """`program: key = value` lines of a run's results, sorted (what the scripts print at the end)."""
  for key in sorted(results):
    print("%s: %s = %s" % (program, key, results[key]))
