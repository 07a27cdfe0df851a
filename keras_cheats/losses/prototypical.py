"""Prototypical networks loss, cheat sheet 8.1 (Snell, Swersky and Zemel
2017), for few-shot learning. New code: Keras has no episodic loss.

An episode holds N classes ("N-way"), K labelled support examples of each
("K-shot") and M query examples. With f the embedding network:

    c_k = 1/K sum_{i in support of class k} f(x_i)        (prototypes)
    p(y = k | q) = softmax_k(-||f(q) - c_k||_2^2)
    L = -log p(y = y_q | q)                               (per query)

Two forms:

- `prototypical_loss(support, query, query_labels)`: the formula on an
  episode given as arrays, support (..., N, K, D) and query (..., M, D);
  leading axes are a batch of episodes. One value per query.
- `PrototypicalLoss(n_way, n_shot)`: a Keras `Loss` for a model that
  embeds the whole episode as one batch of S + M rows, S = N K support
  rows first, then the M queries; `y_true` holds the episode labels
  (0 to N - 1) of every row. The prototypes are the per-label means of the
  support rows, so the support rows may come in any order. It returns one
  value per row, 0 for a support row and (S + M) / M times the query's
  loss for a query row, so that the default reduction (the mean over the
  S + M rows) is exactly the mean over the queries, as `model.fit` and
  `loops.supervised` compute it (the per-row scaling that `TripletLoss`
  uses for its mined batch loss). Rows must not be split over replicas:
  every replica needs the whole support set.
"""

import keras
from keras import ops

from keras_cheats import checks
from keras_cheats.losses._common import DtypeInConfig, to_float32

_register = keras.saving.register_keras_serializable(package="keras_cheats")


def prototypes(support):
    """c_k: the mean of each class's support embeddings.

    Args:
        support: (..., N, K, D) embeddings, axis -3 the class, -2 the shot.

    Returns:
        float32 tensor of shape (..., N, D).
    """
    return ops.mean(to_float32(support), axis=-2)


def prototypical_logits(support, query):
    """-||f(q) - c_k||_2^2 for every query and class: the logits of
    p(y = k | q).

    Args:
        support: (..., N, K, D) support embeddings.
        query: (..., M, D) query embeddings.

    Returns:
        float32 tensor of shape (..., M, N).
    """
    c = prototypes(support)  # (..., N, D)
    q = to_float32(query)
    diff = q[..., :, None, :] - c[..., None, :, :]  # (..., M, N, D)
    return -ops.sum(ops.square(diff), axis=-1)


def prototypical_loss(support, query, query_labels):
    """Prototypical networks loss of each query, cheat sheet 8.1.

        L = -log softmax_k(-||f(q) - c_k||^2)[y_q],  c_k = mean_i f(x_i^k)

    Args:
        support: (..., N, K, D) support embeddings (class-major).
        query: (..., M, D) query embeddings.
        query_labels: (..., M) integers in [0, N): the index of the query's
            class on the support's class axis.

    Returns:
        float32 tensor of shape (..., M).

    Example: prototypes (1, 0) and (0, 3), query (1, 1) at squared
    distances 1 and 5, of class 0: -log(e^-1 / (e^-1 + e^-5)) =
    log(1 + e^-4).

    >>> support = [[[0.0, 0.0], [2.0, 0.0]], [[0.0, 2.0], [0.0, 4.0]]]
    >>> round(float(prototypical_loss(support, [[1.0, 1.0]], [0])[0]), 5)
    0.01815
    """
    logits = prototypical_logits(support, query)
    log_p = ops.log_softmax(logits, axis=-1)  # exact for any distance
    n_way = ops.shape(logits)[-1]
    onehot = ops.one_hot(ops.cast(query_labels, "int32"), n_way)
    return -ops.sum(onehot * log_p, axis=-1)


@_register
class PrototypicalLoss(DtypeInConfig, keras.losses.Loss):
    """Prototypical networks loss, cheat sheet 8.1, on an episode embedded
    as one batch; see the module docstring for the row layout.

    L = -log softmax_k(-||f(q) - c_k||^2)[y_q], c_k the mean of the
    support rows labelled k.

    Args:
        n_way: N, the classes of an episode.
        n_shot: K, the support examples of each class; the first N K rows
            of a batch are the support set.
        reduction, name, dtype: as `keras.losses.Loss`.

    Call with y_true (S + M,) episode labels in [0, N) and y_pred
    (S + M, D) embeddings; per-row values have shape (S + M,).

    >>> y_pred = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, 4.0], [1.0, 1.0]]
    >>> round(float(PrototypicalLoss(2, 2)([0, 0, 1, 1, 0], y_pred)), 5)
    0.01815
    """

    def __init__(
        self,
        n_way,
        n_shot,
        reduction="sum_over_batch_size",
        name="prototypical_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.n_way = checks.integer("n_way", n_way, 2)
        self.n_shot = checks.integer("n_shot", n_shot, 1)

    def call(self, y_true, y_pred):
        s = self.n_way * self.n_shot
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        emb = to_float32(y_pred)
        # c_k = sum of the support rows labelled k / their count: (N, D).
        onehot = ops.one_hot(labels[:s], self.n_way)  # (S, N)
        counts = ops.sum(onehot, axis=0)[:, None]
        c = ops.matmul(ops.transpose(onehot), emb[:s]) / ops.maximum(
            counts, 1.0
        )
        per_query = prototypical_loss(c[:, None, :], emb[s:], labels[s:])
        rows = ops.cast(ops.shape(labels)[0], "float32")
        scale = rows / ops.cast(ops.shape(per_query)[0], "float32")
        return ops.concatenate([ops.zeros((s,)), per_query * scale], axis=0)

    def get_config(self):
        config = super().get_config()
        config.update(n_way=self.n_way, n_shot=self.n_shot)
        return config
