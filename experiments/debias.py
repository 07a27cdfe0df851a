r"""Does the DB-VAE's adaptive resampling help a rare look? (Amini et al.
2019 on MNIST-style data; cheat sheet 7.4.2 and 11.3.)

    python -m experiments.debias --dataset=idx:../shared/data/mnist \
        --target_class=7 --subgroup=rotate --rare_fraction=0.05

Task: is the digit `target_class` (I_f = 1) or not? Bias: in the training
split the same small fraction of every class is transformed (rotated 90
degrees, or colour-inverted), so the look carries no label information,
and among the target-class images it is rare (`experiments.subgroups`).
The test split holds every test image as is and transformed. Scores per
arm: recall on the rare look and on the common look, and the error on
rare-looking and on common-looking negatives.

Arms, all with the same budget (epochs, batch size, optimizer):

    plain       the DB-VAE's encoder with only its logit head, its
                cross-entropy alone, uniform batches
    uniform     the DB-VAE and its loss, uniform batches
    max_aA      the DB-VAE, batches resampled every epoch by latent
    product_aA  rarity (`keras_cheats.debias`, combine max or product,
                smoothing alpha A), for each A in --alphas
    oracle      the DB-VAE, batches drawn with the true rare group at a
                fixed share of the target-class draws: by default the
                largest mean share a "max" arm of the same seed drew, so
                it is the best that share of draws could do

Within a seed every arm starts from the same initial weights (the plain
classifier's are the DB-VAE encoder's) and sees the same batch order: the
other classes' images in the same slots, the target-class draws in the
same slots (`experiments.resampling`). Differences between arms are then
paired by seed; metrics.json holds, per arm and score, the mean and
standard deviation over seeds and the mean paired difference against
"plain" (every other arm) and against "uniform" (the resampling arms and
the oracle) with its 95% confidence interval (`experiments.paired`). The
look is known to the oracle and the report only. Each arm runs in
MODEL_DIR/seed_S/ARM.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
import typing  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import (  # noqa: E402
    cli,
    config_flags,
    paired,
    resampling,
    rundir,
    subgroups,
)
from experiments import data as data_lib  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import dbvae  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "debias"
Subgroup = Literal["rotate", "invert"]  # subgroups.SUBGROUPS
Likelihood = Literal["mse", "bernoulli"]
ARMS = ("plain", "uniform", "max", "product", "oracle")
RESAMPLING = ("max", "product")  # keras_cheats.debias.COMBINES
BASELINES = ("plain", "uniform")
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the debiasing experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    target_class: int = 7
    """The indicator class (I_f = 1); the task is this class or not."""
    subgroup: Subgroup = "rotate"
    """The rare look, given to the same share of every class."""
    rare_fraction: float = 0.05
    """Share of every class's training images given the rare look."""
    epochs: int = 5
    """Passes over the data, each arm."""
    batch_size: int = 64
    """Batch size."""
    learning_rate: float = 1e-3
    """Adam step size."""
    latent_dim: int = 16
    """DB-VAE latent size (the plain classifier has the same encoder)."""
    beta: float = 1.0
    """KL weight in the VAE loss."""
    likelihood: Likelihood = "mse"
    """Reconstruction term of the VAE loss."""
    vae_weight: float = 0.01
    """Weight of the VAE loss against the classification loss."""
    bins: int = 10
    """Histogram bins per latent dimension (resampling)."""
    alphas: tuple[float, ...] = (0.001, 0.01, 0.1)
    """Smoothing alpha of the resampling: max and product run once per
    alpha (smaller alpha, stronger resampling)."""
    oracle_share: float | None = None
    """The rare group's share of the oracle's target-class draws; empty:
    the largest mean share a max arm (else a product arm) of the same seed
    drew."""
    arms: tuple[str, ...] = ARMS
    """Arms to train, among plain, uniform, max, product, oracle."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """One paired run of every arm per seed."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("subgroup", "likelihood"):
            allowed = typing.get_args(typing.get_type_hints(Config)[name])
            checks.choice(name, getattr(self, name), allowed)
        for name in ("arms", "seeds", "alphas"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.arms or any(a not in ARMS for a in self.arms):
            raise ValueError(
                f"arms={self.arms!r}; expected names among {', '.join(ARMS)}"
            )
        checks.integers("seeds", self.seeds, minimum=0)
        if len(set(self.seeds)) < len(self.seeds):
            raise ValueError(
                f"seeds={self.seeds!r}; expected different integers"
            )
        if not self.alphas or not all(
            not isinstance(a, bool) and isinstance(a, int | float) and a > 0
            for a in self.alphas
        ):
            raise ValueError(
                f"alphas={self.alphas!r}; expected one or more numbers > 0"
            )
        if self.oracle_share is not None and not (
            isinstance(self.oracle_share, int | float)
            and 0 < self.oracle_share < 1
        ):
            raise ValueError(
                f"oracle_share={self.oracle_share!r}; expected a number "
                "in (0, 1), or none to match the resampling arms"
            )
        if (
            "oracle" in self.arms
            and self.oracle_share is None
            and not set(RESAMPLING) & set(self.arms)
        ):
            raise ValueError(
                f"arms={self.arms!r} with oracle_share=None; the oracle "
                "matches the share of a resampling arm (max or product): "
                "add one, or give --oracle_share"
            )
        checks.integer("target_class", self.target_class, 0)
        for name in ("epochs", "batch_size", "latent_dim", "bins"):
            checks.integer(name, getattr(self, name), 1)
        if not 0.0 < self.rare_fraction < 0.5:
            raise ValueError(
                f"rare_fraction={self.rare_fraction!r}; expected a number "
                "in (0, 0.5): the rare look must be rare"
            )
        checks.above("learning_rate", self.learning_rate)
        checks.at_least("beta", self.beta)
        checks.at_least("vae_weight", self.vae_weight)


# The scores of each arm summarized over seeds, and compared in pairs.
SCORES = (*subgroups.GROUPS, "balanced_recall", "rare_share_of_draws")


def arm_runs(config):
    """[(name, kind, alpha)]: the runs of `config.arms`, oracle last."""
    runs = [(a, a, None) for a in BASELINES if a in config.arms]
    for combine in RESAMPLING:
        if combine in config.arms:
            runs += [(f"{combine}_a{a:g}", combine, a) for a in config.alphas]
    if "oracle" in config.arms:
        runs.append(("oracle", "oracle", None))
    return runs


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Every arm with every seed (workdir/seed_S/ARM), summarized.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "seeds": {seed: the run of `_seed_run`}, "summary": {arm: {score:
    {"mean", "std", "values"}}}, "paired": {"vs BASELINE": {arm: {score:
    `paired.paired_difference`}}}}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    if config.target_class >= info.num_classes:
        raise ValueError(
            f"target_class={config.target_class!r}; expected a class of "
            f"{config.dataset}, 0 to {info.num_classes - 1}"
        )
    runs = {
        seed: _seed_run(
            config, seed, train, test, info, workdir / f"seed_{seed}"
        )
        for seed in config.seeds
    }
    names = [name for name, _, _ in arm_runs(config)]

    def values(arm, score):
        return [runs[seed]["arms"][arm][score] for seed in config.seeds]

    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "seeds": {str(seed): run for seed, run in runs.items()},
        "summary": {
            arm: {score: _spread(values(arm, score)) for score in SCORES}
            for arm in names
        },
        "paired": {
            f"vs {base}": {
                arm: {
                    score: paired.paired_difference(
                        values(arm, score), values(base, score)
                    )
                    for score in SCORES
                }
                for arm in names[names.index(base) + 1 :]
            }
            for base in BASELINES
            if base in names
        },
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _spread(values):
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "values": values,
    }


def _seed_run(config, seed, train, test, info, run_dir):
    """Builds the biased data and the initial weights of `seed`, and
    trains every arm from them.

    Returns (and writes to run_dir/metrics.json) the data's counts and
    {"arms": {name: `_train_arm`'s scores}}.
    """
    train, test = subgroups.biased_splits(
        train,
        test,
        config.target_class,
        config.subgroup,
        config.rare_fraction,
        seed,
    )
    rare = np.asarray(train.attributes["subgroup"]) == 1
    target = np.asarray(train.attributes["target"], bool)
    test_target = np.asarray(test.attributes["target"], bool)
    result = {
        "train_images": len(train.y),
        "train_rare_images": int(rare.sum()),
        "train_target_images": int(target.sum()),
        "train_rare_target_images": int((rare & target).sum()),
        "test_images_per_look": {  # each test image is in both looks
            "target": int(test_target.sum() // 2),
            "other": int((~test_target).sum() // 2),
        },
        "arms": {},
    }
    keras.utils.set_random_seed(seed)
    initial = dbvae.build_dbvae(info.image_shape, _architecture(config, seed))
    for name, kind, alpha in arm_runs(config):
        share = None
        if kind == "oracle":
            share = config.oracle_share or _matched_share(config, result)
            result["oracle_share"] = share
        result["arms"][name] = _train_arm(
            kind, alpha, share, config, seed, train, test, initial,
            run_dir / name,
        )  # fmt: skip
    write_json_atomic(run_dir / "metrics.json", result)
    return result


def _matched_share(config, result):
    """The largest mean rare share of draws among the seed's "max" arms
    (the product's, only without them: on MNIST it collapses onto a few
    images, and its shares swing from 0.13 to 1.0; BUILD.md)."""
    kinds = {kind for _, kind, _ in arm_runs(config)} & set(RESAMPLING)
    matched = "max" if "max" in kinds else "product"
    return max(
        result["arms"][arm]["rare_share_of_draws"]
        for arm, kind, _ in arm_runs(config)
        if kind == matched
    )


def _architecture(config, seed):
    return dbvae.DBVAEConfig(latent_dim=config.latent_dim, seed=seed)


def _train_arm(kind, alpha, share, config, seed, train, test, initial, path):
    """Trains one arm from the seed's `initial` DB-VAE weights; returns its
    group scores, its history and its draws."""
    keras.utils.set_random_seed(seed)
    shape = train.x.shape[1:]
    sampler = None
    if kind == "plain":
        model = _plain_classifier(initial, shape, _architecture(config, seed))
        loss = _PlainLoss(config.target_class)
    else:
        model = dbvae.build_dbvae(shape, _architecture(config, seed))
        model.set_weights(initial.get_weights())
        loss = dbvae.DBVAELoss(
            target_class=config.target_class,
            beta=config.beta,
            likelihood=config.likelihood,
            vae_weight=config.vae_weight,
        )
        if kind in RESAMPLING:
            sampler = resampling.LatentRarity(
                model, config.bins, alpha, combine=kind
            )
        elif kind == "oracle":
            sampler = resampling.Oracle(subgroups.rare_targets(train), share)
    data = resampling.ResampledTrainData(
        train,
        config.target_class,
        config.batch_size,
        sampler=sampler,
        seed=seed,
        map_fn=dbvae.dbvae_targets,
        cache_dir=path / "resampling",
    )
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(
            loss, metrics=[dbvae.IndicatorAccuracy(config.target_class)]
        ),
        data,
        options=loops.LoopOptions(
            epochs=config.epochs, seed=seed, verbose=config.verbose
        ),
        model_dir=path,
    )
    scores = subgroups.group_scores(
        model, loss, config.target_class, test, config.batch_size
    )
    draws = resampling.report(data, train.attributes["subgroup"] == 1)
    scores["rare_share_of_draws"] = float(
        np.mean([e["rare_share_of_draw"] for e in draws])
    )
    return {**scores, "history": history, "draws": draws}


def _plain_classifier(model, shape, architecture):
    """The classifier with the DB-VAE encoder's layers and weights."""
    classifier = dbvae.build_classifier(shape, architecture)
    for layer in classifier.layers:
        if layer.weights:
            layer.set_weights(model.encoder.get_layer(layer.name).get_weights())
    return classifier


@dataclasses.dataclass(frozen=True)
class _PlainLoss:
    """Binary cross-entropy of I_f(y) against the logit (B, 1), per image."""

    target_class: int

    def __call__(self, targets, logit):
        truth = dbvae.indicator(targets["label"], self.target_class)
        logit = keras.ops.reshape(logit, (-1,))
        return keras.ops.binary_crossentropy(truth, logit, from_logits=True)


SHOWN = {  # score: column heading
    "recall_rare": "recall rare",
    "recall_common": "recall common",
    "error_rare_negatives": "err rare neg",
    "error_common_negatives": "err common neg",
    "rare_share_of_draws": "rare draws",
}


def summary(result) -> str:
    """The data's counts, each arm's scores (mean +- std over seeds) and
    the paired differences with their 95% intervals."""
    config = result["config"]
    first = next(iter(result["seeds"].values()))
    seeds = len(result["seeds"])
    lines = [
        f"{first['train_rare_images']} of {first['train_images']} training "
        f"images are '{config['subgroup']}' (the same share of every "
        f"class): {first['train_rare_target_images']} of the "
        f"{first['train_target_images']} of class {config['target_class']};"
        f" test: {first['test_images_per_look']} images per look",
        f"mean +- std over {seeds} seed(s):",
        f"{'arm':>14} " + " ".join(f"{h:>15}" for h in SHOWN.values()),
    ]
    for arm, scores in result["summary"].items():
        lines.append(
            f"{arm:>14} "
            + " ".join(
                f"{scores[k]['mean']:>7.4f}+-{scores[k]['std']:.4f}"
                for k in SHOWN
            )
        )
    for base, arms in result["paired"].items():
        lines.append(f"paired difference {base}, mean [95% interval]:")
        for arm, scores in arms.items():
            lines.append(
                f"{arm:>14} "
                + " ".join(
                    f"{_interval(scores[k]):>26}" for k in list(SHOWN)[:3]
                )
            )
    return "\n".join(lines)


def _interval(d):
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
