"""One measurement of `benchmarks.speed`, run in a process of its own.

`run(spec, mnist_dir)` reads a dict such as
`{"trainer": "loop", "workload": "mlp", "batch_size": 128,
"examples": 8000, "epochs": 4}` and returns
`{"samples_per_second": ..., "epoch_seconds": ...}` over the timed epochs
(one warm-up epoch first). Trainers: "loop" (`loops.fit`; options
`steps_per_execution`, `jit_compile` (1/0), `input`), "input" (the
loop's reading of `input` alone, no training), "fit" (`model.fit`;
`steps_per_execution`, `jit_compile`), "torch" (the cheat sheet's loop),
"matmul" (the float32 matmul peak) and "flops" (training FLOPs per
example).
"""

import time

import numpy as np


def run(spec, mnist_dir):
    trainer = spec["trainer"]
    if trainer == "matmul":
        return {"gflops": _matmul_gflops()}
    x, y = _data(spec["examples"], mnist_dir) if "examples" in spec else (0, 0)
    if trainer == "torch":
        seconds = _torch(spec, x, y)
    elif trainer == "flops":
        return {"train_flops": _train_flops(spec["workload"])}
    elif trainer == "loop":
        seconds = _loop(spec, x, y)
    elif trainer == "input":
        seconds = _input_only(spec, x, y)
    elif trainer == "fit":
        seconds = _fit(spec, x, y)
    else:
        raise ValueError(
            f"trainer={trainer!r}; expected loop, input, fit, torch, "
            "matmul or flops"
        )
    timed = seconds[1:]  # the first epoch traces and warms up
    return {
        "samples_per_second": len(x) * len(timed) / sum(timed),
        "epoch_seconds": sum(timed) / len(timed),
    }


def _data(examples, mnist_dir):
    """`examples` MNIST training images (tiled when more are asked)."""
    if (mnist_dir / "t10k-images-idx3-ubyte.gz").exists():
        from experiments import data as data_lib

        train, _, _ = data_lib.load_splits(f"idx:{mnist_dir}")
        x, y = train.x, train.y
    else:
        rng = np.random.default_rng(0)
        x = rng.random((8000, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, 8000)
    reps = -(-examples // len(x))
    return np.concatenate([x] * reps)[:examples], np.concatenate([y] * reps)[
        :examples
    ]


def _matmul_gflops(n=2048, reps=10):
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))

    @tf.function
    def many():
        c = tf.zeros((n, n))
        for _ in tf.range(reps):
            c += tf.matmul(a, b)
        return c

    many().numpy()
    best = min(_timed(lambda: many().numpy()) for _ in range(5))
    return 2 * n**3 * reps / best / 1e9


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _keras_parts(workload):
    from experiments import data as data_lib
    from experiments import registry
    from experiments.train import Config

    info = data_lib.DatasetInfo("mnist", (28, 28, 1), 10, 8000, 2000)
    spec, config = registry.get(workload), Config(model=workload)
    prepare = spec.prepare
    if spec.prepare_factory is not None:
        prepare = spec.prepare_factory(info, config)
    return (
        spec.build(info, config),
        spec.loss(info, config),
        spec.metrics(info, config),
        prepare,
    )


def _train_flops(workload):
    """3x the forward FLOPs of one example, counted by the TF profiler."""
    import tensorflow as tf

    model, _, _, prepare = _keras_parts(workload)
    x = tf.zeros((1, 28, 28, 1))
    inputs = prepare(x, tf.zeros((1,), tf.int64))[0] if prepare else x
    specs = tf.nest.map_structure(
        lambda t: tf.TensorSpec(t.shape, t.dtype), inputs
    )
    graph = (
        tf.function(lambda a: model(a, training=True))
        .get_concrete_function(specs)
        .graph
    )
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return 3 * profile.total_float_ops


def _loop_data(spec, x, y, prepare):
    """The loop's training data for `spec["input"]` (default: in memory);
    `prepare` maps each batch to the model's inputs."""
    import tensorflow as tf

    from experiments.data import Pipeline, Split
    from loops import inputs

    pipeline = Pipeline(Split(x, y), spec["batch_size"], seed=0)
    if prepare is not None:
        pipeline = pipeline.map(prepare)
    kind = spec.get("input", "memory")
    if kind == "memory":
        return pipeline
    if kind == "tf.data":  # the same batches, one get_next per step
        return inputs.DatasetSource(
            pipeline.for_epoch, tf.distribute.get_strategy(), "data"
        )
    if kind == "per-example tf.data":
        return _per_example(x, y, spec["batch_size"], prepare)
    if kind == "prebatched":
        return _prebatched(x, y, spec["batch_size"], prepare)
    raise ValueError(f"input={kind!r}")


def _loop(spec, x, y):
    import keras

    import loops

    keras.utils.set_random_seed(0)
    model, loss, metrics, prepare = _keras_parts(spec["workload"])
    data = _loop_data(spec, x, y, prepare)
    overrides = {}
    if "steps_per_execution" in spec:
        overrides["steps_per_execution"] = spec["steps_per_execution"]
    if "jit_compile" in spec:
        overrides["jit_compile"] = bool(spec["jit_compile"])
    history = loops.fit(
        model,
        keras.optimizers.Adam(),
        loops.supervised(loss, metrics=metrics),
        data,
        options=loops.LoopOptions(
            epochs=spec["epochs"] + 1, verbose=0, **overrides
        ),
    )
    return history["epoch_seconds"]


def _input_only(spec, x, y):
    """Seconds per epoch to read the batches of `spec["input"]` as the loop
    does (32 steps per call), with a step that only sums each batch."""
    import tensorflow as tf

    from loops import inputs
    from loops.trainer import CallResult, compile_loop, num_steps

    strategy = tf.distribute.get_strategy()
    data = _loop_data(spec, x, y, _keras_parts(spec["workload"])[3])
    source = inputs.source_for(data, strategy, "data")

    def touch(batch):
        flat = [tf.cast(t, tf.float32) for t in tf.nest.flatten(batch)]
        total = tf.add_n([tf.reduce_sum(t) for t in flat])
        return {"sum": total}, tf.cast(tf.shape(flat[0])[0], tf.float32)

    run = compile_loop(strategy, source, touch, ())
    seconds = []
    for epoch in range(spec["epochs"] + 1):
        t0 = time.perf_counter()
        for n, call_inputs in source.calls(epoch, 0, 32):
            CallResult.from_tensors(run(call_inputs, num_steps(n)))
        seconds.append(time.perf_counter() - t0)
    return seconds


def _per_example(x, y, batch_size, prepare):
    """The textbook pipeline: cache, shuffle, batch, prefetch."""
    import tensorflow as tf

    base = tf.data.Dataset.from_tensor_slices((x, y)).cache()

    def for_epoch(epoch, skip):
        ds = base.shuffle(len(x), seed=epoch).batch(batch_size)
        if prepare is not None:
            ds = ds.map(prepare)
        return ds.skip(skip).prefetch(tf.data.AUTOTUNE)

    return for_epoch


def _prebatched(x, y, batch_size, prepare):
    """A `loops.inputs.Source` of batches made before training: the step
    reads batch i of a [steps, batch, ...] tensor; no input work at all."""
    import tensorflow as tf

    from loops import inputs

    if len(x) % batch_size:
        raise ValueError(
            f"prebatched input needs examples divisible by batch_size; got "
            f"{len(x)} and {batch_size}"
        )
    steps = len(x) // batch_size
    n = steps * batch_size
    xs = tf.constant(x[:n].reshape(steps, batch_size, *x.shape[1:]))
    ys = tf.constant(y[:n].reshape(steps, batch_size))

    class Prebatched(inputs.Source):
        static_shapes = True  # XLA may compile whole calls, as in memory

        def steps_per_epoch(self, epoch):
            return steps

        def calls(self, epoch, skip, steps_per_call):
            for first in range(skip, steps, steps_per_call):
                n = min(steps_per_call, steps - first)
                yield n, tf.constant(first, tf.int64)

        def batch(self, first, i):
            j = first + tf.cast(i, tf.int64)
            batch = (xs[j], ys[j])
            return batch if prepare is None else prepare(*batch)

    return Prebatched()


def _fit(spec, x, y):
    import keras
    import tensorflow as tf

    import loops

    keras.utils.set_random_seed(0)
    model, loss, metrics, prepare = _keras_parts(spec["workload"])
    if prepare is None:
        inputs, targets = x, y
    else:  # the model's (inputs, targets), made once for the whole set
        inputs, targets = tf.nest.map_structure(
            np.asarray, prepare(tf.constant(x), tf.constant(y))
        )
    if spec["workload"] in ("capsnet", "vae"):
        # Their losses read the model's dict of outputs; StepModel runs
        # model.fit's machinery with the same step as the loop.
        model = loops.StepModel(model)
    kwargs = {}
    if "steps_per_execution" in spec:
        kwargs = dict(
            steps_per_execution=spec["steps_per_execution"],
            jit_compile=bool(spec["jit_compile"]),
        )
    model.compile(
        optimizer=keras.optimizers.Adam(), loss=loss, metrics=metrics, **kwargs
    )
    timer = _epoch_timer()
    model.fit(
        inputs,
        targets,
        batch_size=spec["batch_size"],
        epochs=spec["epochs"] + 1,
        shuffle=True,
        verbose=0,
        callbacks=[timer],
    )
    return timer.seconds


def _epoch_timer():
    """A Keras callback that keeps each epoch's wall time."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    return EpochTimer()


def _torch(spec, x, y):
    from benchmarks import torch_models

    return torch_models.train(
        spec["workload"],
        x,
        y,
        batch_size=spec["batch_size"],
        epochs=spec["epochs"] + 1,
        seed=0,
    )
