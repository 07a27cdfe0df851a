import keras
import pytest

import keras_cheats.losses as L
import keras_cheats.losses.registry as module
from tests.keras_cheats.losses import helpers

# The cheat sheet's headings (section 4) as written, class names and
# short names.
NAMES = {
    "Cross-Entropy Loss (CE)": L.CrossEntropy,
    "Categorical Cross-Entropy Loss (CCE)": L.CategoricalCrossEntropy,
    "Softmax Loss (for multi-class classification)": L.SoftmaxCrossEntropy,
    "Mean Squared Error (MSE)": L.MeanSquaredError,
    "Mean Absolute Error (MAE)": L.MeanAbsoluteError,
    "Kullback-Leibler (KL) Divergence": L.KLDivergence,
    "Hinge Loss (for support vector machines)": L.HingeLoss,
    "Cross-Entropy Loss": L.CrossEntropy,
    "4.1": L.CrossEntropy,
    "Binary Cross-Entropy Loss": L.BinaryCrossEntropy,
    "bce": L.BinaryCrossEntropy,
    "Categorical Cross-Entropy Loss": L.CategoricalCrossEntropy,
    "Softmax Loss": L.SoftmaxCrossEntropy,
    "softmax_cross_entropy": L.SoftmaxCrossEntropy,
    "Mean Squared Error": L.MeanSquaredError,
    "mse": L.MeanSquaredError,
    "Mean Absolute Error": L.MeanAbsoluteError,
    "Huber Loss": L.Huber,
    "KL Divergence": L.KLDivergence,
    "KLDivergence": L.KLDivergence,
    "Multivariate gaussian KL": L.GaussianKL,
    "4.8.1": L.GaussianKL,
    "Triplet Loss": L.TripletLoss,
    "Contrastive Loss": L.ContrastiveLoss,
    "4.10": L.ContrastiveLoss,
    "Focal Loss": L.FocalLoss,
    "categorical_focal": L.CategoricalFocalLoss,
    "Hinge Loss": L.HingeLoss,
    "4.12": L.HingeLoss,
    "MarginLoss": L.MarginLoss,
}


def test_docstring_examples():
    helpers.run_doctests(module)


def test_names():
    for name, cls in NAMES.items():
        loss = L.get(name)
        assert type(loss) is cls, name
    assert L.get("sparse_softmax_cross_entropy").sparse is True
    assert L.get("huber", delta=0.2).delta == 0.2


def test_passthrough():
    loss = L.FocalLoss(gamma=1.0)
    assert L.get(loss) is loss
    assert L.get(None) is None
    assert L.get(L.mean_squared_error) is L.mean_squared_error
    assert type(L.get(L.TripletLoss)) is L.TripletLoss
    revived = L.get(keras.losses.serialize(loss))
    assert revived.get_config() == loss.get_config()


def test_unknown():
    for bad in ["nope", 3]:
        with pytest.raises(ValueError, match="identifier"):
            L.get(bad)
