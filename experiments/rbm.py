"""CD-k training of an RBM through `loops` (cheat sheet 7.4.5).

    model = rbm.rbm_model(visible=784, hidden=256)
    optimizer = keras.optimizers.SGD(0.1, momentum=0.5)
    loops.fit(model, optimizer, rbm.rbm_task(k=1, seed=0), data)

Contrastive divergence is not the gradient of a loss: the step computes
the CD-k statistics of `keras_cheats.layers.RBM.cd_statistics` and hands
the optimizer their negation over the global batch size as "gradients",

    g = -Delta / B_global   (+ weight_cost * W / replicas for W),

so that plain SGD performs W <- W + eta (Delta W / B - weight_cost W), the
guide's update with its L2 "weight-cost", and the shares of several
replicas add up to the global batch's statistics exactly as the loss
shares of `loops.scaling` do (the optimizer sums them). With momentum,
Keras' SGD is the guide's momentum method. No GradientTape.

The hidden states that drive the chain are sampled from uniforms drawn by
a stateless RNG keyed by (seed, step, replica) (`cd_uniforms`): a resumed
run draws the same numbers, and replicas differ.
"""

import keras
import tensorflow as tf

import loops
from keras_cheats.layers.rbm import RBM
from loops.scaling import global_batch_size


def rbm_model(visible, hidden, name="rbm"):
    """keras.Model (B, visible) -> p(h = 1 | v) (B, hidden): one `RBM`."""
    inputs = keras.Input((visible,), name="visible")
    return keras.Model(inputs, RBM(hidden, name="rbm")(inputs), name=name)


def rbm_of(model):
    """The RBM layer of `model` (the model itself if it is one)."""
    if isinstance(model, RBM):
        return model
    found = [layer for layer in model.layers if isinstance(layer, RBM)]
    if len(found) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(found)} RBM layers; expected "
            "exactly one (see rbm_model)"
        )
    return found[0]


def cd_uniforms(shape, seed, step):
    """U[0, 1) of `shape`, a pure function of (seed, step, replica).

    Philox, as XLA or TensorFlow's kernel computes it: the two streams
    differ, so a run compiled with XLA draws other (equally good) numbers
    than one without; a resumed run decides XLA the same way.
    """
    ctx = tf.distribute.get_replica_context()
    replica = 0 if ctx is None else ctx.replica_id_in_sync_group
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(
        key, tf.cast(replica, tf.int64)
    )
    return tf.random.stateless_uniform(shape, seed=key, alg="philox")


def _visible(batch, rbm):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(batch)
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], rbm.kernel.shape[0]])


def _shares(rbm, v0, reconstruction, n_global):
    """This replica's shares of the mean squared reconstruction error
    (mean over pixels, then over the global batch) and mean F(v0)."""
    error = tf.reduce_mean(tf.square(v0 - reconstruction), axis=-1)  # (B,)
    return {
        "reconstruction_error": tf.reduce_sum(error) / n_global,
        "free_energy": tf.reduce_sum(rbm.free_energy(v0)) / n_global,
    }


def rbm_task(k=1, *, seed=0, sample_hidden=True, weight_cost=0.0):
    """CD-k as a `loops.Task` on batches of visible vectors (7.4.5).

    Args:
      k: Gibbs steps of CD-k.
      seed: keys the hidden samples (with the step and the replica).
      sample_hidden: sample the hidden states that drive the chain (the
        guide's CD); False runs deterministic mean-field CD.
      weight_cost: the guide's L2 weight-cost on W (e.g. 2e-4).

    Returns:
      A `loops.Task` on batches `x` or `(x, ...)` with x of shape
      (B, D) or (B, ...) flattening to D; both steps return
      {"reconstruction_error", "free_energy"}: in training from the
      chain's reconstruction p(v | h0) with sampled h0 (as Hinton's
      rbm.m reports it), in testing from the mean-field one,
      p(v | p(h | v0)).
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k={k!r}; expected an integer >= 1")
    if not weight_cost >= 0:
        raise ValueError(f"weight_cost={weight_cost!r}; expected >= 0")

    def train_step(model, optimizer, batch):
        rbm = rbm_of(model)
        v0 = _visible(batch, rbm)
        n = tf.shape(v0)[0]
        n_global = global_batch_size(n)
        uniforms = None
        if sample_hidden:
            uniforms = cd_uniforms(
                (k, n, rbm.units), seed, optimizer.iterations
            )
        statistics, reconstruction = rbm.cd_statistics(v0, k, uniforms)
        gradients = {
            name: -value / n_global for name, value in statistics.items()
        }
        if weight_cost:
            ctx = tf.distribute.get_replica_context()
            replicas = 1 if ctx is None else ctx.num_replicas_in_sync
            gradients["kernel"] += weight_cost * rbm.kernel / replicas
        shares = _shares(rbm, v0, reconstruction, n_global)  # before W moves
        optimizer.apply_gradients(
            [(g, getattr(rbm, name)) for name, g in gradients.items()]
        )
        return shares

    def test_step(model, batch):
        rbm = rbm_of(model)
        v0 = _visible(batch, rbm)
        reconstruction = rbm.gibbs_step(v0)
        return _shares(
            rbm, v0, reconstruction, global_batch_size(tf.shape(v0)[0])
        )

    return loops.Task(train_step=train_step, test_step=test_step)
