r"""Metric learning on MNIST-style digits: an embedding network trained with
the triplet loss (cheat sheet 4.9) or the contrastive loss (4.10), scored by
retrieval on the test split.

    python -m experiments.metric_learning --loss=triplet --mining=semi_hard
    python -m experiments.metric_learning --loss=contrastive \
        --dataset=idx:../shared/data/mnist --epochs=5

The embedding f(x) is a small CNN (section 7.3.1) with D = embedding_dim
linear outputs, L2-normalized: ||f(x)||_2 = 1, so distances lie in [0, 2].

- Triplet: batches are the data layer's shuffled (images, labels) batches;
  `TripletLoss` mines (anchor, positive, negative) triplets inside each
  batch from the integer labels. A triplet needs two examples of the
  anchor's class in the batch: 128 random examples over 10 classes hold
  12.8 per class on average; a given class has fewer than 2 with
  probability about 2e-5 per batch, and such an anchor just adds nothing.
  Measured on MNIST (10 epochs): "batch_hard" with these defaults
  collapses (every f(x) at one point, the loss stuck at the margin,
  recall@1 below the untrained network's); it learns with Hermans et
  al.'s setting, non-squared distances and few examples per class:
  --distance=euclidean --batch_size=32.
- Contrastive: a Siamese model maps (x_a, x_b) to d = ||f(x_a) - f(x_b)||_2
  with one shared f. Each batch of B examples becomes B pairs: example i
  is paired with a random other example of the batch, of its class for
  even i (y = 1, similar) and of another class for odd i (y = 0), so the
  pairs are balanced; the draw is a pure function of (seed, epoch, batch
  index), so a resumed run sees the same pairs.

Scores (see `experiments.retrieval`): recall@1 and recall@5 of the test
embeddings, each test example a query against the other test examples; the
same for the untrained network (the same weights before training) and for
raw pixels as baselines. The run directory gets metrics.json, the trained
embedder as embedder.keras, checkpoints and TensorBoard logs; rerunning
with the same --model_dir resumes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.retrieval import recall_at_k  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.losses import (  # noqa: E402
    ContrastiveLoss,
    TripletLoss,
    pair_distance,
)
from keras_cheats.losses.triplet_mining import DISTANCES, MININGS  # noqa: E402
from keras_cheats.models.cnn import CNNConfig, build_cnn  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

Loss = Literal["triplet", "contrastive"]
# The triplet options of keras_cheats.losses.triplet_mining (MININGS,
# DISTANCES), spelled out for the enum flags.
Mining = Literal["batch_all", "batch_hard", "semi_hard"]
Distance = Literal["squared_euclidean", "euclidean", "cosine"]
LOSSES = typing.get_args(Loss)
KIND = "metric_learning"
# Margins for unit-norm embeddings: the triplet loss compares squared
# distances in [0, 4]; the contrastive loss pushes dissimilar pairs to a
# distance of at least m in [0, 2].
DEFAULT_MARGINS = {"triplet": 0.5, "contrastive": 1.0}
RECALL_KS = (1, 5)


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of one metric-learning run."""

    loss: Loss = "triplet"
    """Triplet (4.9) or contrastive (4.10)."""
    mining: Mining | None = "semi_hard"
    """Triplet mining (triplet only; the contrastive loss stores None)."""
    distance: Distance | None = "squared_euclidean"
    """Triplet distance (triplet only; the contrastive loss stores None and
    uses the Euclidean pair distance); batch_hard needs euclidean."""
    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    epochs: int = 5
    """Passes over the data."""
    batch_size: int = 128
    """Batch size (triplets need several examples per class in a batch)."""
    learning_rate: float = 1e-3
    """Adam step."""
    embedding_dim: int = 32
    """D, the size of f(x)."""
    margin: float | None = None
    """Margin alpha (triplet) or m (contrastive); default 0.5 (triplet) or
    1.0 (contrastive)."""
    seed: int = 0
    """Seeds init, order and pairs."""
    verbose: int = 1
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(
                f"loss={self.loss!r}; expected one of {', '.join(LOSSES)}"
            )
        # Triplet-only options: the contrastive loss takes any valid
        # value or None, and stores None.
        for name, allowed in (("mining", MININGS), ("distance", DISTANCES)):
            value = getattr(self, name)
            if value not in allowed and not (
                self.loss == "contrastive" and value is None
            ):
                raise ValueError(
                    f"{name}={value!r}; expected one of {', '.join(allowed)}"
                )
            if self.loss == "contrastive":
                object.__setattr__(self, name, None)
        for name, minimum in (("epochs", 1), ("batch_size", 2)):
            checks.integer(name, getattr(self, name), minimum)
        checks.integer("embedding_dim", self.embedding_dim, 1)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )
        if self.margin is None:
            object.__setattr__(self, "margin", DEFAULT_MARGINS[self.loss])
        elif not self.margin >= 0:
            raise ValueError(f"margin={self.margin!r}; expected a number >= 0")


def build_embedder(image_shape, embedding_dim, name="embedder"):
    """f(x): the section 7.3.1 CNN with D linear outputs, then f / ||f||_2.

    Returns:
        keras.Model mapping (B, *image_shape) to unit vectors (B, D).
    """
    trunk = build_cnn(
        image_shape, embedding_dim, CNNConfig(output_activation=None)
    )
    inputs = keras.Input(shape=tuple(image_shape), name="images")
    outputs = keras.layers.UnitNormalization(name="l2_normalize")(trunk(inputs))
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="keras_cheats")
class PairDistance(keras.layers.Layer):
    """d_i = ||a_i - b_i||_2 for paired embeddings (cheat sheet 4.10).

    Call on [a, b], each (N, D); returns (N,). See
    `keras_cheats.losses.pair_distance`.
    """

    def call(self, inputs):
        a, b = inputs
        return pair_distance(a, b)

    def compute_output_shape(self, input_shape):
        return input_shape[0][:1]


def build_siamese(embedder, name="siamese"):
    """The Siamese network: (x_a, x_b) -> ||f(x_a) - f(x_b)||_2, one f.

    Returns:
        keras.Model mapping [(B, H, W, C), (B, H, W, C)] to (B,) distances,
        the `y_pred` of `ContrastiveLoss`.
    """
    shape = embedder.input_shape[1:]
    x_a = keras.Input(shape=shape, name="x_a")
    x_b = keras.Input(shape=shape, name="x_b")
    distance = PairDistance(name="distance")([embedder(x_a), embedder(x_b)])
    return keras.Model([x_a, x_b], distance, name=name)


def make_pairs(images, labels, seed):
    """Balanced pairs from one batch: ((x_a, x_b), y), y = 1 if similar.

    Example i is the anchor of pair i; its partner is drawn uniformly from
    the batch's other examples of its class when i is even, of another
    class when i is odd. A batch without the wanted kind gives the other
    kind (and a one-example batch pairs the example with itself, y = 1).

    Args:
        images: (B, H, W, C).
        labels: (B,) integer labels.
        seed: shape (2,) integer tensor for `tf.random.stateless_uniform`.

    Returns:
        ((images, partners) both (B, H, W, C), similar (B,) float32).
    """
    n = tf.shape(labels)[0]
    same = labels[:, None] == labels[None, :]  # (B, B)
    positives = tf.logical_and(same, tf.logical_not(tf.eye(n, dtype=tf.bool)))
    negatives = tf.logical_not(same)
    has_positive = tf.reduce_any(positives, axis=1)
    has_negative = tf.reduce_any(negatives, axis=1)
    want_positive = tf.math.floormod(tf.range(n), 2) == 0
    use_positive = tf.where(
        want_positive, has_positive, tf.logical_not(has_negative)
    )
    candidates = tf.where(use_positive[:, None], positives, negatives)
    scores = tf.random.stateless_uniform(tf.stack([n, n]), seed)  # in [0, 1)
    partner = tf.argmax(tf.where(candidates, scores, -1.0), axis=1)
    similar = tf.cast(tf.gather(labels, partner) == labels, tf.float32)
    return (images, tf.gather(images, partner)), similar


@dataclasses.dataclass(frozen=True, eq=False)
class PairPipeline:
    """A `Pipeline`'s batches turned into pairs by `make_pairs`, epoch by
    epoch; the pairs depend only on (seed, epoch, batch index).

    A callable `(epoch, skip_batches) -> tf.data.Dataset`, as `loops.fit`
    takes for exact resume.
    """

    pipeline: data_lib.Pipeline
    seed: int = 0

    def __call__(self, epoch, skip_batches=0):
        pair_seed = data_lib.epoch_seed(self.seed, epoch)

        def to_pairs(index, batch):
            images, labels = batch
            seed = tf.stack([tf.constant(pair_seed, tf.int64), index])
            return make_pairs(images, labels, seed)

        batches = self.pipeline(epoch, skip_batches)
        return batches.enumerate(start=skip_batches).map(to_pairs)


def embed(embedder, images, batch_size=512):
    """f(x) for a whole split, in inference mode: (N, D) float32 array."""
    return embedder.predict(images, batch_size=batch_size, verbose=0)


def retrieval(embeddings, labels):
    """{"recall@1": ..., "recall@5": ...} of one set of test embeddings."""
    return recall_at_k(embeddings, labels, RECALL_KS)


def make_loss(config):
    """The Keras loss of `config.loss`: y_true labels (triplet) or pair
    similarities (contrastive)."""
    if config.loss == "triplet":
        return TripletLoss(
            margin=config.margin,
            mining=config.mining,
            distance=config.distance,
        )
    return ContrastiveLoss(margin=config.margin)


def _model_and_batches(config, embedder):
    """The model that the loss trains, and how a Pipeline becomes its data:
    the embedder on (images, labels) for the triplet loss, the Siamese
    network on pairs for the contrastive loss."""
    if config.loss == "triplet":
        return embedder, lambda pipeline: pipeline
    return (
        build_siamese(embedder),
        lambda pipeline: PairPipeline(pipeline, config.seed),
    )


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the embedding and scores it by test-split retrieval.

    Args:
        config: the run's hyperparameters.
        workdir: the run folder ("" for a new one under runs/); the same
            folder again resumes the run (`experiments.rundir`).
        restart: move a workdir that holds another run aside first.

    Writes metrics.json (config, data set, per-epoch history, test loss and
    recall@k, the baselines) atomically to the run folder, and the trained
    embedder as embedder.keras.

    Returns:
        {"config", "dataset", "history", "test": {"loss", "recall@1",
        "recall@5"}, "baselines": {"untrained": {...}, "raw_pixels":
        {...}}, "model_dir"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    loops.seed_everything(config.seed)
    data = data_lib.load(
        config.dataset, batch_size=config.batch_size, seed=config.seed
    )
    x_test, y_test = data.test.split.x, data.test.split.y
    embedder = build_embedder(data.info.image_shape, config.embedding_dim)
    # The same weights before training: what the architecture alone gives.
    baselines = {
        "untrained": retrieval(embed(embedder, x_test), y_test),
        "raw_pixels": retrieval(x_test, y_test),
    }
    model, batches = _model_and_batches(config, embedder)
    task = loops.supervised(make_loss(config))
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        task,
        batches(data.train),
        validation_data=batches(data.test),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir,
    )
    # The loss on the test split: its value after the last epoch.
    test = {"loss": history["val_loss"][-1]}
    test.update(retrieval(embed(embedder, x_test), y_test))
    embedder.save(str(workdir / "embedder.keras"))
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(data.info),
        "history": history,
        "test": test,
        "baselines": baselines,
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """The line the command prints: test and baseline recall@k."""
    test, base = result["test"], result["baselines"]
    return (
        f"test recall@1: {test['recall@1']:.4f} (recall@5 "
        f"{test['recall@5']:.4f}; untrained recall@1 "
        f"{base['untrained']['recall@1']:.4f}; raw pixels recall@1 "
        f"{base['raw_pixels']['recall@1']:.4f}; "
        f"{result['dataset']['num_test']} test images; run directory "
        f"{result['model_dir']})"
    )


FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
