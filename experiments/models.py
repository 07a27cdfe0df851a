"""The `--model` names of `experiments.train`, each with its cheat-sheet
section and how to build it for a data set."""

import keras

from keras_cheats.models import cnn, mlp


def _classifier_task_parts():
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return loss, metrics


def build_mlp(info):
    config = mlp.MLPConfig(hidden_units=(128,), output_activation=None)
    return mlp.build_mlp(info.image_shape, info.num_classes, config)


def build_cnn(info):
    config = cnn.CNNConfig(output_activation=None)
    return cnn.build_cnn(info.image_shape, info.num_classes, config)


# name: (cheat-sheet section, description, builder(info) -> model)
MODELS = {
    "mlp": ("7.1", "MLP 784-128-10 (ReLU), as in section 2.3", build_mlp),
    "cnn": ("7.3.1", "CNN: 3x3 conv 32/64, max pooling, dense 128", build_cnn),
}


def describe():
    return "; ".join(
        f"{name} (section {sec}): {desc}"
        for name, (sec, desc, _) in MODELS.items()
    )


def build(name, info):
    """Returns (model, loss, metrics) for `--model=name` on `info`."""
    if name not in MODELS:
        raise ValueError(f"model={name!r}; expected one of {', '.join(MODELS)}")
    model = MODELS[name][2](info)
    loss, metrics = _classifier_task_parts()
    return model, loss, metrics
