r"""CLIP-style image-text contrastive learning on digits (cheat sheet
7.7.4, multi-modal models), judged zero-shot.

    python -m experiments.clip --dataset=idx:../shared/data/mnist \
        --epochs=10

Each training image is paired, at every step, with a random caption of
its digit (`experiments.clip_captions`: "a photo of the digit sieben",
"HANDWRITTEN 7", ...). An image tower (the CNN trunk of section 7.3.1) and
a text tower (a bag of character n-grams) are trained through `loops.fit`
with the symmetric InfoNCE loss (`keras_cheats.losses.clip_loss`) over
the batch's N x N image-text logits, with a learnt, clipped temperature
(`keras_cheats.models.clip`). Ten classes make in-batch negatives of the
same digit common (a batch of 128 holds ~13 captions of each digit), so
the target is label-aware by default (`--targets=labels`: same-digit
pairs share the target); `--targets=pairs` is CLIP's identity target.

Then, on the test images, with no classifier trained:
- zero-shot classification: each class is the mean embedding of its
  prompts (renormalised), an image gets the class of highest cosine;
  for the training wording ("seen") and for held-out templates, a
  held-out language (Portuguese) and both (chance: 10%);
- retrieval: every test image gets one caption in a held-out template
  (any language); image -> text recall@1 and @5 and text -> image
  recall@1 count a hit when a top-ranked item shows the same digit.

The run directory gets metrics.json, text_encoder.keras (strings ->
embeddings, vocabulary included) and similarity.png (one test image per
digit against the ten class prompts of each prompt set; see
`experiments.clip_figure`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, clip_figure, config_flags, rundir  # noqa: E402
from experiments import clip_captions as text  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.losses.clip import clip_loss  # noqa: E402
from keras_cheats.models import clip as clip_model  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402
from loops.scaling import global_batch_size  # noqa: E402

KIND = "clip"
Targets = Literal["labels", "pairs"]
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the CLIP experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    epochs: int = 10
    """Passes over the training images (a new caption each time)."""
    batch_size: int = 128
    """Image-caption pairs per batch (N: the logits are N x N); the last
    partial batch is dropped."""
    learning_rate: float = 1e-3
    """Adam step size."""
    embed_dim: int = 64
    """Size of the joint embedding space."""
    ngrams: int = 3
    """The text tower's tokens: character n-grams for n = 1..ngrams."""
    targets: Targets = "labels"
    """labels: same-digit pairs share the target (no false negatives);
    pairs: CLIP's identity target."""
    init_temperature: float = 0.07
    """Temperature at initialisation (CLIP: 0.07); it is learnt, with the
    logit scale clipped to at most 100."""
    seed: int = 0
    """Seeds initialization, batch order, captions and the retrieval
    pool."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("epochs", "embed_dim", "ngrams"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("batch_size", self.batch_size, 2)  # >= 1 negative
        checks.integer("seed", self.seed, 0)
        checks.above("learning_rate", self.learning_rate)
        if not 0.01 <= self.init_temperature <= 1:
            raise ValueError(
                f"init_temperature={self.init_temperature!r}; expected a "
                "number in [0.01, 1] (the logit scale is clipped at 100)"
            )
        if self.targets not in typing.get_args(Targets):
            raise ValueError(
                f"targets={self.targets!r}; expected labels or pairs"
            )


def contrastive_share(model, u, v, labels, targets):
    """This replica's share (loops.scaling) of the global-batch loss.

    With several replicas the image and text vectors (and labels) of all
    of them are gathered, so the negatives are the whole global batch; the
    replica keeps the values of its own pairs."""
    n = tf.shape(u)[0]
    n_global = global_batch_size(n)
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        values = clip_loss(labels, model.logits(u, v), targets)
        return tf.reduce_sum(values) / n_global
    u_all, v_all, y_all = (
        ctx.all_gather(t, axis=0) for t in (u, v, labels)
    )  # fmt: skip
    sizes = ctx.all_gather(tf.reshape(n, [1]), axis=0)
    start = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    values = clip_loss(y_all, model.logits(u_all, v_all), targets)
    return tf.reduce_sum(values[start : start + n]) / n_global


def clip_task(config, token_table):
    """The training step as a `loops.Task` on (images, labels) batches:
    each image gets a random training caption of its digit (token ids
    from `token_table`, (classes, K, L)), both towers embed, symmetric
    InfoNCE, update. Also reports the temperature 1 / exp(t)."""
    table = tf.constant(token_table)
    per_class = token_table.shape[1]

    def train_step(model, optimizer, batch):
        images, labels = batch[0], tf.cast(batch[1], tf.int32)
        n = tf.shape(labels)[0]
        ctx = tf.distribute.get_replica_context()
        replica = 0 if ctx is None else ctx.replica_id_in_sync_group
        key = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.cast(config.seed, tf.int64),
                      tf.cast(optimizer.iterations, tf.int64)]),
            replica,
        )  # fmt: skip
        pick = tf.random.stateless_uniform(
            (n,), key, 0, per_class, dtype=tf.int32
        )
        tokens = tf.gather_nd(table, tf.stack([labels, pick], axis=1))
        with tf.GradientTape() as tape:
            u, v = model((images, tokens), training=True)
            loss = contrastive_share(
                model, u, v, labels, config.targets
            ) + loops.regularization_loss(model)
            scaled = optimizer.scale_loss(loss)
        variables = model.trainable_variables
        optimizer.apply_gradients(
            zip(tape.gradient(scaled, variables), variables)
        )
        share = tf.cast(n, tf.float32) / global_batch_size(n)
        tau = 1.0 / model.contrastive_logits.scale
        return {"loss": loss, "temperature": tau * share}

    return loops.Task(train_step=train_step)


def embed(encoder, inputs, batch=512):
    """encoder(inputs) in inference mode, `batch` at a time, as NumPy."""
    return np.concatenate([
        np.asarray(encoder(inputs[i : i + batch], training=False))
        for i in range(0, len(inputs), batch)
    ])  # fmt: skip


def class_embeddings(text_encoder, prompts):
    """(C, d): the renormalised mean embedding of each class's prompts
    ((C, K) strings)."""
    c, k = prompts.shape
    v = embed(text_encoder, tf.constant(prompts.reshape(-1)))
    mean = v.reshape(c, k, -1).mean(axis=1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def zero_shot(u, labels, classes):
    """Accuracy (overall and per class) of argmax_c cos(u_i, classes_c)."""
    predicted = (u @ classes.T).argmax(axis=1)
    right = predicted == labels
    return {
        "accuracy": float(right.mean()),
        "per_class": {
            int(c): float(right[labels == c].mean()) for c in np.unique(labels)
        },
    }


def recall_at_k(queries, pool, query_labels, pool_labels, k):
    """Fraction of queries with an item of their class among the k pool
    items of highest cosine (vectors are unit length)."""
    top = np.argsort(-(queries @ pool.T), axis=1, kind="stable")[:, :k]
    return float((pool_labels[top] == query_labels[:, None]).any(1).mean())


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains the two towers and evaluates them zero-shot on the test
    split. Returns (and writes to workdir/metrics.json) {"model_dir",
    "config", "zero_shot": {prompt set: accuracy and per class},
    "retrieval": recalls, "temperature", "caption_split", "history"}."""
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    n_classes = info.num_classes
    table = text.training_table(n_classes)  # (C, K) strings
    vectorizer = clip_model.caption_vectorizer(table.reshape(-1), config.ngrams)
    tokens = np.asarray(vectorizer(table.reshape(-1)))
    loops.seed_everything(config.seed)
    model = clip_model.build_clip(
        info.image_shape,
        vectorizer.vocabulary_size(),
        config.embed_dim,
        config.init_temperature,
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        clip_task(config, tokens.reshape(*table.shape, -1)),
        data_lib.Pipeline(
            train, config.batch_size, seed=config.seed, drop_remainder=True
        ),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=workdir,
    )
    text_encoder = clip_model.build_text_encoder(vectorizer, model.text_tower)
    text_encoder.save(workdir / "text_encoder.keras")
    u = embed(model.image_encoder, test.x)
    classes = {
        name: class_embeddings(text_encoder, text.prompts(name, n_classes))
        for name in text.PROMPT_SETS
    }
    pool, languages = text.retrieval_pool(test.y, config.seed)
    v = embed(text_encoder, tf.constant(pool))
    languages = np.array(languages)
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "zero_shot": {
            name: zero_shot(u, test.y, c) for name, c in classes.items()
        },
        "retrieval": {
            "pool_size": len(pool),
            "image_to_text_recall@1": recall_at_k(u, v, test.y, test.y, 1),
            "image_to_text_recall@5": recall_at_k(u, v, test.y, test.y, 5),
            "text_to_image_recall@1": recall_at_k(v, u, test.y, test.y, 1),
            "text_to_image_recall@1_by_language": {
                lang: recall_at_k(v[mask], u, test.y[mask], test.y, 1)
                for lang in np.unique(languages)
                for mask in [languages == lang]
            },
        },
        "temperature": float(1.0 / model.contrastive_logits.scale),
        "caption_split": {
            "train_languages": list(text.SEEN_LANGUAGES),
            "train_templates": list(text.TRAIN_TEMPLATES),
            "held_out_languages": list(text.HELD_OUT_LANGUAGES),
            "held_out_templates": list(text.HELD_OUT_TEMPLATES),
            "vocabulary_size": int(vectorizer.vocabulary_size()),
        },
        "history": history,
    }
    clip_figure.save_similarity(
        workdir / "similarity.png", test.x, test.y, u, classes,
        float(model.contrastive_logits.scale),
    )  # fmt: skip
    write_json_atomic(workdir / "metrics.json", result)
    return result


def summary(result) -> str:
    """Zero-shot accuracy per prompt set, then the retrieval recalls."""
    lines = [
        f"zero-shot accuracy, {name.replace('_', ' ')} prompts: "
        f"{r['accuracy']:.4f}"
        for name, r in result["zero_shot"].items()
    ]
    r = result["retrieval"]
    lines.append(
        f"retrieval over {r['pool_size']} held-out-template captions: "
        f"image->text recall@1 {r['image_to_text_recall@1']:.4f}, "
        f"recall@5 {r['image_to_text_recall@5']:.4f}; text->image "
        f"recall@1 {r['text_to_image_recall@1']:.4f}"
    )
    by_language = ", ".join(
        f"{lang} {value:.4f}"
        for lang, value in r["text_to_image_recall@1_by_language"].items()
    )
    lines.append(f"text->image recall@1 by caption language: {by_language}")
    lines.append(f"learnt temperature: {result['temperature']:.4f}")
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
