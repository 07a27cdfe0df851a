"""`model.fit` through the very same step as `loops.fit`.

    model = loops.StepModel(net)
    model.compile(optimizer="adam", loss=..., metrics=[...])
    model.fit(dataset, epochs=5)

`StepModel.train_step` calls `loops.step.train_step` (through the same
`loops.supervised` task), so the loop and `model.fit` cannot drift apart.
`epoch_ordered` feeds `model.fit` the loop's batches in the loop's order,
`RunFolderCallback` keeps the loop's run folder, and `Progbar` fixes the
count of Keras' progress bar: with the three, `model.fit` and `loops.fit`
make the same run (`experiments.train --trainer=fit`).
"""

import time

import keras
import tensorflow as tf

from loops.in_memory import InMemory
from loops.interrupt import agreed_signal
from loops.run_folder import learning_rate
from loops.scaling import global_batch_size
from loops.task import supervised


@keras.saving.register_keras_serializable(package="keras_cheats")
class StepModel(keras.Model):
    """Wraps a Keras model; `fit`/`evaluate` run `loops.step`'s functions.

    Args:
      net: the model to train (its outputs are this model's outputs).
      clip_norm: global-norm gradient clipping in the step, or None.
    """

    def __init__(self, net, clip_norm=None, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.clip_norm = clip_norm
        self._task = None
        # Keras marks a model built when it is first called; a wrapper of a
        # built net is built already, and saving it (KerasTuner saves each
        # trial's weights) must not wait for a call.
        self.built = net.built

    def call(self, inputs, training=False):
        return self.net(inputs, training=training)

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        **kwargs,
    ):
        if loss is None:
            raise ValueError("loss=None; StepModel.compile needs a loss")
        super().compile(optimizer=optimizer, **kwargs)
        self._task = supervised(
            loss,
            loss_weights=loss_weights,
            metrics=metrics or (),
            clip_norm=self.clip_norm,
        )
        # Attributes, so Keras tracks and resets them each epoch.
        self.step_metrics = self._task.all_metrics()
        names = (
            ["loss"] + [f"{k}_loss" for k in loss]
            if isinstance(loss, dict)
            else ["loss"]
        )
        self.loss_trackers = [keras.metrics.Mean(name=n) for n in names]

    def _logs(self, values, data):
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        n_local = tf.cast(tf.shape(tf.nest.flatten(x)[0])[0], tf.float32)
        n_global = global_batch_size(n_local)
        for tracker in self.loss_trackers:
            key = "loss" if tracker.name == "loss" else tracker.name[:-5]
            # A share times N_global / n_local is this replica's local mean;
            # weighting it by n_local makes the sum over replicas exact.
            local_mean = values[key] * n_global / tf.maximum(n_local, 1.0)
            tracker.update_state(local_mean, sample_weight=n_local)
        return self.get_metrics_result()

    def train_step(self, data):
        optimizer = self.optimizer
        if not optimizer.built:
            optimizer.build(self.net.trainable_variables)
        values = self._task.train_step(self.net, optimizer, data)
        return self._logs(values, data)

    def test_step(self, data):
        values = self._task.test_step(self.net, data)
        return self._logs(values, data)

    def get_config(self):
        return {
            **super().get_config(),
            "net": keras.saving.serialize_keras_object(self.net),
            "clip_norm": self.clip_norm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        net = keras.saving.deserialize_keras_object(config.pop("net"))
        return cls(net, **config)


def epoch_ordered(data: InMemory):
    """`model.fit` input with the loop's batches: (dataset, callback).

    Iterated during epoch e (the callback tells it e, at the epoch's
    start), the dataset gives `data`'s batches of epoch e, in the order
    `loops.fit` reads them, so both trainers see the same run. Its length
    is known, so Keras' progress bar has a target.
    """
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    tensors = data.tensors()
    cache = {}

    def indices(e):  # the epoch's order, made once per epoch on the host
        e = int(e)
        if e not in cache:
            cache.clear()
            cache[e] = data.indices(e)
        return cache[e]

    def one_epoch(_):
        idx = tf.numpy_function(indices, [epoch], tf.int64)
        idx = tf.ensure_shape(idx, [None])
        return tf.data.Dataset.from_tensor_slices(idx).batch(data.batch_size)

    ds = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    ds = ds.map(lambda i: data.gather(tensors, i)).prefetch(2)
    ds = ds.apply(tf.data.experimental.assert_cardinality(data.steps_per_epoch))

    class SetEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            epoch.assign(e)

    return ds, SetEpoch()


class RunFolderCallback(keras.callbacks.Callback):
    """Keeps a `loops.run_folder.RunFolder` during `model.fit`, as
    `loops.fit` does: after each epoch the history (with "epoch_seconds",
    "samples_per_second" and "learning_rate"), TensorBoard scalars and a
    checkpoint. The epoch's time stops where validation starts."""

    def __init__(self, run, steps_per_epoch, examples_per_epoch, signal=None):
        super().__init__()
        self.run, self.steps = run, steps_per_epoch
        self.examples, self.signal = examples_per_epoch, signal
        self._t0 = self._seconds = None
        self.interrupted_in_epoch = None

    def on_train_batch_end(self, batch, logs=None):
        # A signal (`loops.interrupt`) stops at this call's end; the epoch
        # is not saved: the run resumes from the last epoch's end.
        if self.signal is None:
            return
        strategy = self.model.distribute_strategy
        signum = agreed_signal(strategy, self.signal.signum)  # or a peer's
        if signum is not None:
            self.signal.signum = signum
            self.model.stop_training = True
            if self.interrupted_in_epoch is None:
                self.interrupted_in_epoch = self._epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._t0, self._seconds = time.perf_counter(), None
        self._epoch = epoch

    def on_test_begin(self, logs=None):
        if self._t0 is not None and self._seconds is None:
            self._seconds = time.perf_counter() - self._t0

    def on_epoch_end(self, epoch, logs=None):
        if self.interrupted_in_epoch is not None:
            return
        seconds = self._seconds or time.perf_counter() - self._t0
        logs = {
            **{k: float(v) for k, v in (logs or {}).items()},
            "epoch_seconds": seconds,
            "samples_per_second": self.examples / max(seconds, 1e-9),
            "learning_rate": learning_rate(self.model.optimizer),
        }
        self.run.global_step += self.steps
        self.run.end_epoch(epoch, logs)
        self._t0 = None


class Progbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting a last call of an epoch to the
    epoch's end: Keras counts a whole call of `steps_per_execution` steps
    (a 23-step epoch read "32/23")."""

    def on_train_batch_end(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, logs)
