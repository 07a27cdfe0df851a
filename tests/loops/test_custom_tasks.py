"""The task seam: a GAN (two models, two optimizers, two tapes) and a VAE
loss over several outputs, both through the same engine."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from loops.scaling import global_batch_size


class TinyGAN(keras.Model):
    def __init__(self):
        super().__init__()
        self.generator = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        self.discriminator = keras.Sequential(
            [
                keras.Input((1,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1),
            ]
        )

    def call(self, z, training=False):
        return self.generator(z, training=training)


def gan_train_step(model, optimizer, batch):
    """Two tapes: the discriminator step, then the generator step."""
    real = batch
    n = tf.shape(real)[0]
    share = global_batch_size(n)
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)
    z = tf.random.normal((n, 2), seed=1)
    with tf.GradientTape() as tape:
        fake = model.generator(z, training=True)
        real_logit = model.discriminator(real, training=True)
        fake_logit = model.discriminator(fake, training=True)
        d_loss = (
            tf.reduce_sum(
                bce(tf.ones_like(real_logit), real_logit)
                + bce(tf.zeros_like(fake_logit), fake_logit)
            )
            / share
        )
    d_vars = model.discriminator.trainable_variables
    optimizer["discriminator"].apply_gradients(
        zip(tape.gradient(d_loss, d_vars), d_vars)
    )
    with tf.GradientTape() as tape:
        fake_logit = model.discriminator(
            model.generator(z, training=True), training=True
        )
        g_loss = (
            tf.reduce_sum(bce(tf.ones_like(fake_logit), fake_logit)) / share
        )
    g_vars = model.generator.trainable_variables
    optimizer["generator"].apply_gradients(
        zip(tape.gradient(g_loss, g_vars), g_vars)
    )
    return {"d_loss": d_loss, "g_loss": g_loss}


def test_gan_with_two_optimizers_trains_and_checkpoints(tmp_path):
    real = np.random.default_rng(0).normal(3.0, 0.5, (256, 1))
    ds = tf.data.Dataset.from_tensor_slices(real.astype("float32")).batch(32)
    keras.utils.set_random_seed(0)
    model = TinyGAN()
    z = tf.random.normal((512, 2), seed=3)
    before = abs(float(tf.reduce_mean(model.generator(z))) - 3.0)
    optimizers = {
        "generator": keras.optimizers.Adam(1e-2),
        "discriminator": keras.optimizers.Adam(1e-2),
    }
    g0 = [w.copy() for w in model.generator.get_weights()]
    d0 = [w.copy() for w in model.discriminator.get_weights()]
    history = loops.fit(
        model,
        optimizers,
        loops.Task(train_step=gan_train_step),
        ds,
        options=loops.LoopOptions(epochs=8, steps_per_execution=4, verbose=0),
        model_dir=tmp_path,
    )
    assert len(history["d_loss"]) == 8 and len(history["g_loss"]) == 8
    assert not np.allclose(g0[0], model.generator.get_weights()[0])
    assert not np.allclose(d0[0], model.discriminator.get_weights()[0])
    names = [
        n for n, _ in tf.train.list_variables(str(tmp_path / "checkpoints"))
    ]
    assert any(n.startswith("optimizer_generator/") for n in names)
    assert any(n.startswith("optimizer_discriminator/") for n in names)
    # The generator has moved its samples towards the real mean of 3.
    after = abs(float(tf.reduce_mean(model.generator(z))) - 3.0)
    assert after < before - 1.0


def test_vae_style_loss_over_several_outputs():
    """A per-example loss over a dict of outputs: reconstruction + KL."""
    inputs = keras.Input((4,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    mean, log_var = keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)
    recon = keras.layers.Dense(4)(keras.layers.Concatenate()([mean, log_var]))
    model = keras.Model(
        inputs, {"recon": recon, "mean": mean, "log_var": log_var}
    )

    def vae_loss(x, out):
        rec = tf.reduce_sum(tf.square(x - out["recon"]), axis=-1)
        kl = -0.5 * tf.reduce_sum(
            1
            + out["log_var"]
            - tf.square(out["mean"])
            - tf.exp(out["log_var"]),
            axis=-1,
        )
        return rec + kl

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(16)
    history = loops.fit(
        model,
        keras.optimizers.Adam(1e-2),
        loops.supervised(vae_loss),
        ds,
        options=loops.LoopOptions(epochs=5, verbose=0),
    )
    assert history["loss"][-1] < history["loss"][0]
    out = model(x)
    expected = float(tf.reduce_mean(vae_loss(x, out)))
    got = loops.evaluate(model, loops.supervised(vae_loss), ds)["loss"]
    assert abs(got - expected) < 1e-4 * max(1.0, abs(expected))


def test_a_task_says_what_an_example_is_and_the_epoch_means_weigh_by_it():
    # Batches (nodes, labels): 4 node rows with 1 label, then 1 row with 3.
    # The step reports the label mean; by default the engine weighs each
    # step by the first tensor's rows (4 and 1), with `examples` by labels.
    batches = [
        (tf.zeros((4, 1)), tf.constant([1.0])),
        (tf.zeros((1, 1)), tf.constant([5.0, 5.0, 5.0])),
    ]
    data = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(
            tf.TensorSpec((None, 1), tf.float32),
            tf.TensorSpec((None,), tf.float32),
        ),
    ).apply(tf.data.experimental.assert_cardinality(2))
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    def train_step(model, optimizer, batch):
        _, labels = batch
        return {"value": tf.reduce_mean(labels)}

    def mean_of(task):
        history = loops.fit(
            model,
            keras.optimizers.SGD(0.0),
            task,
            data,
            options=loops.LoopOptions(verbose=0, jit_compile=False),
        )
        return history["value"][0]

    by_rows = mean_of(loops.Task(train_step))
    by_labels = mean_of(
        loops.Task(train_step, examples=lambda batch: tf.size(batch[1]))
    )
    assert by_rows == pytest.approx((4 * 1.0 + 1 * 5.0) / 5)
    assert by_labels == pytest.approx((1 * 1.0 + 3 * 5.0) / 4)


def test_examples_must_be_callable():
    with pytest.raises(TypeError, match="examples=3; expected a callable"):
        loops.Task(lambda m, o, b: {}, examples=3)


def test_a_model_without_variables_is_refused_before_the_first_step():
    class Unbuilt(keras.Model):
        def __init__(self):
            super().__init__(name="unbuilt")
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    data = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"))
    ).batch(2)
    with pytest.raises(ValueError, match="model 'unbuilt' has no variables"):
        loops.fit(
            Unbuilt(),
            keras.optimizers.SGD(0.1),
            loops.supervised("mse"),
            data,
            options=loops.LoopOptions(verbose=0),
        )
