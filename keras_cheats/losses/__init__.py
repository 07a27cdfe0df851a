"""The losses of cheat-sheet section 4, usable three ways: in
`model.compile(loss=...)`, in a `tf.GradientTape` loop (call the class
instance), and as plain functions returning one value per sample.

Where Keras has the loss, the class is Keras' own (a thin registered
subclass carrying the cheat-sheet name and formula); new code only for
what Keras lacks: Gaussian KL, triplet, contrastive, capsule margin, and the
logits path of the focal losses.

Section  class                     function
4.1      CrossEntropy              cross_entropy
4.2      BinaryCrossEntropy        binary_cross_entropy
4.3      CategoricalCrossEntropy   categorical_cross_entropy
4.4      SoftmaxCrossEntropy       softmax_cross_entropy
4.5      MeanSquaredError          mean_squared_error
4.6      MeanAbsoluteError         mean_absolute_error
4.7      Huber                     huber
4.8      KLDivergence              kl_divergence
4.8.1    GaussianKL                gaussian_kl
4.9      TripletLoss               triplet_loss, triplet
4.10     ContrastiveLoss           contrastive_loss, pair_distance
4.11     FocalLoss                 focal_loss
4.11     CategoricalFocalLoss      categorical_focal_loss
4.12     HingeLoss                 hinge_loss
7.7.4    CLIPLoss                  clip_loss
7.8      (no class: the arguments are actions, returns, logits, values)
                                   td_target, q_of_actions, dqn_loss,
                                   discounted_returns, advantages, entropy,
                                   a2c_loss
7.10     NTXent                    nt_xent
8.1      PrototypicalLoss          prototypical_loss, prototypical_logits
10.3     DistillationLoss          distillation_loss
CapsNet  MarginLoss                margin_loss
"""

from keras_cheats.losses.capsule import MarginLoss, margin_loss
from keras_cheats.losses.classification import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    CrossEntropy,
    SoftmaxCrossEntropy,
    binary_cross_entropy,
    categorical_cross_entropy,
    cross_entropy,
    softmax_cross_entropy,
)
from keras_cheats.losses.clip import CLIPLoss, clip_loss
from keras_cheats.losses.contrastive import (
    ContrastiveLoss,
    contrastive_loss,
    pair_distance,
)
from keras_cheats.losses.distillation import DistillationLoss, distillation_loss
from keras_cheats.losses.divergence import (
    GaussianKL,
    KLDivergence,
    gaussian_kl,
    kl_divergence,
)
from keras_cheats.losses.focal import (
    CategoricalFocalLoss,
    FocalLoss,
    categorical_focal_loss,
    focal_loss,
)
from keras_cheats.losses.hinge import HingeLoss, hinge_loss
from keras_cheats.losses.nt_xent import NTXent, nt_xent
from keras_cheats.losses.prototypical import (
    PrototypicalLoss,
    prototypes,
    prototypical_logits,
    prototypical_loss,
)
from keras_cheats.losses.registry import get
from keras_cheats.losses.regression import (
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    huber,
    mean_absolute_error,
    mean_squared_error,
)
from keras_cheats.losses.reinforcement import (
    a2c_loss,
    advantages,
    discounted_returns,
    dqn_loss,
    entropy,
    q_of_actions,
    td_target,
)
from keras_cheats.losses.triplet_mining import (
    TripletLoss,
    pairwise_distances,
    triplet,
    triplet_loss,
)

__all__ = [
    "CLIPLoss",
    "DistillationLoss",
    "distillation_loss",
    "a2c_loss",
    "advantages",
    "clip_loss",
    "discounted_returns",
    "dqn_loss",
    "entropy",
    "q_of_actions",
    "td_target",
    "NTXent",
    "PrototypicalLoss",
    "nt_xent",
    "prototypes",
    "prototypical_logits",
    "prototypical_loss",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "CategoricalFocalLoss",
    "ContrastiveLoss",
    "CrossEntropy",
    "FocalLoss",
    "GaussianKL",
    "HingeLoss",
    "Huber",
    "KLDivergence",
    "MarginLoss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SoftmaxCrossEntropy",
    "TripletLoss",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "categorical_focal_loss",
    "contrastive_loss",
    "cross_entropy",
    "focal_loss",
    "gaussian_kl",
    "get",
    "hinge_loss",
    "huber",
    "kl_divergence",
    "margin_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "pair_distance",
    "pairwise_distances",
    "softmax_cross_entropy",
    "triplet",
    "triplet_loss",
]
