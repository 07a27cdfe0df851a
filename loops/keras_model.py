"""`model.fit` through the very same step as `loops.fit`.

    model = loops.StepModel(net)
    model.compile(optimizer="adam", loss=..., metrics=[...])
    model.fit(dataset, epochs=5)

`StepModel.train_step` calls `loops.step.train_step` (through the same
`loops.supervised` task), so the loop and `model.fit` cannot drift apart.
"""

import keras
import tensorflow as tf

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
