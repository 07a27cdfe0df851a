"""The run folder of experiments.train: what it records, what a rerun may
change, and the trained model handed back."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from experiments import train
from experiments.rundir import usable_run_dir
from tests.conftest import REPO


def _train(folder, restart=False, **kwargs):
    defaults = dict(model="mlp", epochs=1, verbose=0)
    config = train.Config(**{**defaults, **kwargs})
    return train.train_and_evaluate(config, folder, restart=restart)


def test_a_rerun_of_another_run_is_refused_and_restart_moves_it(tmp_path):
    folder = tmp_path / "run"
    first = _train(folder)
    record = json.loads((folder / "run.json").read_text())
    assert record["model"] == "mlp" and record["learning_rate"] == 1e-3
    assert record["split"] == {"train": 1437, "test": 360}
    with pytest.raises(ValueError) as e:
        _train(folder, learning_rate=0.01, optimizer="sgd")
    message = str(e.value)
    assert "learning_rate 0.001 -> 0.01" in message
    assert "optimizer 'adam' -> 'sgd'" in message
    assert "--restart" in message and "--model_dir" in message
    # More epochs continue the same run.
    more = _train(folder, epochs=2)
    assert more["history"]["loss"][0] == first["history"]["loss"][0]
    assert len(more["history"]["loss"]) == 2
    # --restart moves the old run aside, whole, and starts anew.
    again = _train(folder, learning_rate=0.01, restart=True)
    (old,) = tmp_path.glob("run.old-*")
    assert (old / "checkpoints").is_dir() and (old / "model.keras").exists()
    assert len(again["history"]["loss"]) == 1
    assert (
        json.loads((folder / "run.json").read_text())["learning_rate"] == 0.01
    )


def test_model_dir_is_checked_and_expanded_before_anything_is_built(
    tmp_path, monkeypatch
):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="model_dir='.*file' is a file"):
        usable_run_dir(str(a_file), "mlp", "digits")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RUNS", "runs_here")
    path = usable_run_dir("~/$RUNS/x", "mlp", "digits")
    assert path == tmp_path / "runs_here" / "x" and path.is_dir()


def test_files_of_a_run_folder_share_their_permissions(tmp_path):
    _train(tmp_path / "run")
    modes = {
        p.name: oct(p.stat().st_mode & 0o777)
        for p in (tmp_path / "run").iterdir()
        if p.is_file()
    }
    assert set(modes) >= {"metrics.json", "history.json", "run.json"}
    assert len(set(modes.values())) == 1, modes


def test_model_keras_loads_in_a_fresh_python_for_every_model(tmp_path):
    """Each --model, built as experiments.train builds it, saved as runs
    save it, then loaded in a fresh Python: the same outputs."""
    import keras

    from experiments import registry
    from experiments.data import DatasetInfo
    from experiments.saving import save_model

    rng = np.random.default_rng(0)
    expected = {}
    for name, spec in registry.models().items():
        side = 28 if name == "capsnet" else 8  # capsules need 17 or more
        info = DatasetInfo(name, (side, side, 1), 10, 100, 10)
        config = train.Config(model=name)
        keras.utils.set_random_seed(0)
        model = spec.build(info, config)
        x = rng.random((3, side, side, 1), dtype=np.float32)
        prepare = train.prepare_fn(spec, info, config)
        if name == "dcgan":  # a generator: noise z in, images out
            x = rng.normal(size=(3, model.latent_dim)).astype(np.float32)
        elif name == "ddpm":  # a noise predictor: [x_t, t] in, eps out
            x = [x, np.array([0, 5, 9], np.int32)]
        elif prepare is not None:  # the model's inputs, as in training
            x = prepare(keras.ops.convert_to_tensor(x), np.arange(3))[0]
        out = model(x, training=False)
        classifier = spec.headline == "accuracy"
        save_model(model, tmp_path / name, classifier)
        assert (tmp_path / name / "export").is_dir() == classifier, name
        with open(tmp_path / name / "x.pkl", "wb") as f:
            pickle.dump(keras.tree.map_structure(np.asarray, x), f)
        expected[name] = keras.tree.map_structure(np.asarray, out)
    script = (
        "import pickle, sys, numpy as np, keras, keras_cheats\n"
        "for folder in sys.argv[1:]:\n"
        "    model = keras.models.load_model(folder + '/model.keras')\n"
        "    x = pickle.load(open(folder + '/x.pkl', 'rb'))\n"
        "    keras.utils.set_random_seed(0)\n"
        "    out = keras.tree.map_structure(np.asarray, model(x))\n"
        "    np.savez(folder + '/out.npz', *keras.tree.flatten(out))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    folders = [str(tmp_path / name) for name in expected]
    done = subprocess.run(
        [sys.executable, "-c", script, *folders],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for name, out in expected.items():
        loaded = np.load(tmp_path / name / "out.npz")
        flat = keras.tree.flatten(out)
        assert len(loaded.files) == len(flat), name
        if name in STOCHASTIC:  # a sampled z: the shapes must agree
            for a, b in zip(flat, (loaded[f] for f in loaded.files)):
                assert a.shape == b.shape, name
            continue
        for a, b in zip(flat, (loaded[f] for f in loaded.files)):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


# Models whose outputs draw random numbers (a sampled z, noise).
STOCHASTIC = {"vae", "conv_vae", "dbvae", "dcgan"}


def test_evaluate_and_predict_read_the_run_folder(tmp_path):
    import keras
    from PIL import Image

    from experiments import data, evaluate, predict, saving

    folder = tmp_path / "run"
    result = _train(folder, epochs=3)
    metrics = evaluate.evaluate(folder)
    for key, value in metrics.items():
        assert value == pytest.approx(result["test"][key], rel=1e-6), key
    test = data.load_splits("digits")[1]
    pixels = (test.x[:2, :, :, 0] * 255).astype(np.uint8)
    paths = []
    for i, image in enumerate(pixels):  # 8x8 scans, as PNG files
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(image).save(paths[-1])
    answers = predict.predict(folder, paths, top=3)
    assert [name for name, _ in answers] == ["digit0.png", "digit1.png"]
    # The oracle: the trained model on the same 8-bit pixels, softmaxed.
    logits = saving.load_model(folder)(pixels[..., None] / 255.0)
    expected = np.asarray(keras.ops.softmax(logits))
    for (_, best), p in zip(answers, expected):
        assert [c for c, _ in best] == list(np.argsort(-p)[:3])
        np.testing.assert_allclose(
            [q for _, q in best], np.sort(p)[::-1][:3], rtol=1e-5
        )
    with pytest.raises(ValueError, match="has no run.json"):
        evaluate.evaluate(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        predict.predict(folder, [tmp_path / "nope.png"])


def test_without_model_dir_every_run_gets_a_new_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = usable_run_dir("", "anomaly", "idx:../x/y")
    second = usable_run_dir("", "anomaly", "idx:../x/y")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.parent.resolve() == (tmp_path / "runs").resolve()
    assert first.name.startswith("anomaly-idx-.._x_y-")
