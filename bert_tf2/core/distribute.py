"""Distribution strategies and mixed precision, by name (scripts/common_flags.py maps flags to them).

    strategy = get_strategy("mirrored")          # all local GPUs (or the CPU)
    set_mixed_precision("mixed_bfloat16")
    with strategy.scope():
      model = BertPretrainer(config)

Batch sizes in the scripts are GLOBAL: a step of `train_batch_size` examples is split across
`strategy.num_replicas_in_sync` replicas, and each replica's loss is divided by the replica count
so that the summed (all-reduced) gradients are those of the global batch.

`tpu` follows TensorFlow's TPUStrategy recipe (TPUClusterResolver -> connect -> initialize ->
TPUStrategy). It has not been run in this project (no TPU here).
"""

import keras
import tensorflow as tf

STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored", "tpu")
POLICIES = {"none": "float32", "float32": "float32", "mixed_float16": "mixed_float16",
            "mixed_bfloat16": "mixed_bfloat16"}


def get_strategy(distribution_strategy="one_device", tpu_address=None, num_gpus=None,
                 tpu_zone=None, gcp_project=None):
  """Returns a `tf.distribute.Strategy`.

  Args:
    distribution_strategy: "one_device" (first GPU, else CPU), "mirrored" (`num_gpus` local GPUs;
      all of them when None; the CPU when there are none), "multi_worker_mirrored" (workers from the
      `TF_CONFIG` environment variable, all-reduce across them), or "tpu".
    tpu_address: str, the TPU name or grpc:// address (tpu only; "" or None = local TPU VM).
    num_gpus: int or None, GPUs per worker for one_device/mirrored.
    tpu_zone, gcp_project: str or None, where to find a Cloud TPU by name (as the original flags).
  """
  if distribution_strategy == "multi_worker_mirrored":
    # Before anything else touches the TF runtime: collective ops are configured at startup.
    return tf.distribute.MultiWorkerMirroredStrategy()
  gpus = tf.config.list_logical_devices("GPU")
  if distribution_strategy == "one_device":
    if num_gpus == 0 or not gpus:
      return tf.distribute.OneDeviceStrategy("/cpu:0")
    return tf.distribute.OneDeviceStrategy("/gpu:0")
  if distribution_strategy == "mirrored":
    if num_gpus is None:
      devices = [d.name for d in gpus] or ["/cpu:0"]
    elif num_gpus == 0:
      devices = ["/cpu:0"]
    else:
      if num_gpus > len(gpus):
        raise ValueError("num_gpus=%d but only %d GPUs are visible" % (num_gpus, len(gpus)))
      devices = ["/gpu:%d" % i for i in range(num_gpus)]
    return tf.distribute.MirroredStrategy(devices)
  if distribution_strategy == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu_address or "", zone=tpu_zone, project=gcp_project)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError("distribution_strategy must be one of %s, got %r"
                   % (", ".join(STRATEGIES), distribution_strategy))


def set_mixed_precision(policy="none"):
  """Sets Keras' global dtype policy: "none" (float32), "mixed_float16" or "mixed_bfloat16".

  Under a mixed policy layers compute in float16/bfloat16 and keep float32 variables; attention
  softmax, the losses and the optimizer stay float32. mixed_float16 also needs loss scaling
  (`keras.optimizers.LossScaleOptimizer`), which the training loop adds.
  """
  if policy not in POLICIES:
    raise ValueError("mixed_precision must be one of none, mixed_float16, mixed_bfloat16; got %r"
                     % (policy,))
  keras.mixed_precision.set_global_policy(POLICIES[policy])
  return keras.mixed_precision.global_policy()
