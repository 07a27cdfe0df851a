r"""Does the DB-VAE's adaptive resampling fix a hidden bias? (Amini et al.
2019 on MNIST-style data; cheat sheet 7.4.2.)

    python -m experiments.debias --dataset=idx:../shared/data/mnist \
        --target_class=7 --subgroup=rotate --rare_fraction=0.02 --seeds=0,1,2

Task: is the digit `target_class` (the indicator class, I_f = 1) or not?
Bias: in the training split a rare fraction of the target-class digits is
transformed (rotated 90 degrees, or colour-inverted), a visual subgroup
the classifier sees only a few times. No other digit is transformed.

Test split, balanced across subgroups: every test image appears twice,
as is and transformed. The report gives accuracy per group:

    accuracy_common   target-class digits, as is          (recall)
    accuracy_rare     the same digits, transformed        (recall)
    accuracy_other    other digits, as is                 (specificity)
    accuracy_other_transformed  other digits, transformed, a kind never
                      seen in training: a probe for a "transformed means
                      target class" shortcut

Two models train with the same budget (epochs, batch size, optimizer,
steps): a plain classifier (the DB-VAE's encoder with only its logit
head, uniform batches) and the DB-VAE (its loss, and batches redrawn at
the start of every epoch with `keras_cheats.debias.sampling_probabilities`
from the current encoder). The subgroup attribute is used for the report
only, never for training. `--arms` can add "dbvae_uniform" (the DB-VAE
loss without resampling) to separate the two ingredients.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import pathlib  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from experiments import cli  # noqa: E402

SUBGROUPS = ("rotate", "invert")
ARMS = ("plain", "dbvae", "dbvae_uniform")


def transform(images, subgroup):
    """The rare subgroup's look: images rotated 90 degrees or inverted.

    Args:
        images: (N, H, W, C) in [0, 1]; "rotate" needs H == W.
        subgroup: "rotate" (counter-clockwise) or "invert" (1 - x).

    Returns:
        float32 array of the same shape.
    """
    images = np.asarray(images, np.float32)
    if subgroup == "rotate":
        if images.shape[1] != images.shape[2]:
            raise ValueError(
                f"subgroup='rotate' needs square images; received shape "
                f"{images.shape}"
            )
        return np.ascontiguousarray(np.rot90(images, k=1, axes=(1, 2)))
    if subgroup == "invert":
        return 1.0 - images
    raise ValueError(
        f"subgroup={subgroup!r}; expected one of {', '.join(SUBGROUPS)}"
    )


def biased_splits(train, test, target_class, subgroup, rare_fraction, seed):
    """The biased training split and the subgroup-balanced test split.

    Training: round(rare_fraction * n) of the n target-class images, chosen
    at random with `seed`, are transformed. Test: the test images as is,
    followed by a transformed copy of each. Both carry the attributes
    "subgroup" (0 as is, 1 transformed) and "target" (label ==
    target_class), for evaluation only.

    Returns:
        (train Split, test Split).
    """
    from experiments.data import Split

    if not 0.0 <= rare_fraction <= 1.0:
        raise ValueError(
            f"rare_fraction={rare_fraction!r}; expected a number in [0, 1]"
        )
    rng = np.random.default_rng(seed)
    target = np.flatnonzero(train.y == target_class)
    if len(target) == 0:
        raise ValueError(
            f"target_class={target_class!r} has no training images"
        )
    rare = rng.choice(
        target, size=int(round(rare_fraction * len(target))), replace=False
    )
    x = train.x.copy()
    x[rare] = transform(train.x[rare], subgroup)
    subgroups = np.zeros(len(train.y), np.int64)
    subgroups[rare] = 1
    biased = Split(
        x,
        train.y,
        types.MappingProxyType(
            {"subgroup": subgroups, "target": train.y == target_class}
        ),
    )
    n = len(test.y)
    y = np.concatenate([test.y, test.y])
    balanced = Split(
        np.concatenate([test.x, transform(test.x, subgroup)]),
        y,
        types.MappingProxyType(
            {
                "subgroup": np.repeat(np.array([0, 1], np.int64), n),
                "target": y == target_class,
            }
        ),
    )
    return biased, balanced


class ResampledTrainData:
    """The DB-VAE's training batches, redrawn at the start of every epoch.

    A callable `(epoch, skip_batches) -> tf.data.Dataset` for `loops.fit`.
    For epoch e it encodes the target-class training images with the
    model's current encoder, computes `sampling_probabilities` from their
    latent means, and draws as many target-class indices (with
    replacement) as there are target-class images; the other images each
    appear once. A generator seeded by (seed, e) draws and shuffles, and
    with `cache_dir` the epoch's indices are written to
    cache_dir/epoch_EEEE.npz before training on them, so a resumed epoch
    trains on exactly the batches of the interrupted one.

    Args:
        split: the training `Split`.
        model: a `DBVAE` (anything with `encode(images) -> (mean, _)`).
        target_class: the indicator class.
        batch_size: examples per batch.
        seed: the run's seed.
        bins, smoothing, combine: see `sampling_probabilities`.
        map_fn: per-batch map (images, labels) -> batch.
        cache_dir: folder for the per-epoch indices, or None.
    """

    def __init__(
        self,
        split,
        model,
        target_class,
        batch_size,
        seed=0,
        bins=10,
        smoothing=1e-3,
        combine="max",
        map_fn=None,
        cache_dir=None,
    ):
        self.split, self.model = split, model
        self.batch_size, self.seed = batch_size, seed
        self.bins, self.smoothing, self.combine = bins, smoothing, combine
        self.map_fn = map_fn
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir else None
        self.positives = np.flatnonzero(split.y == target_class)
        self.negatives = np.flatnonzero(split.y != target_class)
        if len(self.positives) == 0:
            raise ValueError(
                f"target_class={target_class!r} has no training images"
            )
        self.epochs = {}  # epoch -> {"indices", "probabilities"}

    def latent_means(self, batch_size=1000):
        """Means of q(z | x), (n_target, d), of the target-class images."""
        x = self.split.x[self.positives]
        means = [
            np.asarray(self.model.encode(x[i : i + batch_size])[0])
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(means).astype(np.float64)

    def draw(self, epoch):
        """{"indices": (N,), "probabilities": (n_target,)} for `epoch`."""
        from keras_cheats import debias

        if epoch in self.epochs:
            return self.epochs[epoch]
        path = (
            self.cache_dir / f"epoch_{epoch:04d}.npz"
            if self.cache_dir
            else None
        )
        if path is not None and path.exists():
            with np.load(path) as saved:
                drawn = {k: saved[k] for k in ("indices", "probabilities")}
        else:
            p = debias.sampling_probabilities(
                self.latent_means(), self.bins, self.smoothing, self.combine
            )
            rng = np.random.default_rng([self.seed, epoch])
            picks = self.positives[
                debias.draw_indices(p, len(self.positives), rng)
            ]
            indices = rng.permutation(np.concatenate([self.negatives, picks]))
            drawn = {"indices": indices, "probabilities": p}
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.stem}.tmp.npz")
                np.savez(tmp, **drawn)
                tmp.replace(path)
        self.epochs[epoch] = drawn
        return drawn

    @property
    def steps_per_epoch(self):
        return -(-len(self.split.y) // self.batch_size)

    def __call__(self, epoch, skip_batches=0):
        import tensorflow as tf

        idx = self.draw(epoch)["indices"]
        ds = tf.data.Dataset.from_tensor_slices(
            (self.split.x[idx], self.split.y[idx])
        ).batch(self.batch_size)
        if self.map_fn is not None:
            ds = ds.map(self.map_fn)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds.skip(skip_batches) if skip_batches else ds


def group_accuracies(correct, split):
    """Accuracy per (target, subgroup) group of the balanced test split."""
    target = np.asarray(split.attributes["target"], bool)
    rare = np.asarray(split.attributes["subgroup"]) == 1
    groups = {
        "accuracy_common": target & ~rare,
        "accuracy_rare": target & rare,
        "accuracy_other": ~target & ~rare,
        "accuracy_other_transformed": ~target & rare,
    }
    out = {
        name: float(np.mean(correct[mask])) if mask.any() else float("nan")
        for name, mask in groups.items()
    }
    out["accuracy_balanced_target"] = (
        out["accuracy_common"] + out["accuracy_rare"]
    ) / 2
    return out


@dataclasses.dataclass(frozen=True)
class DebiasConfig:
    """One debiasing experiment (see the module docstring)."""

    dataset: str = "digits"
    target_class: int = 7
    subgroup: str = "rotate"
    rare_fraction: float = 0.02
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    latent_dim: int = 16
    beta: float = 1.0
    likelihood: str = "mse"
    vae_weight: float = 0.01
    bins: int = 10
    smoothing: float = 1e-3
    combine: str = "max"
    seed: int = 0
    arms: tuple = ("plain", "dbvae")
    verbose: int = 0

    def __post_init__(self):
        if self.subgroup not in SUBGROUPS:
            raise ValueError(
                f"subgroup={self.subgroup!r}; expected one of "
                f"{', '.join(SUBGROUPS)}"
            )
        arms = tuple(self.arms)
        if not arms or any(a not in ARMS for a in arms):
            raise ValueError(
                f"arms={self.arms!r}; expected names among {', '.join(ARMS)}"
            )
        object.__setattr__(self, "arms", arms)
        from keras_cheats import debias

        debias._check(np.zeros((1, 1)), self.bins, self.smoothing, self.combine)


def _train_arm(arm, config, data, test, model_dir):
    """Trains one arm; returns (metrics, resampling log or None)."""
    import keras

    import loops
    from keras_cheats.models import dbvae

    loops.seed_everything(config.seed)
    shape = data.info.image_shape
    architecture = dbvae.DBVAEConfig(
        latent_dim=config.latent_dim, seed=config.seed
    )
    targets = data.train.map(dbvae.dbvae_targets)
    accuracy = [dbvae.IndicatorAccuracy(config.target_class)]
    resampler = None
    if arm == "plain":
        model = dbvae.build_classifier(shape, architecture)
        target_class = config.target_class

        def plain_loss(y, logit):
            truth = dbvae.indicator(y["label"], target_class)
            logit = keras.ops.reshape(logit, (-1,))
            return keras.ops.binary_crossentropy(truth, logit, from_logits=True)

        task = loops.supervised(plain_loss, metrics=accuracy)
        train_data = targets
    else:
        model = dbvae.build_dbvae(shape, architecture)
        loss = dbvae.DBVAELoss(
            target_class=config.target_class,
            beta=config.beta,
            likelihood=config.likelihood,
            vae_weight=config.vae_weight,
        )
        task = loops.supervised(loss, metrics=accuracy)
        train_data = targets
        if arm == "dbvae":
            resampler = ResampledTrainData(
                data.train.split,
                model,
                config.target_class,
                config.batch_size,
                seed=config.seed,
                bins=config.bins,
                smoothing=config.smoothing,
                combine=config.combine,
                map_fn=dbvae.dbvae_targets,
                cache_dir=model_dir / arm / "resampling",
            )
            train_data = resampler
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        task,
        train_data,
        options=loops.LoopOptions(
            epochs=config.epochs, seed=config.seed, verbose=config.verbose
        ),
        model_dir=model_dir / arm,
    )
    logits = np.concatenate(
        [
            np.asarray(
                model.classify(test.x[i : i + 1000])
                if arm != "plain"
                else keras.ops.sigmoid(model(test.x[i : i + 1000]))[:, 0]
            )
            for i in range(0, len(test.y), 1000)
        ]
    )
    guess = logits > 0.5
    correct = guess == np.asarray(test.attributes["target"], bool)
    metrics = {**group_accuracies(correct, test), "history": history}
    return metrics, resampler


def _resampling_log(resampler, split, config):
    """Per epoch: what the draw did to the rare subgroup (report only)."""
    from keras_cheats import debias

    rare = np.asarray(split.attributes["subgroup"])[resampler.positives] == 1
    log = []
    for epoch in sorted(resampler.epochs):
        drawn = resampler.draw(epoch)
        p = drawn["probabilities"]
        picked = drawn["indices"][
            np.isin(drawn["indices"], resampler.positives)
        ]
        picked_rare = np.asarray(split.attributes["subgroup"])[picked] == 1
        entry = {
            "epoch": epoch,
            "rare_share_of_target_images": float(rare.mean()),
            "rare_share_of_draw": float(picked_rare.mean()),
            "effective_sample_size": debias.effective_sample_size(p),
        }
        if rare.any() and (~rare).any():
            entry["rare_over_common_probability"] = float(
                p[rare].mean() / p[~rare].mean()
            )
        log.append(entry)
    # Both combination rules on the final encoder, for the comparison.
    means = resampler.latent_means()
    final = {}
    for combine in debias.COMBINES:
        p = debias.sampling_probabilities(
            means, config.bins, config.smoothing, combine
        )
        final[combine] = {
            "effective_sample_size": debias.effective_sample_size(p),
            "rare_probability_mass": float(p[rare].sum()),
            "largest_probability": float(p.max()),
        }
    return {"per_epoch": log, "final_encoder": final}


def run(config: DebiasConfig, model_dir) -> dict:
    """Builds the biased data, trains every arm, returns the metrics.

    Writes model_dir/metrics.json; each arm trains in model_dir/ARM.
    """
    from experiments import data as data_lib
    from loops.checkpointing import write_json_atomic

    model_dir = pathlib.Path(model_dir)
    train, test, info = data_lib.load_splits(config.dataset)
    if not 0 <= config.target_class < info.num_classes:
        raise ValueError(
            f"target_class={config.target_class!r}; {config.dataset} has "
            f"classes 0 to {info.num_classes - 1}"
        )
    train, test = biased_splits(
        train,
        test,
        config.target_class,
        config.subgroup,
        config.rare_fraction,
        config.seed,
    )
    data = data_lib.Data(
        train=data_lib.Pipeline(train, config.batch_size, True, config.seed),
        test=data_lib.Pipeline(test, config.batch_size, False, config.seed),
        info=dataclasses.replace(
            info, num_train=len(train.y), num_test=len(test.y)
        ),
    )
    target = np.asarray(train.attributes["target"], bool)
    result = {
        "config": dataclasses.asdict(config),
        "train_target_images": int(target.sum()),
        "train_rare_images": int(train.attributes["subgroup"].sum()),
        "test_images_per_group": {
            "target": int(np.asarray(test.attributes["target"]).sum() // 2),
            "other": int((~np.asarray(test.attributes["target"])).sum() // 2),
        },
    }
    for arm in config.arms:
        metrics, resampler = _train_arm(arm, config, data, test, model_dir)
        if resampler is not None:
            metrics["resampling"] = _resampling_log(resampler, train, config)
        result[arm] = metrics
    write_json_atomic(model_dir / "metrics.json", result)
    return result


SUMMARY_KEYS = (
    "accuracy_rare",
    "accuracy_common",
    "accuracy_other",
    "accuracy_other_transformed",
)


def run_seeds(config: DebiasConfig, seeds, model_dir) -> dict:
    """`run` once per seed (in model_dir/seed_S) plus mean and standard
    deviation over seeds of each arm's group accuracies.

    Returns (and writes to model_dir/metrics.json) {"config", "seeds":
    {seed: run result}, "summary": {arm: {metric: {"mean", "std",
    "values"}}}}.
    """
    from loops.checkpointing import write_json_atomic

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds=[]; expected at least one seed")
    model_dir = pathlib.Path(model_dir)
    results = {
        seed: run(
            dataclasses.replace(config, seed=seed), model_dir / f"seed_{seed}"
        )
        for seed in seeds
    }
    summary = {}
    for arm in config.arms:
        summary[arm] = {}
        for key in SUMMARY_KEYS:
            values = [results[seed][arm][key] for seed in seeds]
            summary[arm][key] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values)),
                "values": values,
            }
    out = {
        "config": {**dataclasses.asdict(config), "seeds": seeds},
        "seeds": {str(seed): results[seed] for seed in seeds},
        "summary": summary,
    }
    write_json_atomic(model_dir / "metrics.json", out)
    return out


FLAGS = flags.FLAGS


def define_flags():
    """Defines the command line. Called only when this module runs as a
    program: other experiments define flags of the same names (absl
    refuses a name defined twice), and tests import several modules."""
    defaults = DebiasConfig()
    flags.DEFINE_string(
        "dataset", defaults.dataset, "digits or idx:DIR (see train)."
    )
    flags.DEFINE_integer(
        "target_class", defaults.target_class, "The indicator class."
    )
    flags.DEFINE_enum(
        "subgroup", defaults.subgroup, SUBGROUPS, "The rare look."
    )
    flags.DEFINE_float(
        "rare_fraction",
        defaults.rare_fraction,
        "Share of target images transformed.",
    )
    flags.DEFINE_integer(
        "epochs", defaults.epochs, "Passes over the data, each arm."
    )
    flags.DEFINE_integer("batch_size", defaults.batch_size, "Batch size.")
    flags.DEFINE_float(
        "learning_rate", defaults.learning_rate, "Adam step size."
    )
    flags.DEFINE_integer(
        "latent_dim", defaults.latent_dim, "DB-VAE latent size."
    )
    flags.DEFINE_float("beta", defaults.beta, "KL weight in the VAE loss.")
    flags.DEFINE_enum(
        "likelihood", defaults.likelihood, ["mse", "bernoulli"], "Recon."
    )
    flags.DEFINE_float(
        "vae_weight", defaults.vae_weight, "Weight of the VAE loss."
    )
    flags.DEFINE_integer(
        "bins", defaults.bins, "Histogram bins per latent dimension."
    )
    flags.DEFINE_float(
        "smoothing", defaults.smoothing, "Added to each bin density."
    )
    flags.DEFINE_enum(
        "combine", defaults.combine, ["max", "product"], "Over dims."
    )
    flags.DEFINE_list("seeds", ["0"], "One run per seed; the summary averages.")
    flags.DEFINE_list(
        "arms", list(defaults.arms), "Among plain, dbvae, dbvae_uniform."
    )
    flags.DEFINE_string(
        "model_dir", "", "Run directory (default: a new folder under runs/)."
    )
    flags.DEFINE_boolean("restart", False, cli.RESTART_HELP)


def main(argv):
    del argv
    from experiments.rundir import open_run, record_of

    names = [f.name for f in dataclasses.fields(DebiasConfig)]
    skip = ("arms", "verbose", "seed")
    values = {n: FLAGS[n].value for n in names if n not in skip}
    try:
        config = DebiasConfig(**values, arms=tuple(FLAGS.arms))
        record = record_of("debias", config, seeds=list(FLAGS.seeds))
        folder = open_run(
            FLAGS.model_dir, "debias", record, dataset=config.dataset,
            restart=FLAGS.restart,
        )  # fmt: skip
        result = run_seeds(config, FLAGS.seeds, folder)
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    first = next(iter(result["seeds"].values()))
    print(
        f"{first['train_rare_images']} of {first['train_target_images']} "
        f"training images of class {config.target_class} are "
        f"'{config.subgroup}'; test: {first['test_images_per_group']} "
        "images per subgroup"
    )
    for seed, r in result["seeds"].items():
        if "dbvae" in config.arms:
            log = r["dbvae"]["resampling"]
            shares = [e["rare_share_of_draw"] for e in log["per_epoch"]]
            base = log["per_epoch"][0]["rare_share_of_target_images"]
            print(
                f"seed {seed}: rare share of the DB-VAE's draws per epoch "
                + " ".join(f"{v:.3f}" for v in shares)
                + f" (of the images {base:.3f}); "
                + "final encoder: "
                + ", ".join(
                    f"{k} effective sample size "
                    f"{v['effective_sample_size']:.1f}"
                    for k, v in log["final_encoder"].items()
                )
            )
    n = len(result["seeds"])
    print(f"accuracy, mean +- std over {n} seed(s):")
    for arm, metrics in result["summary"].items():
        print(
            f"{arm:>13}: "
            + ", ".join(
                f"{key[len('accuracy_') :]} {v['mean']:.4f} +- {v['std']:.4f}"
                for key, v in metrics.items()
            )
        )


if __name__ == "__main__":
    define_flags()
    cli.run(main)
