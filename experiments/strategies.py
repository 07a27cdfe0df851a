"""`--strategy` names to `tf.distribute` strategies.

Call `make_strategy` before any other TensorFlow op: `cpu_replicas` splits
the CPU into logical devices, which TensorFlow allows only at start-up.
"""

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multiworker", "tpu")


def split_cpu(replicas: int):
    """Splits the first CPU into `replicas` logical devices."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == replicas:
        return
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * replicas
    )


def make_strategy(name="auto", *, cpu_replicas=1, tpu=""):
    """Builds the strategy that `--strategy=name` asks for.

    - auto: MirroredStrategy over all GPUs when there are several, one GPU
      or the CPU otherwise (the default strategy).
    - cpu, gpu: OneDeviceStrategy on the first CPU or GPU.
    - mirrored: MirroredStrategy over all GPUs, or over `cpu_replicas`
      logical CPU devices when there is no GPU.
    - multiworker: MultiWorkerMirroredStrategy from the TF_CONFIG variable.
    - tpu: TPUStrategy on the TPU named by `tpu` ("" = local TPU VM).
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"strategy={name!r}; expected one of {', '.join(STRATEGIES)}"
        )
    if (
        isinstance(cpu_replicas, bool)
        or not isinstance(cpu_replicas, int)
        or (cpu_replicas < 1)
    ):
        raise ValueError(
            f"cpu_replicas={cpu_replicas!r}; expected an integer >= 1"
        )
    if name == "multiworker":
        # First: it configures collective ops, which TensorFlow allows
        # only before its context starts (listing devices starts it).
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_replicas > 1:
        split_cpu(cpu_replicas)
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        if not gpus:
            raise ValueError(
                "strategy='gpu' but TensorFlow sees no GPU; install "
                "tensorflow[and-cuda] (BUILD.md) or use --strategy=cpu"
            )
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(
            cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except Exception as e:  # no TPU: resolver and init raise many types
        raise RuntimeError(
            f"strategy='tpu' with tpu={tpu!r}: no TPU could be reached "
            f"({type(e).__name__}: {e}). Run on a TPU VM, or name the TPU "
            "with --tpu=NAME; use --strategy=auto elsewhere."
        ) from None
    return tf.distribute.TPUStrategy(resolver)
