r"""Optimizer algorithms as pure update rules (cheat sheet section 5).

Section 5 of the cheat sheet names the topic but gives no formulas, so the
notation is that of section 2.1: W a weight, g = dL/dW its gradient, eta
the learning rate, t = 1, 2, ... the step. Every rule has one signature,

    rule(w, g, state, step, **hyperparameters) -> (new_w, new_state)

with `w`, `g` and every tensor of the tuple `state` of one shape, `step`
the 1-based step t as a float scalar, and pure TensorFlow ops (no
assignment): `initial_state(rule, w)` gives the state before step 1, and
`keras_cheats.rule_optimizers` applies a rule as a Keras optimizer.

Each rule computes what the Keras optimizer of the same name computes,
with Keras' defaults, in the same order of float32 operations (so the two
agree to rounding); where Keras' convention differs from the textbook
formula, the docstring says so.
"""

import tensorflow as tf


def sgd(w, g, state, step, *, learning_rate=0.01):
    """Plain gradient descent (section 2.1 step 4):

        W <- W - eta g.

    `keras.optimizers.SGD()`. State: ().

    Example: sgd([1.0, -2.0], [0.5, 0.25], (), 1.0, learning_rate=0.1)
    returns ([0.95, -2.025], ()).
    """
    del step
    return w - g * learning_rate, state


def momentum(w, g, state, step, *, learning_rate=0.01, momentum=0.9):
    """Heavy-ball momentum:

        v <- mu v - eta g,    W <- W + v.

    Keras' form (`SGD(momentum=0.9)`): the velocity holds the step, eta
    included; the textbook's v <- mu v + g, W <- W - eta v is the same
    for a constant eta. State: (v,), zeros at first.
    """
    del step
    (v,) = state
    v = v * momentum - g * learning_rate
    return w + v, (v,)


def nesterov(w, g, state, step, *, learning_rate=0.01, momentum=0.9):
    """Nesterov momentum, in the form without the look-ahead gradient:

        v <- mu v - eta g,    W <- W + mu v - eta g.

    Keras' `SGD(momentum=0.9, nesterov=True)`. The textbook evaluates g
    at W + mu v; with W' = W + mu v (the weights Keras stores) the two
    are the same sequence. State: (v,), zeros at first.
    """
    del step
    (v,) = state
    v = v * momentum - g * learning_rate
    return w + (v * momentum - g * learning_rate), (v,)


def adagrad(w, g, state, step, *, learning_rate=0.001, epsilon=1e-7):
    """Adagrad: a per-weight step that shrinks with the gradients seen:

        G <- G + g^2,    W <- W - eta g / sqrt(G + eps).

    Keras' conventions (`keras.optimizers.Adagrad()`): eps inside the
    square root (the textbook: eta g / (sqrt(G) + eps)), and G starts at
    0.1, not 0 (`initial_accumulator_value`; `initial_state` knows).
    State: (G,).
    """
    del step
    (accumulator,) = state
    accumulator = accumulator + tf.square(g)
    return w - (learning_rate * g) / tf.sqrt(accumulator + epsilon), (
        accumulator,
    )


def rmsprop(w, g, state, step, *, learning_rate=0.001, rho=0.9, epsilon=1e-7):
    """RMSProp: Adagrad with a moving average instead of a sum:

        s <- rho s + (1 - rho) g^2,    W <- W - eta g / sqrt(s + eps).

    `keras.optimizers.RMSprop()` with its defaults momentum=0 and
    centered=False (the other two variants are not written here); eps is
    inside the square root (the textbook: sqrt(s) + eps). State: (s,),
    zeros at first.
    """
    del step
    (s,) = state
    s = rho * s + (1 - rho) * tf.square(g)
    return w - (learning_rate * g) / tf.sqrt(s + epsilon), (s,)


def adam(
    w, g, state, step, *,
    learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
):  # fmt: skip
    """Adam: momentum (m) over a per-weight scale (v), bias-corrected:

        m <- beta1 m + (1 - beta1) g,     v <- beta2 v + (1 - beta2) g^2,
        W <- W - eta_t m / (sqrt(v) + eps),
        eta_t = eta sqrt(1 - beta2^t) / (1 - beta1^t).

    Keras' form (`keras.optimizers.Adam()`, the paper's section 2 "more
    efficient" ordering): the bias corrections go into eta_t, so eps is
    added to sqrt(v), not to sqrt(v_hat) as in the textbook
    m_hat / (sqrt(v_hat) + eps); the default eps is 1e-7 (the paper:
    1e-8). The averages are written m + (g - m)(1 - beta1), as Keras
    computes them. State: (m, v), zeros at first.

    Example: at t = 1 from W = 1 with g = 1e-4 and eta = 0.1, m = 1e-5,
    v = 1e-11 and W = 1 - 0.1 x / (x + 1e-7) = 0.903065, x = sqrt(v) =
    3.162e-6: eps is not negligible for small gradients.
    """
    m, v = state
    m = m + (g - m) * (1 - beta_1)
    v = v + (tf.square(g) - v) * (1 - beta_2)
    beta_1_power = tf.pow(tf.cast(beta_1, w.dtype), step)
    beta_2_power = tf.pow(tf.cast(beta_2, w.dtype), step)
    alpha = learning_rate * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    return w - (m * alpha) / (tf.sqrt(v) + epsilon), (m, v)


def adamw(
    w, g, state, step, *,
    learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
    epsilon=1e-7,
):  # fmt: skip
    """AdamW: Adam with the weight decay decoupled from the gradient:

        W <- W - eta lambda W,    then the Adam step of `adam`.

    Keras' form (`keras.optimizers.AdamW()`): the decay uses the weights
    before the step and is scaled by eta itself (the paper scales lambda
    by a schedule multiplier eta_t only, so Keras' lambda is the paper's
    lambda / eta); default lambda = 0.004. State: (m, v), as Adam's.
    """
    w = w - w * weight_decay * learning_rate
    return adam(
        w, g, state, step,
        learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
        epsilon=epsilon,
    )  # fmt: skip


# rule -> the state's slot names and initial values.
SLOTS = {
    sgd: {},
    momentum: {"velocity": 0.0},
    nesterov: {"velocity": 0.0},
    adagrad: {"accumulator": 0.1},
    rmsprop: {"velocity": 0.0},
    adam: {"momentum": 0.0, "velocity": 0.0},
    adamw: {"momentum": 0.0, "velocity": 0.0},
}


def initial_state(rule, w, *, initial_accumulator_value=None):
    """The state of `rule` before step 1, for a weight like `w`: a tuple
    of tensors of w's shape and dtype (Adagrad's accumulator at
    `initial_accumulator_value`, by default Keras' 0.1; zeros else)."""
    values = dict(SLOTS[rule])
    if initial_accumulator_value is not None and "accumulator" in values:
        values["accumulator"] = initial_accumulator_value
    w = tf.convert_to_tensor(w)
    return tuple(
        tf.fill(tf.shape(w), tf.cast(c, w.dtype)) for c in values.values()
    )
