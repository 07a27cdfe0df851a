"""VAE, VAELoss and VAETerm (Cheat sheet 7.4.2)."""

import math

import keras
import numpy as np
import pytest

import loops
from experiments import data
from keras_cheats.layers.sampling import Sampling
from keras_cheats.models.vae import (
    VAE,
    VAEConfig,
    VAELoss,
    VAETerm,
    build_vae,
    reconstruction_term,
    vae_metrics,
)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _outputs(rng, batch=5, shape=(4, 4, 1), d=3):
    logits = rng.normal(scale=3, size=(batch, *shape)).astype("float32")
    return {
        "reconstruction_logits": logits,
        "reconstruction": _sigmoid(logits),
        "mean": rng.normal(size=(batch, d)).astype("float32"),
        "log_var": rng.normal(scale=0.5, size=(batch, d)).astype("float32"),
    }


def _numpy_kl(mean, log_var):
    # Closed form of KL(N(mu, sigma^2) || N(0, 1)), summed over dimensions.
    var = np.exp(log_var)
    return 0.5 * np.sum(mean**2 + var - 1 - log_var, axis=-1)


def test_cheat_sheet_shapes_and_parameter_count():
    vae = build_vae((28, 28, 1))
    # Encoder 784-128 and two 20-unit heads; decoder 20-128-784.
    assert vae.encoder.count_params() == (784 * 128 + 128) + 2 * (128 * 20 + 20)
    assert vae.decoder.count_params() == (20 * 128 + 128) + (128 * 784 + 784)
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    out = vae(x)
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "reconstruction": (3, 28, 28, 1),
        "reconstruction_logits": (3, 28, 28, 1),
        "mean": (3, 20),
        "log_var": (3, 20),
        "z": (3, 20),
    }
    np.testing.assert_allclose(
        _np(out["reconstruction"]),
        _sigmoid(_np(out["reconstruction_logits"])),
        rtol=1e-5,
    )


def test_conv_variant_uses_conv2d_transpose():
    vae = build_vae((8, 8, 1), VAEConfig(kind="conv", latent_dim=2))
    kinds = {type(layer).__name__ for layer in vae.decoder.layers}
    assert "Conv2DTranspose" in kinds
    out = vae(np.zeros((2, 8, 8, 1), "float32"))
    assert tuple(out["reconstruction"].shape) == (2, 8, 8, 1)
    assert tuple(out["z"].shape) == (2, 2)


def test_kl_term_matches_the_closed_form_and_a_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    out = _outputs(rng)
    metric = VAETerm("kl")
    metric.update_state(np.zeros((5, 4, 4, 1), "float32"), out)
    expected = _numpy_kl(out["mean"], out["log_var"])
    assert float(metric.result()) == pytest.approx(expected.mean(), rel=1e-5)
    # KL = E_q[log q(z) - log p(z)], estimated with the Sampling layer.
    n = 200_000
    mean = np.array([0.7, -1.2], "float32")
    log_var = np.array([math.log(0.3), math.log(2.0)], "float32")
    z = _np(Sampling(seed=0)([np.tile(mean, (n, 1)), np.tile(log_var, (n, 1))]))
    log_q = -0.5 * np.sum(
        (z - mean) ** 2 / np.exp(log_var) + log_var + math.log(2 * math.pi),
        axis=1,
    )
    log_p = -0.5 * np.sum(z**2 + math.log(2 * math.pi), axis=1)
    estimate = np.mean(log_q - log_p)
    closed = _numpy_kl(mean[None], log_var[None])[0]
    assert estimate == pytest.approx(closed, abs=0.02)


@pytest.mark.parametrize("likelihood", ["mse", "bernoulli"])
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_loss_is_reconstruction_plus_beta_kl(likelihood, beta):
    rng = np.random.default_rng(2)
    out = _outputs(rng)
    x = rng.uniform(size=(5, 4, 4, 1)).astype("float32")
    p = _sigmoid(out["reconstruction_logits"].astype("float64"))
    if likelihood == "mse":
        recon = np.sum((x - p) ** 2, axis=(1, 2, 3))
    else:
        recon = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    kl = _numpy_kl(out["mean"], out["log_var"])
    got = _np(VAELoss(beta=beta, likelihood=likelihood)(x, out))
    np.testing.assert_allclose(got, recon + beta * kl, rtol=1e-4)
    np.testing.assert_allclose(
        _np(reconstruction_term(x, out["reconstruction_logits"], likelihood)),
        recon,
        rtol=1e-4,
    )


def test_bernoulli_term_is_finite_for_saturated_logits():
    x = np.array([[[[0.0]], [[1.0]]]], "float32")  # (1, 2, 1, 1)
    logits = np.array([[[[-200.0]], [[200.0]]]], "float32")
    assert _np(reconstruction_term(x, logits, "bernoulli"))[0] == pytest.approx(
        0.0, abs=1e-6
    )
    wrong = _np(reconstruction_term(1 - x, logits, "bernoulli"))[0]
    assert wrong == pytest.approx(400.0, rel=1e-5)


def test_metrics_report_the_terms_and_the_negative_elbo():
    rng = np.random.default_rng(3)
    out = _outputs(rng)
    x = rng.uniform(size=(5, 4, 4, 1)).astype("float32")
    metrics = {m.name: m for m in vae_metrics("bernoulli")}
    assert set(metrics) == {"reconstruction", "kl", "neg_elbo"}
    assert [m.name for m in vae_metrics("mse")] == ["reconstruction", "kl"]
    for m in metrics.values():
        m.update_state(x, out)
    total = float(metrics["reconstruction"].result()) + float(
        metrics["kl"].result()
    )
    assert float(metrics["neg_elbo"].result()) == pytest.approx(total, rel=1e-5)
    # beta does not enter the ELBO: the loss with beta = 4 is larger.
    loss = _np(VAELoss(beta=4.0, likelihood="bernoulli")(x, out)).mean()
    assert loss > float(metrics["neg_elbo"].result())


def test_generation_and_interpolation():
    vae = build_vae((8, 8, 1), VAEConfig(latent_dim=3, hidden_units=(16,)))
    samples = _np(vae.sample(6, seed=4))
    assert samples.shape == (6, 8, 8, 1)
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_allclose(samples, _np(vae.sample(6, seed=4)))
    rng = np.random.default_rng(5)
    a, b = rng.uniform(size=(2, 8, 8, 1)).astype("float32")
    path = _np(vae.interpolate(a, b, steps=5))
    assert path.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(
        path[0], _np(vae.reconstruct(a[None]))[0], atol=1e-6
    )
    np.testing.assert_allclose(
        path[-1], _np(vae.reconstruct(b[None]))[0], atol=1e-6
    )
    # The midpoint decodes the mean of the two codes.
    mean = _np(vae.encode(np.stack([a, b]))[0])
    mid = _np(vae.decode(mean.mean(axis=0, keepdims=True)))[0]
    np.testing.assert_allclose(path[2], mid, atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        vae.interpolate(a, b, steps=1)
    with pytest.raises(ValueError, match="`n`"):
        vae.sample(0)


def _digits():
    train, test, _ = data.load_splits("digits")
    pipe = data.Pipeline(train, 64, seed=0).map(lambda x, y: (x, x))
    return pipe, test


@pytest.mark.slow
def test_trains_through_the_loop():
    # model.fit: tests/experiments/test_generative.py (--trainer=fit).
    pipe, test = _digits()
    loss = VAELoss(beta=1.0, likelihood="bernoulli")
    keras.utils.set_random_seed(0)
    vae = build_vae(
        (8, 8, 1), VAEConfig(latent_dim=4, hidden_units=(64,), seed=0)
    )
    before = float(np.mean(_np(loss(test.x, vae(test.x)))))
    task = loops.supervised(loss, metrics=vae_metrics("bernoulli"))
    history = loops.fit(
        vae,
        keras.optimizers.Adam(3e-3),
        task,
        pipe,
        options=loops.LoopOptions(epochs=3, verbose=0),
    )
    assert history["loss"][-1] < history["loss"][0]
    assert history["reconstruction"][-1] < history["reconstruction"][0]
    assert history["neg_elbo"] == pytest.approx(history["loss"], rel=1e-5)
    after = float(np.mean(_np(loss(test.x, vae(test.x)))))
    assert after < 0.8 * before


def test_save_and_reload(tmp_path):
    vae = build_vae(
        (8, 8, 1), VAEConfig(kind="conv", latent_dim=2, filters=(4,), seed=3)
    )
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is VAE and isinstance(loaded.sampling, Sampling)
    assert loaded.seed == 3 and loaded.latent_dim == 2
    x = np.random.default_rng(6).uniform(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        _np(loaded.reconstruct(x)), _np(vae.reconstruct(x)), rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(loaded.sample(2, seed=1)), _np(vae.sample(2, seed=1)), rtol=1e-6
    )
    metric = keras.metrics.deserialize(
        keras.metrics.serialize(VAETerm("neg_elbo", "bernoulli"))
    )
    assert (metric.term, metric.likelihood) == ("neg_elbo", "bernoulli")


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="likelihood"):
        VAELoss(likelihood="gaussian")
    with pytest.raises(ValueError, match="beta"):
        VAELoss(beta=-1.0)
    with pytest.raises(ValueError, match="term"):
        VAETerm("elbo")
    with pytest.raises(ValueError, match="latent_dim"):
        VAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="seed"):
        VAEConfig(seed=1.5)
    with pytest.raises(ValueError, match="config"):
        build_vae((8, 8, 1), config="small")
