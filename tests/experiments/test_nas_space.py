"""experiments.nas_space: every choice of the space builds a classifier,
and its defaults build experiments.train's default models."""

import numpy as np
import pytest

keras_tuner = pytest.importorskip(
    "keras_tuner", reason="the nas extra is not installed"
)

import loops  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments import nas_space  # noqa: E402


def _domain(hp):
    """Every value one hyperparameter of the space takes (the ends of a
    continuous range)."""
    config, kind = hp.get_config(), type(hp).__name__
    if kind == "Boolean":
        return [False, True]
    if kind == "Choice":
        return list(config["values"])
    if kind == "Int":
        low, high = config["min_value"], config["max_value"]
        return list(range(low, high + 1, config["step"]))
    return [config["min_value"], config["max_value"]]


@pytest.mark.parametrize(
    ("space", "depth_name", "layer_prefix", "width_prefix"),
    [
        ("mlp", "layers", "dense_", "units_"),
        ("cnn", "blocks", "conv_", "filters_"),
    ],
)
def test_every_choice_builds_a_classifier_of_the_right_shape(
    space, depth_name, layer_prefix, width_prefix
):
    hypermodel = nas_space.SearchSpace(space, (8, 8, 1), 10)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)  # registers the space at its defaults
    hp.values[depth_name] = nas_space.MAX_LAYERS
    hypermodel.build(hp)  # and the widths of every layer
    names = {h.name for h in hp.space}
    assert names == {
        *(n for n in nas_space.SPACES[space] if not n.endswith("_i")),
        *(
            n.replace("_i", f"_{i}")
            for n in nas_space.SPACES[space]
            if n.endswith("_i")
            for i in range(1, nas_space.MAX_LAYERS + 1)
        ),
        *nas_space.COMMON,
    }
    # Configuration k takes the k-th value (cyclically) of every
    # hyperparameter, at the full depth; then each depth: every value of
    # every hyperparameter is built at least once.
    domains = {h.name: _domain(h) for h in hp.space}
    longest = max(len(d) for n, d in domains.items() if n != depth_name)
    configs = [
        {n: d[k % len(d)] for n, d in domains.items()} for k in range(longest)
    ]
    for config in configs:
        config[depth_name] = nas_space.MAX_LAYERS
    configs += [
        {**configs[0], depth_name: depth} for depth in domains[depth_name]
    ]
    x = np.random.default_rng(0).random((2, 8, 8, 1), np.float32)
    for values in configs:
        trial = keras_tuner.HyperParameters.from_config(hp.get_config())
        trial.values.update(values)
        model = hypermodel.build(trial)
        assert isinstance(model, loops.StepModel)
        assert model(x).shape == (2, 10), values
        layers = [
            layer
            for layer in model.net.layers
            if layer.name.startswith(layer_prefix)
        ]
        assert len(layers) == values[depth_name], values
        widths = [
            v for n, v in sorted(values.items()) if n.startswith(width_prefix)
        ][: values[depth_name]]
        assert [_width(layer) for layer in layers] == widths, values
        optimizer = model.optimizer
        assert type(optimizer).__name__.lower() == values["optimizer"]
        rate = float(optimizer.learning_rate.numpy())
        assert rate == pytest.approx(values["learning_rate"], rel=1e-6)
    for name, domain in domains.items():
        assert {c[name] for c in configs} == set(domain), name


def _width(layer):
    return layer.units if hasattr(layer, "units") else layer.filters


def test_chosen_drops_bookkeeping_and_unused_widths():
    values = {
        "layers": 2, "units_1": 64, "units_2": 32, "units_3": 512,
        "optimizer": "adam", "tuner/epochs": 3, "tuner/trial_id": "0001",
    }  # fmt: skip
    assert nas_space.chosen(values) == {
        "layers": 2, "units_1": 64, "units_2": 32, "optimizer": "adam"
    }  # fmt: skip
    assert nas_space.chosen({"blocks": 1, "filters_1": 8, "filters_2": 4}) == {
        "blocks": 1, "filters_1": 8
    }  # fmt: skip


@pytest.mark.parametrize("space", ["mlp", "cnn"])
def test_the_defaults_build_experiments_train_default_model(space):
    from experiments import registry

    _, _, info = data_lib.load_splits("digits")
    hypermodel = nas_space.SearchSpace(space, info.image_shape, 10)
    model = hypermodel.build(nas_space.default_hyperparameters(space))
    default = registry.get(space).build(info, None)

    def layout(net):
        return [
            (type(layer).__name__, layer.count_params()) for layer in net.layers
        ]

    assert layout(model.net) == layout(default)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    assert type(model.optimizer).__name__ == "Adam"


def test_chosen_writes_stepped_floats_as_typed():
    values = {"dropout": 0.1 * 3, "learning_rate": 0.000123456789}
    assert nas_space.chosen(values) == {
        "dropout": 0.3,
        "learning_rate": 0.000123456789,
    }
