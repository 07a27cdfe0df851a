"""Orbit's trainer and evaluator: several steps in one compiled call.

    trainer = Trainer(model, optimizer, task, strategy, source, jit_compile)
    tensors = trainer.train_loop(inputs, num_steps)   # compiled
    result = trainer.train(inputs, num_steps)         # the same, as floats

`train_loop` runs up to `num_steps` steps of `task.train_step` (section 2.1,
steps 1 to 4) in a `tf.range` loop inside one `tf.function`, and returns a
dict of tensors (`CallResult.from_tensors` reads it on the host):

    sums     {name: sum over steps of value * examples}  (example-weighted)
    count    examples seen
    steps    steps run (fewer than num_steps after a non-finite value)
    last     {name: value of the last step run}
    metrics  {name: result of each metric}, read in the same call

The evaluator is the same loop over `task.test_step`.
"""

import dataclasses

import tensorflow as tf

from loops import inputs as inputs_lib

SUM = tf.distribute.ReduceOp.SUM


def build_optimizers(model, optimizer):
    """Builds each optimizer before the first (distributed) step.

    A Keras 3 optimizer first used inside `strategy.run` fails to create its
    variables (tensorflow issue 72686), so it is built here, in scope. A
    dict of optimizers is keyed by the sub-model attribute each one trains.
    """
    if not isinstance(optimizer, dict):
        if not optimizer.built:
            if not model.variables:
                raise ValueError(
                    f"model {model.name!r} has no variables yet; expected "
                    "a built model: call it on one batch (a subclassed "
                    "model makes its variables on its first call), or "
                    "build the optimizer on the variables the task updates"
                )
            optimizer.build(model.trainable_variables)
        return
    for name, opt in optimizer.items():
        sub = getattr(model, name, None)
        if sub is None:
            raise ValueError(
                f"optimizer key {name!r} names no attribute of the model; "
                "expected the attribute of the sub-model it trains"
            )
        if not opt.built:
            opt.build(sub.trainable_variables)


def compile_loop(strategy, source, replica_fn, metrics, jit_compile=False):
    """`loop(inputs, num_steps) -> dict of tensors` as one `tf.function`.

    With XLA, one device and batches of one shape per call, XLA compiles
    the whole call; otherwise XLA (if asked) compiles each step.
    """
    whole_call = (
        jit_compile
        and source.static_shapes
        and inputs_lib.single_device(strategy)
    )
    if jit_compile and not whole_call:
        replica_fn = tf.function(replica_fn, jit_compile=True)

    def one_step(inputs, i):
        batch = source.batch(inputs, i)
        values, n = strategy.run(replica_fn, args=(batch,))
        values = {
            k: strategy.reduce(SUM, v, axis=None) for k, v in values.items()
        }
        return values, strategy.reduce(SUM, n, axis=None)

    def loop(inputs, num_steps):
        values, n = one_step(inputs, 0)
        sums = {k: v * n for k, v in values.items()}
        count, steps, ok = n, tf.constant(1, tf.int64), _finite(values)
        for i in tf.range(1, num_steps):
            if not ok:  # stop at the first non-finite value
                break
            values, n = one_step(inputs, i)
            sums = {k: sums[k] + values[k] * n for k in sums}
            count, steps, ok = count + n, steps + 1, _finite(values)
        return {
            "sums": sums,
            "count": count,
            "steps": steps,
            "last": values,
            "metrics": metric_tensors(metrics),
        }

    signature = None
    if source.input_signature is not None:
        signature = (source.input_signature, tf.TensorSpec([], tf.int64))
    return tf.function(
        loop,
        input_signature=signature,
        jit_compile=True if whole_call else None,
        reduce_retracing=True,
    )


def _finite(values):
    return tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(v)) for v in values.values()]
    )


def metric_tensors(metrics):
    out = {}
    for m in metrics:
        result = m.result()
        out.update(result if isinstance(result, dict) else {m.name: result})
    return out


def metric_results(metrics):
    return {k: float(v) for k, v in metric_tensors(metrics).items()}


def _examples(batch):
    return tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float32)


@dataclasses.dataclass
class CallResult:
    """One call's results as Python floats (see the module docstring)."""

    sums: dict
    count: float
    steps: int
    last: dict
    metrics: dict

    @classmethod
    def from_tensors(cls, out):
        out = tf.nest.map_structure(lambda t: t.numpy().item(), out)
        return cls(
            out["sums"], out["count"], int(out["steps"]), out["last"],
            out["metrics"],
        )  # fmt: skip


class Trainer:
    """Holds the compiled `train_loop` of one model, optimizer and task.

    The model's `optimizer` attribute is set (a single optimizer only), so
    Keras callbacks that read it (LearningRateScheduler, ReduceLROnPlateau)
    work as under `model.fit`.
    """

    def __init__(self, model, optimizer, task, strategy, source, jit_compile):
        with strategy.scope():
            build_optimizers(model, optimizer)
        if not isinstance(optimizer, dict):
            model.optimizer = optimizer
        self.metrics = task.all_metrics()
        count = task.examples or _examples

        def replica_train(batch):
            values = task.train_step(model, optimizer, batch)
            return values, tf.cast(count(batch), tf.float32)

        self.train_loop = compile_loop(
            strategy, source, replica_train, self.metrics, jit_compile
        )

    def train(self, inputs, num_steps):
        return CallResult.from_tensors(self.train_loop(inputs, num_steps))

    def xla_error(self, inputs, num_steps):
        """Why XLA cannot compile a call on `inputs`, or None: the call is
        lowered to XLA's HLO, and nothing runs."""
        try:
            lowered = self.train_loop.experimental_get_compiler_ir
            lowered(inputs, num_steps)(stage="hlo")
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            return str(error).strip().splitlines()[0][:300]
        return None


class Evaluator:
    """Holds the compiled `eval_loop` over `task.test_step`; `evaluate`
    runs it over the whole source and returns {name: mean}."""

    def __init__(self, model, task, strategy, source, steps_per_call=32):
        self.metrics, self.source = task.all_metrics(), source
        self.steps_per_call = steps_per_call
        count = task.examples or _examples

        def replica_test(batch):
            return task.test_step(model, batch), tf.cast(
                count(batch), tf.float32
            )

        self.eval_loop = compile_loop(
            strategy, source, replica_test, self.metrics
        )

    def evaluate(self):
        for m in self.metrics:
            m.reset_state()
        totals = Totals()
        for n, inputs in self.source.calls(0, 0, self.steps_per_call):
            tensors = self.eval_loop(inputs, num_steps(n))
            totals.add(CallResult.from_tensors(tensors))
        return {**totals.means(), **metric_results(self.metrics)}


class Totals:
    """Example-weighted means of the step values over an epoch (float64)."""

    def __init__(self):
        self.sums, self.count = {}, 0.0

    def add(self, result):
        for k, v in result.sums.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += result.count

    def means(self):
        n = max(self.count, 1.0)  # an empty epoch has no means
        return {k: v / n for k, v in self.sums.items()}


_NUM_STEPS = {}


def num_steps(n):
    """`n` as one int64 tensor per value, so a new Python int does not
    retrace the loop."""
    if n not in _NUM_STEPS:
        _NUM_STEPS[n] = tf.constant(n, tf.int64)
    return _NUM_STEPS[n]


__all__ = [
    "CallResult",
    "Evaluator",
    "Totals",
    "Trainer",
    "build_optimizers",
    "compile_loop",
    "num_steps",
]
