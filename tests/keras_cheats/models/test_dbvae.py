"""DB-VAE: model, loss and indicator accuracy (Amini et al. 2019)."""

import keras
import numpy as np
import pytest

import loops
from experiments import data
from keras_cheats.models.dbvae import (
    DBVAE,
    DBVAEConfig,
    DBVAELoss,
    IndicatorAccuracy,
    build_classifier,
    build_dbvae,
    dbvae_targets,
    indicator,
)

SMALL = DBVAEConfig(latent_dim=3, filters=(8, 16), hidden_units=(32,), seed=0)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_outputs_and_shapes():
    model = build_dbvae((8, 8, 1), SMALL)
    x = np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype("float32")
    out = model(x)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "logit": (5,),
        "probability": (5,),
        "reconstruction": (5, 8, 8, 1),
        "reconstruction_logits": (5, 8, 8, 1),
        "mean": (5, 3),
        "log_var": (5, 3),
        "z": (5, 3),
    }
    np.testing.assert_allclose(
        _np(model.classify(x)), _sigmoid(_np(out["logit"])), rtol=1e-5
    )
    assert tuple(_np(model.encode(x)[0]).shape) == (5, 3)
    assert tuple(_np(model.sample(2, seed=0)).shape) == (2, 8, 8, 1)
    plain = build_classifier((8, 8, 1), SMALL)
    assert tuple(plain.output.shape) == (None, 1)
    # Same layers as the DB-VAE's encoder, without the latent heads.
    names = {layer.name for layer in plain.layers}
    assert {"conv_1", "conv_2", "dense_1", "logit"} <= names
    assert not {"mean", "log_var"} & names


def test_vae_loss_applies_to_the_indicator_class_only():
    rng = np.random.default_rng(1)
    b, d = 6, 2
    x = rng.uniform(size=(b, 4, 4, 1)).astype("float32")
    labels = np.array([3, 1, 3, 0, 3, 7])
    out = {
        "logit": rng.normal(size=(b,)).astype("float32"),
        "reconstruction_logits": rng.normal(size=(b, 4, 4, 1)).astype(
            "float32"
        ),
        "mean": rng.normal(size=(b, d)).astype("float32"),
        "log_var": rng.normal(scale=0.3, size=(b, d)).astype("float32"),
    }
    loss = DBVAELoss(target_class=3, beta=2.0, likelihood="mse", vae_weight=0.5)
    got = _np(loss({"image": x, "label": labels}, out))
    # NumPy: BCE on every image + I_f(y) * 0.5 * (||x - x'||^2 + 2 KL).
    y = (labels == 3).astype("float64")
    p = _sigmoid(out["logit"].astype("float64"))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    recon = np.sum(
        (x - _sigmoid(out["reconstruction_logits"])) ** 2, axis=(1, 2, 3)
    )
    var = np.exp(out["log_var"])
    kl = 0.5 * np.sum(out["mean"] ** 2 + var - 1 - out["log_var"], axis=1)
    np.testing.assert_allclose(
        got, bce + y * 0.5 * (recon + 2.0 * kl), rtol=1e-4
    )
    # Changing the decoder output of the non-target images changes nothing.
    changed = dict(out, reconstruction_logits=out["reconstruction_logits"] + 5)
    again = _np(loss({"image": x, "label": labels}, changed))
    np.testing.assert_allclose(again[y == 0], got[y == 0], rtol=1e-6)
    assert np.all(np.abs(again[y == 1] - got[y == 1]) > 1e-3)


def test_indicator_and_accuracy_hand_computed():
    np.testing.assert_array_equal(
        _np(indicator(np.array([2, 5, 2]), 2)), [1.0, 0.0, 1.0]
    )
    metric = IndicatorAccuracy(target_class=2)
    # Truth: 1, 0, 1, 0; decisions logit > 0: 1, 1, 0, 0 -> 2 of 4.
    metric.update_state(
        {"label": np.array([2, 5, 2, 4])},
        {"logit": np.array([3.0, 0.5, -1.0, -2.0], "float32")},
    )
    assert float(metric.result()) == pytest.approx(0.5)
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert restored.target_class == 2


@pytest.mark.slow
def test_trains_through_the_loop():
    # model.fit: tests/experiments/test_generative.py (--trainer=fit).
    train, test, _ = data.load_splits("digits")
    pipe = data.Pipeline(train, 64, seed=0).map(dbvae_targets)
    loss = DBVAELoss(target_class=0, vae_weight=0.01)
    keras.utils.set_random_seed(0)
    model = build_dbvae((8, 8, 1), SMALL)
    history = loops.fit(
        model,
        keras.optimizers.Adam(3e-3),
        loops.supervised(loss, metrics=[IndicatorAccuracy(0)]),
        pipe,
        options=loops.LoopOptions(epochs=3, verbose=0),
    )
    assert history["loss"][-1] < history["loss"][0]
    # Zeros are 10% of the digits: beat always saying "not a zero".
    probability = _np(model.classify(test.x))
    accuracy = np.mean((probability > 0.5) == (test.y == 0))
    assert accuracy > 0.95


def test_save_and_reload(tmp_path):
    model = build_dbvae((8, 8, 1), SMALL)
    path = tmp_path / "dbvae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is DBVAE
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        _np(loaded.classify(x)), _np(model.classify(x)), rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(loaded.reconstruct(x)), _np(model.reconstruct(x)), rtol=1e-6
    )


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="target_class"):
        DBVAELoss(target_class="seven")
    with pytest.raises(ValueError, match="vae_weight"):
        DBVAELoss(vae_weight=-1)
    with pytest.raises(ValueError, match="likelihood"):
        DBVAELoss(likelihood="l1")
    with pytest.raises(ValueError, match="kind"):
        DBVAEConfig(kind="rnn")
    with pytest.raises(ValueError, match="config"):
        build_dbvae((8, 8, 1), config=SMALL.__dict__)
