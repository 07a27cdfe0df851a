r"""Few-shot learning with prototypical networks (cheat sheet 8.1; Snell,
Swersky and Zemel 2017).

    python -m experiments.few_shot --dataset=idx:../shared/data/mnist
    python -m experiments.few_shot --train_shot=1 --epochs=5

Training: episodes from the TRAIN split's images of --train_classes
(default 0-4), N-way K-shot with Q queries per class, one episode per
batch (`experiments.episodes`), through `loops.fit` with the loss
`keras_cheats.losses.prototypical_loss`. Test: episodes from the TEST
split's images of --test_classes (default 5-9, never seen in training),
5-way 1-shot and 5-shot (--test_shots), each query classified by the
nearest prototype; accuracy is the mean over --test_episodes episodes with
its 95% confidence interval, 1.96 std / sqrt(n). The same episodes are
classified by three baselines: raw pixels, the untrained embedding network
(the same weights before training), and the penultimate layer of a
classifier with the same network trained normally (softmax, cross-entropy)
on the training classes. The run directory gets metrics.json, the embedder
as embedder.keras and test_episodes.png (1-shot test episodes: the support
row, then each query under the class it was assigned, green when right,
red when wrong).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments import episodes as ep  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.losses.prototypical import (  # noqa: E402
    prototypical_logits,
    prototypical_loss,
)
from loops.checkpointing import write_json_atomic  # noqa: E402
from loops.scaling import global_batch_size, regularization_loss  # noqa: E402

KIND = "few_shot"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the few-shot experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    train_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Classes of the training episodes (train split)."""
    test_classes: tuple[int, ...] = (5, 6, 7, 8, 9)
    """Classes of the test episodes (test split), disjoint from the
    training classes."""
    n_way: int = 5
    """N, classes per episode (training and test)."""
    train_shot: int = 5
    """K, support examples per class in training episodes."""
    n_query: int = 15
    """Q, queries per class in every episode."""
    test_shots: tuple[int, ...] = (1, 5)
    """K of the test episodes, one evaluation each."""
    episodes_per_epoch: int = 100
    """Training episodes (steps) per epoch."""
    epochs: int = 10
    """Epochs of training episodes."""
    test_episodes: int = 600
    """Test episodes per shot (the paper: 600)."""
    blocks: int = 3
    """Convolution blocks of the embedding network (the paper: 4, which
    pools 28x28 images down to 1x1; 3 keeps a 3x3 map and did better on
    MNIST's unseen digits)."""
    filters: int = 32
    """Filters per block (the paper: 64; on MNIST 32 did as well and
    trained ~5x faster on a CPU)."""
    learning_rate: float = 1e-3
    """Adam step size (the paper: 1e-3)."""
    classifier_epochs: int = 3
    """Epochs of the classifier baseline (batches of 64)."""
    seed: int = 0
    """Seeds initialization, training and test episodes."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name, low in (("train_classes", 0), ("test_classes", 0),
                          ("test_shots", 1)):  # fmt: skip
            object.__setattr__(
                self, name, checks.integers(name, getattr(self, name), low)
            )
        overlap = set(self.train_classes) & set(self.test_classes)
        if overlap:
            raise ValueError(
                f"train_classes={self.train_classes} and test_classes="
                f"{self.test_classes} share {sorted(overlap)}; expected "
                "disjoint classes"
            )
        checks.integer("n_way", self.n_way, 2)
        for name in ("train_classes", "test_classes"):
            if len(set(getattr(self, name))) < self.n_way:
                raise ValueError(
                    f"{name}={getattr(self, name)}; expected at least "
                    f"n_way={self.n_way} distinct classes"
                )
        positive = ("train_shot", "n_query", "episodes_per_epoch", "epochs")
        for name in (*positive, "blocks", "filters", "classifier_epochs"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("test_episodes", self.test_episodes, 2)
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate={self.learning_rate!r}; expected a number > 0"
            )


def build_embedder(image_shape, blocks=3, filters=32, name="embedder"):
    """f(x): `blocks` of [3x3 conv - batch norm - ReLU - 2x2 max-pool],
    flattened (Snell et al.'s network has 4 blocks of 64 filters). A map
    already 1x1 is not pooled. 28x28 images: 14 -> 7 -> 3 (D = 9 filters
    with 3 blocks) -> 1 (D = filters with 4, as in the paper); 8x8: 4 ->
    2 -> 1 -> 1.

    Returns:
        keras.Model mapping (B, *image_shape) to (B, D).
    """
    inputs = keras.Input(shape=tuple(image_shape), name="images")
    x, size = inputs, min(image_shape[:2])
    for b in range(blocks):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{b}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{b}")(x)
        x = keras.layers.ReLU(name=f"relu{b}")(x)
        if size >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"pool{b}")(x)
            size //= 2
    outputs = keras.layers.Flatten(name="embedding")(x)
    return keras.Model(inputs, outputs, name=name)


def episode_task(n_way, n_shot):
    """A `loops.Task` whose batch is one episode (images, episode labels)
    in the layout of `experiments.episodes`. It returns the mean query
    loss and accuracy, as shares of the queries (one replica: the whole
    episode; an episode is not split over replicas)."""

    def forward(model, batch, training):
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            raise ValueError(
                f"{ctx.num_replicas_in_sync} replicas; expected one: an "
                "episode split over replicas leaves each without the whole "
                "support set"
            )
        images, labels = batch
        emb = model(images, training=training)  # (N (K + Q), D)
        s = n_way * n_shot
        support = tf.reshape(emb[:s], [n_way, n_shot, -1])  # (N, K, D)
        per_query = prototypical_loss(support, emb[s:], labels[s:])
        hit = tf.argmax(prototypical_logits(support, emb[s:]), axis=-1)
        hit = tf.cast(hit == tf.cast(labels[s:], hit.dtype), tf.float32)
        m = global_batch_size(tf.shape(per_query)[0])
        loss = tf.reduce_sum(per_query) / m + regularization_loss(model)
        return {"loss": loss, "accuracy": tf.reduce_sum(hit) / m}

    def train_step(model, optimizer, batch):
        with tf.GradientTape() as tape:
            out = forward(model, batch, training=True)
        variables = model.trainable_variables
        grads = tape.gradient(out["loss"], variables)
        optimizer.apply_gradients(zip(grads, variables))
        return out

    return loops.Task(
        train_step=train_step,
        test_step=lambda model, batch: forward(model, batch, False),
    )


def _classifier_features(config, embedder_fn, train, run_dir):
    """Penultimate-layer features of a softmax classifier, the same
    network plus Dense(classes), trained on the training classes."""
    keep = np.isin(train.y, config.train_classes)
    relabel = {c: i for i, c in enumerate(sorted(config.train_classes))}
    y = np.array([relabel[int(c)] for c in train.y[keep]], np.int32)
    features = embedder_fn(name="classifier_features")
    head = keras.layers.Dense(len(relabel), activation="softmax")
    model = keras.Sequential([features, head], name="classifier")
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(keras.losses.SparseCategoricalCrossentropy()),
        data_lib.Pipeline(
            data_lib.Split(train.x[keep], y), 64, seed=config.seed
        ),
        options=loops.LoopOptions(
            epochs=config.classifier_epochs, seed=config.seed,
            verbose=config.verbose,
        ),
        model_dir=run_dir,
    )  # fmt: skip
    return features, history


def _test_episodes(config, labels, shot):
    seed = int(
        np.random.SeedSequence([config.seed, 1, shot]).generate_state(1)[0]
    )
    return ep.sample_episodes(
        labels, config.test_classes, config.n_way, shot, config.n_query,
        config.test_episodes, seed,
    )  # fmt: skip


def _save_episodes(path, config, test, features, count=3):
    """A picture of the first `count` test episodes of the smallest shot,
    classified by the prototypical network, a blank row between them."""
    episodes = _test_episodes(config, test.y, min(config.test_shots))
    predicted = ep.nearest_prototype(features["protonet"], episodes)
    cells = []
    for e in range(count):
        panel = ep.episode_cells(test.x, episodes, predicted, e)
        cells += panel + [np.ones_like(panel[0])] * config.n_way
    images.save_grid(path, cells[: -config.n_way], config.n_way)


def _check_classes(config, num_classes):
    for name in ("train_classes", "test_classes"):
        bad = [c for c in getattr(config, name) if c >= num_classes]
        if bad:
            raise ValueError(
                f"{name}={getattr(config, name)}; expected classes from 0 "
                f"to {num_classes - 1}"
            )


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the prototypical network and the classifier baseline, then
    scores all on the same test episodes.

    Returns (and writes to workdir/metrics.json) {"config", "dataset",
    "history", "classifier_history", "chance", "test": {"K-shot": {method:
    {"mean", "ci95"}}}, "model_dir"}, accuracies in [0, 1].
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    _check_classes(config, info.num_classes)

    def embedder_fn(name="embedder"):
        return build_embedder(
            info.image_shape, config.blocks, config.filters, name=name
        )

    loops.seed_everything(config.seed)
    embedder = embedder_fn()
    features = {
        "raw_pixels": test.x.reshape(len(test.x), -1),
        "untrained": embedder.predict(test.x, batch_size=512, verbose=0),
    }
    history = loops.fit(
        embedder,
        keras.optimizers.Adam(config.learning_rate),
        episode_task(config.n_way, config.train_shot),
        ep.EpisodePipeline(
            train.x, train.y, config.train_classes, config.n_way,
            config.train_shot, config.n_query, config.episodes_per_epoch,
            config.seed,
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir / "protonet",
    )  # fmt: skip
    embedder.save(str(workdir / "embedder.keras"))
    features["protonet"] = embedder.predict(test.x, batch_size=512, verbose=0)
    classifier, classifier_history = _classifier_features(
        config, embedder_fn, train, workdir / "classifier"
    )
    features["classifier_features"] = classifier.predict(
        test.x, batch_size=512, verbose=0
    )
    names = ("protonet", "classifier_features", "untrained", "raw_pixels")
    scores = {}
    for shot in config.test_shots:
        episodes = _test_episodes(config, test.y, shot)
        scores[f"{shot}-shot"] = {
            name: dict(zip(("mean", "ci95"), ep.mean_ci95(
                ep.nearest_prototype_accuracy(features[name], episodes)
            ), strict=True))
            for name in names
        }  # fmt: skip
    _save_episodes(workdir / "test_episodes.png", config, test, features)
    result = {
        "config": dataclasses.asdict(config),
        "dataset": dataclasses.asdict(info),
        "history": history,
        "classifier_history": classifier_history,
        "chance": 1.0 / config.n_way,
        "test": scores,
        "model_dir": str(workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """One line per test shot: each method's accuracy +- its 95% CI."""
    config = result["config"]
    lines = [
        f"{config['n_way']}-way test episodes of classes "
        f"{config['test_classes']} ({config['test_episodes']} per shot; "
        f"chance {result['chance']:.1%}); run directory {result['model_dir']}"
    ]
    for shot, methods in result["test"].items():
        parts = [
            f"{name} {m['mean']:.2%} +- {m['ci95']:.2%}"
            for name, m in methods.items()
        ]
        lines.append(f"{shot}: " + "; ".join(parts))
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
