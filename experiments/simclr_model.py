"""The SimCLR model and its training step (cheat sheet 7.10): encoder f,
projection head g, and the `loops.Task` that trains them with NT-Xent on
two random views of each image (Chen et al. 2020). The experiment that
runs it is `experiments.simclr`.
"""

import keras
import tensorflow as tf

import loops
from experiments import augment
from keras_cheats.losses.nt_xent import nt_xent
from keras_cheats.models import cnn
from loops.scaling import global_batch_size


def build_encoder(image_shape, name="encoder"):
    """f: the default CNN of `keras_cheats.models.cnn` without its output
    layer (conv 32, pool, conv 64, pool, flatten, dense 128 relu): images
    (B, H, W, C) -> representations h (B, 128)."""
    config = cnn.CNNConfig(dense_units=(128,), dropout=0.0)
    classifier = cnn.build_cnn(image_shape, 10, config)
    return keras.Model(
        classifier.input, classifier.get_layer("dense_1").output, name=name
    )


def build_simclr(image_shape, projection_dim):
    """x -> z = g(f(x)); the encoder is the sub-model named "encoder"."""
    encoder = build_encoder(image_shape)
    head = keras.Sequential(
        [
            keras.Input((encoder.output.shape[-1],)),
            keras.layers.Dense(128, activation="relu", name="hidden"),
            keras.layers.Dense(projection_dim, name="projection"),
        ],
        name="projection_head",
    )
    inputs = keras.Input(image_shape, name="images")
    return keras.Model(inputs, head(encoder(inputs)), name="simclr")


def contrastive_share(z, temperature):
    """This replica's share of the global-batch NT-Xent (loops.scaling).

    z: (n, 2, d) projections of this replica's n images. With several
    replicas the projections of all of them are gathered, so each image's
    negatives are the 2N - 2 other views of the global batch; the replica
    keeps the values of its own rows (`all_gather` sends the gradients of
    the other rows back to their replicas)."""
    n = tf.shape(z)[0]
    n_global = global_batch_size(n)
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return tf.reduce_sum(nt_xent(None, z, temperature)) / n_global
    everyone = ctx.all_gather(z, axis=0)  # (N_global, 2, d)
    everyone.set_shape([None, *z.shape[1:]])  # all_gather drops it
    sizes = ctx.all_gather(tf.reshape(n, [1]), axis=0)  # (replicas,)
    start = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    values = nt_xent(None, everyone, temperature)[start : start + n]
    return tf.reduce_sum(values) / n_global


def simclr_task(config):
    """The SimCLR step as a `loops.Task` on (images, labels) batches whose
    labels it ignores: two views, encode, project, NT-Xent, update."""
    views = config.views()

    def train_step(model, optimizer, batch):
        x = batch[0]
        n = tf.shape(x)[0]
        view_a, view_b = augment.two_views(
            x, config.seed, optimizer.iterations, views
        )
        with tf.GradientTape() as tape:
            z = model(tf.concat([view_a, view_b], axis=0), training=True)
            z = tf.stack([z[:n], z[n:]], axis=1)  # (n, 2, d)
            loss = contrastive_share(
                z, config.temperature
            ) + loops.regularization_loss(model)
            scaled = optimizer.scale_loss(loss)
        variables = model.trainable_variables
        optimizer.apply_gradients(
            zip(tape.gradient(scaled, variables), variables)
        )
        return {"loss": loss}

    return loops.Task(train_step=train_step)
