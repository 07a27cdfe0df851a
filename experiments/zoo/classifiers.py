"""Classifiers of section 7: the MLP (7.1) and the CNN (7.3.1)."""

from experiments import classification, classifier_report
from experiments.registry import ModelSpec, register
from keras_cheats.models import cnn, mlp


def classification_loss(info, config):
    return classification.loss()


def accuracy(info, config):
    return classification.metrics()


def _mlp(info, config):
    return mlp.build_mlp(
        info.image_shape,
        info.num_classes,
        mlp.MLPConfig(hidden_units=(128,), output_activation=None),
    )


def _cnn(info, config):
    return cnn.build_cnn(
        info.image_shape,
        info.num_classes,
        cnn.CNNConfig(output_activation=None),
    )


register(
    "mlp",
    ModelSpec(
        section="7.1",
        description="MLP 784-128-10 (ReLU), as in section 2.3",
        build=_mlp,
        loss=classification_loss,
        metrics=accuracy,
        after_training=classifier_report.after_training,
    ),
)
register(
    "cnn",
    ModelSpec(
        section="7.3.1",
        description="CNN: 3x3 conv 32/64, max pooling, dense 128",
        build=_cnn,
        loss=classification_loss,
        metrics=accuracy,
        after_training=classifier_report.after_training,
    ),
)
