"""`experiments.train`: train_and_evaluate and the command line."""

import json
import math
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf
from absl import flags

from experiments import config_flags, train
from experiments.strategies import make_strategy
from tests.conftest import REPO
from tests.experiments.helpers import start_train


def _config(tmp_path, **kwargs):
    defaults = dict(epochs=3, verbose=0)
    return train.Config(**{**defaults, **kwargs})


@pytest.mark.slow
def test_cnn_on_digits_learns_writes_metrics_and_resumes(tmp_path):
    config = _config(tmp_path, epochs=5)
    result = train.train_and_evaluate(config, tmp_path / "run")
    assert result["test"]["accuracy"] >= 0.85
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"] == result["test"]
    history = saved["history"]
    assert len(history["loss"]) == 5 and history["loss"][4] < history["loss"][0]
    assert all(s > 0 for s in history["samples_per_second"])
    assert saved["dataset"]["num_test"] == 360
    assert list((tmp_path / "run" / "checkpoints").glob("ckpt-*.index"))
    # The same command again resumes: nothing left to train, same result.
    again = train.train_and_evaluate(config, tmp_path / "run")
    assert again["history"] == history
    assert again["test"]["accuracy"] == pytest.approx(
        result["test"]["accuracy"]
    )


@pytest.mark.slow
def test_fit_trainer_and_mirrored_strategy(tmp_path):
    fit = train.train_and_evaluate(
        _config(
            tmp_path, model="mlp", trainer="fit", epochs=5, learning_rate=3e-3
        ),
        tmp_path / "run",
    )
    assert fit["test"]["accuracy"] >= 0.85
    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2  # conftest's two CPU devices
    loop = train.train_and_evaluate(
        _config(
            tmp_path,
            model="mlp",
            epochs=5,
            learning_rate=3e-3,
        ),
        tmp_path / "mirrored",
        strategy=mirrored,
    )
    assert loop["test"]["accuracy"] >= 0.85


def test_each_model_has_its_own_default_learning_rate():
    # The best measured on MNIST 8,000/2,000 (BUILD.md, "Every --model").
    assert train.Config(model="capsnet").learning_rate == 3e-3
    assert train.Config(model="cnn").learning_rate == 1e-3
    given = train.Config(model="capsnet", learning_rate=0.01)
    assert given.learning_rate == 0.01
    values = flags.FlagValues()
    config_flags.define(train.Config, flag_values=values)
    values(["prog", "--model=capsnet"])
    parsed = config_flags.parse(train.Config, flag_values=values)
    assert parsed.learning_rate == 3e-3


def test_config_and_strategy_errors_name_the_value():
    with pytest.raises(ValueError, match="model='resnet'; expected one of"):
        train.Config(model="resnet")
    with pytest.raises(ValueError, match="learning_rate=0"):
        train.Config(learning_rate=0)
    with pytest.raises(ValueError, match="strategy='gpus'"):
        make_strategy("gpus")
    with pytest.raises(ValueError, match="cpu_replicas=0"):
        make_strategy("mirrored", cpu_replicas=0)
    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="sees no GPU"):
            make_strategy("gpu")


def _cli(*args, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "experiments.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_cli_default_run_is_the_demo(tmp_path):
    done = _cli(f"--model_dir={tmp_path / 'demo'}")
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ")
    assert float(last.split()[2]) >= 0.90
    assert "Epoch 10/10" in done.stdout  # the progress bar


@pytest.mark.slow
def test_cli_help_lists_models_and_bad_input_is_a_usage_error(tmp_path):
    procs = [  # all at once: none trains
        start_train("--help"),
        start_train("--dataset=idx:/nonexistent", f"--model_dir={tmp_path}"),
        start_train("--strategy=tpu", f"--model_dir={tmp_path / 'tpu'}"),
    ]
    (out, _), (_, bad), (_, tpu) = [p.communicate(timeout=300) for p in procs]
    assert procs[0].returncode == 0
    text = " ".join(out.split())  # absl wraps the help text
    for name, spec in train.registry.models().items():
        assert f"{name} (section {spec.section})" in text
    assert procs[1].returncode == 2 and "Traceback" not in bad
    assert "/nonexistent: not a directory" in bad
    assert procs[2].returncode == 2 and "Traceback" not in tpu
    assert "no TPU could be reached" in tpu


def test_parse_options_and_pipeline_map():
    parse = config_flags.parse_options
    assert parse(["latent_dim=2", "loss=bce", "beta=0.5"]) == {
        "latent_dim": 2,
        "loss": "bce",
        "beta": 0.5,
    }
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse(["latent_dim"])
    from experiments import data

    d = data.load("digits", batch_size=32)
    mapped = d.train.map(lambda x, y: (x, x))
    x, target = next(iter(mapped(0)))
    assert target.shape == x.shape == (32, 8, 8, 1)


@pytest.mark.slow
def test_mixed_float16_run_uses_loss_scaling_and_resets_the_policy(tmp_path):
    import keras

    result = train.train_and_evaluate(
        _config(
            tmp_path,
            model="mlp",
            epochs=3,
            learning_rate=3e-3,
            mixed_precision="mixed_float16",
        ),
        tmp_path / "run",
    )
    assert result["test"]["accuracy"] >= 0.8
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="mixed_precision='fp8'"):
        train.Config(mixed_precision="fp8")


def test_auto_or_explicit_speed_options_parse_from_flag_strings():
    config = train.Config(steps_per_execution="8", jit_compile="false")
    assert (config.steps_per_execution, config.jit_compile) == (8, False)
    assert train.Config().steps_per_execution == "auto"
    assert train.Config(jit_compile="True").jit_compile is True


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps_per_execution="fast"), "steps_per_execution='fast'"),
        (dict(steps_per_execution="0"), "steps_per_execution='0'"),
        (dict(jit_compile="maybe"), "jit_compile='maybe'; expected auto"),
    ],
)
def test_bad_speed_options_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train.Config(**kwargs)


def _finish(proc, timeout=300):
    """The finished process, with its output as `stdout` and `stderr`."""
    proc.stdout_text, proc.stderr_text = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, proc.stderr_text[-3000:]
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout_text, proc.stderr_text
    )


def _run_json(folder):
    return json.loads((folder / "metrics.json").read_text())


_TIMES = ("epoch_seconds", "samples_per_second")
NOISE = r"^([IWE]\d{4}|WARNING: All|To enable)"  # TensorFlow's start-up


def _same_history(a, b, atol=1e-5):
    assert set(a) == set(b)
    for key in set(a) - set(_TIMES):
        assert len(a[key]) == len(b[key]), key
        for x, y in zip(a[key], b[key]):
            assert x == pytest.approx(y, abs=atol), key


@pytest.mark.slow
def test_fit_and_loop_trainers_make_the_same_run_from_the_cli(tmp_path):
    """The command users run, twice: same numbers, same run folder, and
    each trainer resumes the other's folder."""
    common = ["--model=mlp", "--dataset=digits", "--seed=7", "--deterministic"]
    runs, first = {}, {}
    for trainer in ("loop", "fit"):  # both at once
        first[trainer] = start_train(
            *common,
            "--epochs=2",
            f"--trainer={trainer}",
            f"--model_dir={tmp_path / trainer}",
        )
    for trainer in ("loop", "fit"):
        done = _finish(first[trainer])
        # 1,437 training images in batches of 64: 23 steps, 23 shown.
        counts = {int(c) for c in re.findall(r"(\d+)/23\b", done.stdout)}
        assert max(counts) == 23, (trainer, counts)
        assert "retracing" not in done.stderr
        assert "Sharding callback" not in done.stderr
        runs[trainer] = _run_json(tmp_path / trainer)
        folder = tmp_path / trainer
        assert sorted(p.name for p in folder.iterdir()) == [
            "checkpoints", "confusion_matrix.png", "export", "history.json",
            "metrics.json", "model.keras", "reliability.png", "run.json",
            "tensorboard",
        ]  # fmt: skip
        assert (folder / "checkpoints" / "ckpt-46.index").exists()
        assert list((folder / "tensorboard" / "validation").iterdir())
    loop, fit = runs["loop"], runs["fit"]
    _same_history(loop["history"], fit["history"])
    assert all(s > 0 for s in fit["history"]["samples_per_second"])
    per_class = loop["test"].pop("per_class"), fit["test"].pop("per_class")
    for key in loop["test"]:
        assert loop["test"][key] == pytest.approx(fit["test"][key], abs=1e-5)
    for key in ("precision", "recall", "f1", "auc"):
        assert per_class[0][key] == pytest.approx(per_class[1][key], abs=1e-5)
    # Each trainer continues the other's run to epoch 3 (both at once).
    pairs = (("fit", "loop"), ("loop", "fit"))
    resumed = {
        folder: start_train(
            *common,
            "--epochs=3",
            f"--trainer={trainer}",
            f"--model_dir={tmp_path / folder}",
            "--verbose=0",
        )
        for trainer, folder in pairs
    }
    for folder, proc in resumed.items():
        done = _finish(proc)
        runs[folder] = _run_json(tmp_path / folder)["history"]
        assert "Epoch 1/" not in done.stdout
    _same_history(runs["loop"], runs["fit"])
    assert len(runs["loop"]["loss"]) == 3
    assert runs["loop"]["loss"][:2] == loop["history"]["loss"]


@pytest.mark.slow
def test_lr_schedule_flag_with_warmup_shows_in_the_history(tmp_path):
    done = _cli(
        "--model=mlp",
        "--dataset=digits",
        "--epochs=2",
        "--lr_schedule=cosine",
        "--warmup_steps=10",
        "--learning_rate=0.01",
        f"--model_dir={tmp_path}",
        "--verbose=0",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rates = _run_json(tmp_path)["history"]["learning_rate"]
    # 46 steps: warm-up to 0.01 by step 10, cosine to 0 by step 46.
    t = (23 - 10) / (46 - 10)
    assert rates[0] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * t)))
    assert rates[1] == pytest.approx(0.0, abs=1e-7)


USAGE_ERRORS = [
    (["--epochs=0"], "epochs=0; expected an integer >= 1"),
    (["--batch_size=-5"], "batch_size=-5; expected an integer >= 1"),
    (["--learning_rate=0"], "learning_rate=0.0; expected a number > 0"),
    (["--warmup_steps=100000"], "warmup_steps=100000; expected fewer"),
    (["--model=dcgan", "--clip_norm=1"], "clip_norm=1.0; model='dcgan'"),
    (["--epochs=abc"], "flag --epochs=abc"),
]


@pytest.mark.slow
def test_a_usage_error_is_one_line_naming_the_flag(tmp_path):
    procs = [  # all at once: each fails before training
        start_train(*args, f"--model_dir={tmp_path / str(i)}")
        for i, (args, _) in enumerate(USAGE_ERRORS)
    ]
    for proc, (args, message) in zip(procs, USAGE_ERRORS):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (args, err[-2000:])
        lines = [
            line
            for line in err.splitlines()
            if line.strip() and not re.match(NOISE, line)
        ]
        assert len(lines) == 1, lines
        assert lines[0].startswith("experiments.train: error: ")
        assert message in lines[0] and lines[0].endswith("; see --help")


@pytest.mark.parametrize("model", list(train.registry.models()))
def test_set_with_an_unknown_key_is_refused_for_every_model(model):
    known = train.registry.get(model).options
    with pytest.raises(ValueError, match=f"model='{model}' has no option"):
        train.Config(model=model, options={"bogus": 1})
    if known:  # each key the model names is accepted
        config = train.Config(model=model, options={k: 1 for k in known})
        assert set(config.options) == set(known)


def test_help_lists_every_config_field_with_its_docstring():
    import dataclasses

    values = flags.FlagValues()
    config_flags.define(train.Config, flag_values=values)
    docs = config_flags.field_docs(train.Config)
    for field in dataclasses.fields(train.Config):
        name = "set" if field.name == "options" else field.name
        assert docs[field.name] in values[name].help, name
