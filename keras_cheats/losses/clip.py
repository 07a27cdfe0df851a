"""The symmetric InfoNCE loss of CLIP (Radford et al. 2021), cheat sheet
7.7.4 (multi-modal models), with an optional label-aware target.

A batch holds N (image, text) pairs; the model gives the N x N logits
s_ij = exp(t) cos(image_i, text_j) (`keras_cheats.layers.
ContrastiveLogits`). Each image picks its text among the N texts (a
softmax over row i) and each text picks its image among the N images (a
softmax over column j); the loss is the mean of the two cross-entropies.

Relation to NT-Xent (`keras_cheats.losses.nt_xent`, SimCLR): both are
InfoNCE with in-batch negatives. NT-Xent has one modality, so each of the
2N views is scored against the 2N - 1 others, its own modality included;
here the two modalities are scored only against each other (an N x N, not
a 2N x 2N, matrix) and the logits come scaled from the model (a learnt
temperature) instead of a fixed tau, so the two do not share code.

False negatives: with few classes (ten digits) many texts in a batch
describe the image's class too; with `targets="labels"` the target of row
i is spread uniformly over the pairs of i's class (as in supervised
contrastive learning, Khosla et al. 2020) instead of putting it all on the
diagonal, so same-class pairs are not pushed apart.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")
TARGETS = ("labels", "pairs")


def _check_targets(targets):
    return checks.choice("targets", targets, TARGETS)


def clip_loss(y_true, y_pred, targets="labels"):
    """Symmetric InfoNCE over an N x N image-text logit matrix, per pair.

    Cheat sheet 7.7.4. With logits s_ij (image i, text j) and a target
    matrix q whose rows and columns sum to 1,

        l_i = 1/2 [ - sum_j q_ij log softmax_j(s_i.)     (image -> text)
                    - sum_k q_ki log softmax_k(s_.i) ]   (text -> image)

    CLIP's target is q = I (`targets="pairs"`): pair i is the only match.
    `targets="labels"` uses q_ij = [c_i = c_j] / #{k : c_k = c_i}: every
    pair of the same class is a match (the mask is symmetric, so row and
    column sums agree). With distinct labels both targets are the same.

    Args:
        y_true: (N,) integer class labels for `targets="labels"`; ignored
            for `targets="pairs"` (pass anything of shape (N,)).
        y_pred: (N, N) logits, row i = image i against the N texts.
        targets: "labels" (label-aware) or "pairs" (CLIP's identity).

    Returns:
        float32 tensor of shape (N,): the loss of each pair.

    Example (logits 1 on the diagonal, 0 off it: with two classes each
    direction costs log(1 + 1/e); with one class the target is 1/2, 1/2
    and each direction costs log(e + 1) - 1/2):

    >>> s = [[1.0, 0.0], [0.0, 1.0]]
    >>> [round(float(v), 4) for v in clip_loss([0, 1], s)]
    [0.3133, 0.3133]
    >>> [round(float(v), 4) for v in clip_loss([5, 5], s)]
    [0.8133, 0.8133]
    """
    targets = _check_targets(targets)
    logits = to_float32(y_pred)
    if len(logits.shape) != 2 or (
        None not in logits.shape and logits.shape[0] != logits.shape[1]
    ):
        raise ValueError(
            "`y_pred` must be an (N, N) matrix of image-text logits; "
            f"received shape {tuple(logits.shape)}."
        )
    n = ops.shape(logits)[0]
    if targets == "pairs":
        q = ops.eye(n, dtype="float32")
    else:
        labels = ops.reshape(ops.convert_to_tensor(y_true), (-1,))
        same = ops.cast(labels[:, None] == labels[None, :], "float32")
        q = same / ops.sum(same, axis=1, keepdims=True)  # (N, N), symmetric
    image_to_text = -ops.sum(q * ops.log_softmax(logits, axis=1), axis=1)
    text_to_image = -ops.sum(q * ops.log_softmax(logits, axis=0), axis=0)
    return 0.5 * (image_to_text + text_to_image)


@_register
class CLIPLoss(DtypeInConfig, keras.losses.Loss):
    """Symmetric InfoNCE of CLIP, cheat sheet 7.7.4; see `clip_loss`.

    l_i = 1/2 [CE(q_i., softmax(s_i.)) + CE(q_.i, softmax(s_.i))] over the
    (N, N) image-text logits s, averaged over the batch.

    Args:
        targets: "labels" (same-class pairs share the target) or "pairs"
            (CLIP's identity target).
        reduction, name, dtype: as `keras.losses.Loss`.

    >>> loss = CLIPLoss(targets="pairs")
    >>> round(float(loss([0, 0], [[1.0, 0.0], [0.0, 1.0]])), 4)
    0.3133
    """

    def __init__(
        self,
        targets="labels",
        reduction="sum_over_batch_size",
        name="clip_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.targets = _check_targets(targets)

    def call(self, y_true, y_pred):
        return clip_loss(y_true, y_pred, self.targets)

    def get_config(self):
        config = super().get_config()
        config["targets"] = self.targets
        return config
