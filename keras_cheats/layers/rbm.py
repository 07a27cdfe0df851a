"""Bernoulli-Bernoulli restricted Boltzmann machine (Cheat sheet 7.4.5).

Hinton 2002 (contrastive divergence), Hinton, Osindero and Teh 2006 (deep
belief nets), Hinton 2010 ("A practical guide to training restricted
Boltzmann machines", cited below as "the guide"). Binary visible units v
(D of them), binary hidden units h (H), weights W (D, H), visible bias b
(D,), hidden bias c (H,):

    E(v, h) = -v.b - h.c - v W h
    p(h_j = 1 | v) = sigmoid(c_j + v W_:j)
    p(v_i = 1 | h) = sigmoid(b_i + W_i: h)
    F(v) = -log sum_h exp(-E(v, h)) = -v.b - sum_j softplus(c_j + v W_:j)

CD-k (Hinton 2002) starts a Gibbs chain v0 -> h0 -> v1 -> ... -> vk at a
data vector and takes the statistics

    Delta W = <v0 p0^T>_data - <vk pk^T>_model
    Delta b = <v0 - vk>,   Delta c = <p0 - pk>

with p_t = p(h = 1 | v_t). Choices, all the guide's: the hidden
statistics use the probabilities p_t, not binary samples (section 3.3);
the hidden states that drive the chain (h0 ... h_{k-1}) are binary samples
(3.1); the visible states of the chain are probabilities (3.2), which is
also the mean-field reading of grey pixels as probabilities. Without
uniforms the hidden states are probabilities too (deterministic mean-field
CD). Pixels are used as given: intensities in [0, 1] as probabilities.

The layer called on v returns p(h = 1 | v): a DBN's feature map.
"""

import keras
from keras import ops


def sample_bernoulli(probabilities, uniforms):
    """Binary states s = 1[u < p] from uniforms u ~ U[0, 1): s ~ Bernoulli(p).

    The uniforms are passed in so that the draws can be keyed by the
    caller (a stateless RNG) and repeated by a test.
    """
    return ops.cast(ops.less(uniforms, probabilities), probabilities.dtype)


@keras.saving.register_keras_serializable(package="keras_cheats")
class RBM(keras.layers.Layer):
    """A Bernoulli-Bernoulli RBM with weights W, biases b and c (7.4.5).

    Called on visible vectors v (batch, D), returns p(h = 1 | v) =
    sigmoid(c + v W), shape (batch, units).

    Args:
        units: H, the number of hidden units.
        kernel_initializer: initializer of W (default the guide's
            N(0, 0.01^2)); b and c start at 0 (the guide sets b to the
            log-odds of the data's mean: `set_visible_bias_from_data`).
    """

    def __init__(self, units, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(
                f"`units` must be an int >= 1; received units={units!r}."
            )
        self.units = units
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=0.01)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        visible = input_shape[-1]
        if len(input_shape) != 2 or visible is None:
            raise ValueError(
                "`inputs` must be visible vectors of shape (batch, D) with "
                f"a known D; received input shape {tuple(input_shape)}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(visible, self.units),
            initializer=self.kernel_initializer,
        )  # W
        self.visible_bias = self.add_weight(
            name="visible_bias", shape=(visible,), initializer="zeros"
        )  # b
        self.hidden_bias = self.add_weight(
            name="hidden_bias", shape=(self.units,), initializer="zeros"
        )  # c

    def call(self, inputs):
        return self.hidden_probabilities(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def hidden_probabilities(self, v):
        """p(h = 1 | v) = sigmoid(c + v W): (B, D) -> (B, H)."""
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, h):
        """p(v = 1 | h) = sigmoid(b + h W^T): (B, H) -> (B, D)."""
        return ops.sigmoid(
            ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias
        )

    def energy(self, v, h):
        """E(v, h) = -v.b - h.c - v W h: (B, D), (B, H) -> (B,)."""
        vw = ops.matmul(v, self.kernel)  # (B, H)
        return -(
            ops.sum(v * self.visible_bias, axis=-1)
            + ops.sum(h * self.hidden_bias, axis=-1)
            + ops.sum(vw * h, axis=-1)
        )

    def free_energy(self, v):
        """F(v) = -v.b - sum_j softplus(c_j + v W_:j): (B, D) -> (B,).

        F(v) = -log sum_h exp(-E(v, h)), so p(v) = exp(-F(v)) / Z.
        """
        pre = ops.matmul(v, self.kernel) + self.hidden_bias  # (B, H)
        return -ops.sum(v * self.visible_bias, axis=-1) - ops.sum(
            ops.softplus(pre), axis=-1
        )

    def gibbs_step(self, v, hidden_uniforms=None, visible_uniforms=None):
        """One step of the chain v -> h ~ p(h | v) -> v' ~ p(v | h).

        Args:
            v: (B, D) visible states or probabilities.
            hidden_uniforms: (B, H) uniforms that sample h, or None to
                use the probabilities p(h = 1 | v) (mean field).
            visible_uniforms: (B, D) uniforms that sample v', or None to
                return the probabilities p(v' = 1 | h).

        Returns:
            v', shape (B, D).
        """
        h = self.hidden_probabilities(v)
        if hidden_uniforms is not None:
            h = sample_bernoulli(h, hidden_uniforms)
        v_next = self.visible_probabilities(h)
        if visible_uniforms is not None:
            v_next = sample_bernoulli(v_next, visible_uniforms)
        return v_next

    def cd_statistics(self, v0, k=1, uniforms=None):
        """The CD-k statistics of a batch, summed over it (Hinton 2002).

        Args:
            v0: (B, D) data vectors (binary, or intensities in [0, 1]).
            k: Gibbs steps, an int >= 1.
            uniforms: (k, B, H) uniforms that sample the hidden states
                h0 ... h_{k-1} that drive the chain, or None for
                mean-field CD (probabilities throughout).

        Returns:
            ({"kernel": sum_n v0 p0^T - vk pk^T (D, H),
              "visible_bias": sum_n v0 - vk (D,),
              "hidden_bias": sum_n p0 - pk (H,)},
             the reconstruction p(v | h0), (B, D)).
            The keys name the variables: W <- W + eta * Delta / B is
            gradient ascent on the data's log-likelihood, approximately.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"`k` must be an int >= 1; received k={k!r}.")
        p0 = self.hidden_probabilities(v0)  # (B, H)
        v, p = v0, p0
        for t in range(k):
            h = p if uniforms is None else sample_bernoulli(p, uniforms[t])
            v = self.visible_probabilities(h)  # v_{t+1}, (B, D)
            if t == 0:
                reconstruction = v
            p = self.hidden_probabilities(v)  # p_{t+1}, (B, H)
        positive = ops.matmul(ops.transpose(v0), p0)  # (D, H)
        negative = ops.matmul(ops.transpose(v), p)
        statistics = {
            "kernel": positive - negative,
            "visible_bias": ops.sum(v0 - v, axis=0),
            "hidden_bias": ops.sum(p0 - p, axis=0),
        }
        return statistics, reconstruction

    def set_visible_bias_from_data(self, mean, eps=1e-3):
        """b_i = log(p_i / (1 - p_i)), p_i the data's mean of unit i
        clipped to [eps, 1 - eps] (the guide, section 8)."""
        p = ops.clip(ops.convert_to_tensor(mean, "float32"), eps, 1 - eps)
        self.visible_bias.assign(ops.log(p) - ops.log(1 - p))

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(
                self.kernel_initializer
            ),
        )
        return config
