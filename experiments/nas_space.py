"""The search space of `experiments.nas` (cheat sheet 7.7.1).

    hypermodel = nas_space.SearchSpace("mlp", (28, 28, 1), 10)
    tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy")

A KerasTuner `HyperModel` whose `build(hp)` draws the options of the
project's builders (`keras_cheats.models.mlp.MLPConfig`,
`keras_cheats.models.cnn.CNNConfig`), builds that classifier (logits) and
wraps it in a `loops.StepModel`: the search trains through the same step
(`loops.step.train_step`) as `experiments.train`. The optimizer and its
learning rate are part of the space. `SPACES` lists every dimension.

Needs the `nas` extra (keras-tuner); `experiments.nas` imports this
module only when it runs a search.
"""

import keras
import keras_tuner

import loops
from experiments import classification
from keras_cheats.models import cnn, mlp

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}
MAX_LAYERS = 3  # hidden layers (MLP) or convolution blocks (CNN)

# {space: {name: the values it takes}}; "units_i" / "filters_i" count
# only for i <= the number of layers drawn. Ranges are (low, high).
SPACES = {
    "mlp": {
        "layers": (1, MAX_LAYERS),
        "units_i": (32, 64, 128, 256, 512),
        "activation": ("relu", "tanh", "elu"),
        "dropout": (0.0, 0.5),
        "batch_norm": (False, True),
        "l2": (0.0, 1e-5, 1e-4, 1e-3),
    },
    "cnn": {
        "blocks": (1, MAX_LAYERS),
        "filters_i": (16, 32, 64, 128),
        "kernel_size": (3, 5),
        "batch_norm": (False, True),
        "pooling": ("max", "average"),
        "head": ("flatten", "global_average"),
        "dense_units": (0, 64, 128, 256),
        "dropout": (0.0, 0.5),
    },
}
COMMON = {
    "optimizer": tuple(OPTIMIZERS),
    "learning_rate": (1e-4, 1e-2),  # log-uniform
}
# `experiments.train`'s --model=mlp and --model=cnn at their defaults
# (experiments/zoo/classifiers.py: Adam at 1e-3), as points of the space.
DEFAULTS = {
    "mlp": {
        "layers": 1, "units_1": 128, "activation": "relu", "dropout": 0.0,
        "batch_norm": False, "l2": 0.0,
    },
    "cnn": {
        "blocks": 2, "filters_1": 32, "filters_2": 64, "kernel_size": 3,
        "batch_norm": False, "pooling": "max", "head": "flatten",
        "dense_units": 128, "dropout": 0.25,
    },
}  # fmt: skip


class SearchSpace(keras_tuner.HyperModel):
    """The MLP or CNN classifiers of the project, as a KerasTuner space.

    Args:
      space: "mlp" or "cnn".
      image_shape: one image's shape, e.g. (28, 28, 1).
      num_classes: output units (logits).
      batch_size: the batch size of every fit.
      seed: seeds the initial weights of every model built.
    """

    def __init__(self, space, image_shape, num_classes, batch_size=64, seed=0):
        if space not in SPACES:
            raise ValueError(
                f"space={space!r}; expected one of {', '.join(SPACES)}"
            )
        super().__init__(name=f"{space}_space")
        self.space, self.image_shape = space, tuple(image_shape)
        self.num_classes, self.batch_size, self.seed = (
            num_classes,
            batch_size,
            seed,
        )

    def build(self, hp):
        """A compiled `loops.StepModel` of the classifier `hp` describes."""
        keras.utils.set_random_seed(self.seed)
        net = (self._mlp if self.space == "mlp" else self._cnn)(hp)
        name = hp.Choice("optimizer", COMMON["optimizer"])
        low, high = COMMON["learning_rate"]
        rate = hp.Float("learning_rate", low, high, sampling="log")
        model = loops.StepModel(net)
        model.compile(
            optimizer=OPTIMIZERS[name](learning_rate=rate),
            loss=classification.loss(),
            metrics=classification.metrics(),
        )
        # Built after compile (which adds the metrics' state): the tuner
        # saves each trial's weights and Hyperband loads them.
        model.build((None, *self.image_shape))
        return model

    def _mlp(self, hp):
        space = SPACES["mlp"]
        layers = hp.Int("layers", *space["layers"])
        config = mlp.MLPConfig(
            hidden_units=tuple(
                hp.Choice(f"units_{i}", space["units_i"])
                for i in range(1, layers + 1)
            ),
            activation=hp.Choice("activation", space["activation"]),
            dropout=hp.Float("dropout", *space["dropout"], step=0.1),
            batch_norm=hp.Boolean("batch_norm"),
            l2=hp.Choice("l2", space["l2"]),
            output_activation=None,
        )
        return mlp.build_mlp(self.image_shape, self.num_classes, config)

    def _cnn(self, hp):
        space = SPACES["cnn"]
        blocks = hp.Int("blocks", *space["blocks"])
        dense = hp.Choice("dense_units", space["dense_units"])
        config = cnn.CNNConfig(
            filters=tuple(
                hp.Choice(f"filters_{i}", space["filters_i"])
                for i in range(1, blocks + 1)
            ),
            kernel_size=hp.Choice("kernel_size", space["kernel_size"]),
            batch_norm=hp.Boolean("batch_norm"),
            pooling=hp.Choice("pooling", space["pooling"]),
            head=hp.Choice("head", space["head"]),
            dense_units=(dense,) if dense else (),
            dropout=hp.Float("dropout", *space["dropout"], step=0.1),
            output_activation=None,
        )
        return cnn.build_cnn(self.image_shape, self.num_classes, config)

    def fit(self, hp, model, x, y, **kwargs):
        """`model.fit` at this space's batch size; the tuner passes the
        epochs, the validation data and its callbacks in `kwargs`."""
        return model.fit(
            x, y, batch_size=self.batch_size, shuffle=True, **kwargs
        )


def default_hyperparameters(space):
    """HyperParameters holding `DEFAULTS[space]` with Adam at 1e-3: what
    `SearchSpace(space, ...).build` makes of them is `experiments.train`'s
    default model of that name."""
    hp = keras_tuner.HyperParameters()
    hp.values.update(DEFAULTS[space], optimizer="adam", learning_rate=1e-3)
    return hp


def chosen(values: dict) -> dict:
    """A trial's hyperparameter values without KerasTuner's bookkeeping
    (the "tuner/..." keys of Hyperband) and without the per-layer widths
    beyond the number of layers drawn (left over from other trials).
    Floats are rounded to 12 significant digits: a stepped range gives
    0.1 * 3 = 0.30000000000000004, written as 0.3."""
    depth = values.get("layers", values.get("blocks", MAX_LAYERS))
    kept = {}
    for key, value in values.items():
        if key.startswith("tuner/"):
            continue
        prefix, _, index = key.rpartition("_")
        if prefix in ("units", "filters") and int(index) > depth:
            continue
        if isinstance(value, float):
            value = float(f"{value:.12g}")
        kept[key] = value
    return kept
