r"""Does the DB-VAE's adaptive resampling fix a hidden bias? (Amini et al.
2019 on MNIST-style data; cheat sheet 7.4.2.)

    python -m experiments.debias --dataset=idx:../shared/data/mnist \
        --target_class=7 --subgroup=rotate --rare_fraction=0.02 --seeds=0,1,2

Task: is the digit `target_class` (the indicator class, I_f = 1) or not?
Bias: in the training split a rare fraction of the target-class digits is
transformed (rotated 90 degrees, or colour-inverted), a visual subgroup
the classifier sees only a few times. No other digit is transformed
(`experiments.subgroups`).

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
from the current encoder; `experiments.resampling`). The subgroup
attribute is used for the report only, never for training. `--arms` can
add "dbvae_uniform" (the DB-VAE loss without resampling) to separate the
two ingredients. Each seed runs in MODEL_DIR/seed_S, each arm in
MODEL_DIR/seed_S/ARM; metrics.json holds every run and the mean and
standard deviation over seeds.
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
from experiments import cli, config_flags, rundir, subgroups  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.resampling import ResampledTrainData, report  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.models import dbvae  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "debias"
Subgroup = Literal["rotate", "invert"]  # subgroups.SUBGROUPS
Likelihood = Literal["mse", "bernoulli"]
Combine = Literal["max", "product"]  # keras_cheats.debias.COMBINES
ARMS = ("plain", "dbvae", "dbvae_uniform")
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
    """The rare look of some target-class training images."""
    rare_fraction: float = 0.02
    """Share of the target-class training images transformed."""
    epochs: int = 10
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
    smoothing: float = 1e-3
    """Added to each bin density (resampling)."""
    combine: Combine = "max"
    """How per-dimension weights combine into one (resampling)."""
    seeds: tuple[int, ...] = (0,)
    """One run per seed; the summary averages over them."""
    arms: tuple[str, ...] = ("plain", "dbvae")
    """Models to train, among plain, dbvae, dbvae_uniform."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("subgroup", "likelihood", "combine"):
            allowed = typing.get_args(typing.get_type_hints(Config)[name])
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected one of "
                    f"{', '.join(allowed)}"
                )
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if not self.arms or any(a not in ARMS for a in self.arms):
            raise ValueError(
                f"arms={self.arms!r}; expected names among {', '.join(ARMS)}"
            )
        if (
            not self.seeds
            or len(set(self.seeds)) < len(self.seeds)
            or any(isinstance(s, bool) or not isinstance(s, int)
                   for s in self.seeds)
        ):  # fmt: skip
            raise ValueError(
                f"seeds={self.seeds!r}; expected one or more different integers"
            )
        checks.integer("target_class", self.target_class, 0)
        for name in ("epochs", "batch_size", "latent_dim", "bins"):
            checks.integer(name, getattr(self, name), 1)
        if not 0.0 <= self.rare_fraction <= 1.0:
            raise ValueError(
                f"rare_fraction={self.rare_fraction!r}; expected a number "
                "in [0, 1]"
            )
        for name in ("learning_rate", "smoothing"):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected a number > 0"
                )
        for name in ("beta", "vae_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}; expected a number >= 0"
                )


SUMMARY_KEYS = tuple(subgroups.GROUPS)


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Every arm with every seed (workdir/seed_S/ARM), and the mean and
    standard deviation over seeds of each arm's group accuracies.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "seeds": {seed: the run of `_seed_run`}, "summary": {arm: {metric:
    {"mean", "std", "values"}}}}.
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
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "seeds": {str(seed): run for seed, run in runs.items()},
        "summary": {
            arm: {
                key: _spread([runs[seed][arm][key] for seed in config.seeds])
                for key in SUMMARY_KEYS
            }
            for arm in config.arms
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
    """Builds the biased data with `seed` and trains every arm on it.

    Returns (and writes to run_dir/metrics.json) the data's counts and,
    per arm, its group accuracies and history (the DB-VAE's also its
    resampling report).
    """
    train, test = subgroups.biased_splits(
        train,
        test,
        config.target_class,
        config.subgroup,
        config.rare_fraction,
        seed,
    )
    target = np.asarray(test.attributes["target"], bool)
    result = {
        "train_target_images": int(train.attributes["target"].sum()),
        "train_rare_images": int(train.attributes["subgroup"].sum()),
        "test_images_per_group": {  # each test image is in two groups
            "target": int(target.sum() // 2),
            "other": int((~target).sum() // 2),
        },
    }
    for arm in config.arms:
        result[arm] = _train_arm(
            arm, config, seed, train, test, info.image_shape, run_dir / arm
        )
    write_json_atomic(run_dir / "metrics.json", result)
    return result


def _train_arm(arm, config, seed, train, test, image_shape, run_dir):
    """Trains one arm; returns its group accuracies and history."""
    loops.seed_everything(seed)
    architecture = dbvae.DBVAEConfig(latent_dim=config.latent_dim, seed=seed)
    accuracy = [dbvae.IndicatorAccuracy(config.target_class)]
    train_data = data_lib.Pipeline(
        train, config.batch_size, shuffle=True, seed=seed
    ).map(dbvae.dbvae_targets)
    resampler = None
    if arm == "plain":
        model = dbvae.build_classifier(image_shape, architecture)
        target_class = config.target_class

        def loss(y, logit):
            # Binary cross-entropy of I_f(y) against the logit (B, 1).
            truth = dbvae.indicator(y["label"], target_class)
            logit = keras.ops.reshape(logit, (-1,))
            return keras.ops.binary_crossentropy(truth, logit, from_logits=True)

    else:
        model = dbvae.build_dbvae(image_shape, architecture)
        loss = dbvae.DBVAELoss(
            target_class=config.target_class,
            beta=config.beta,
            likelihood=config.likelihood,
            vae_weight=config.vae_weight,
        )
        if arm == "dbvae":
            resampler = ResampledTrainData(
                train,
                model,
                config.target_class,
                config.batch_size,
                seed=seed,
                bins=config.bins,
                smoothing=config.smoothing,
                combine=config.combine,
                map_fn=dbvae.dbvae_targets,
                cache_dir=run_dir / "resampling",
            )
            train_data = resampler
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        loops.supervised(loss, metrics=accuracy),
        train_data,
        options=loops.LoopOptions(
            epochs=config.epochs, seed=seed, verbose=config.verbose
        ),
        model_dir=run_dir,
    )
    metrics = subgroups.group_accuracies(
        model, loss, config.target_class, test, config.batch_size
    )
    metrics["history"] = history
    if resampler is not None:
        rare = np.asarray(train.attributes["subgroup"]) == 1
        metrics["resampling"] = report(
            resampler, rare, config.bins, config.smoothing
        )
    return metrics


def summary(result) -> str:
    """The data's counts, the DB-VAE's draws per seed, and each arm's
    group accuracies (mean +- std over seeds)."""
    config = result["config"]
    first = next(iter(result["seeds"].values()))
    lines = [
        f"{first['train_rare_images']} of {first['train_target_images']} "
        f"training images of class {config['target_class']} are "
        f"'{config['subgroup']}'; test: {first['test_images_per_group']} "
        "images per subgroup"
    ]
    for seed, run in result["seeds"].items():
        if "dbvae" not in run:
            continue
        log = run["dbvae"]["resampling"]
        shares = [e["rare_share_of_draw"] for e in log["per_epoch"]]
        base = log["per_epoch"][0]["rare_share_of_target_images"]
        lines.append(
            f"seed {seed}: rare share of the DB-VAE's draws per epoch "
            + " ".join(f"{v:.3f}" for v in shares)
            + f" (of the images {base:.3f}); final encoder: "
            + ", ".join(
                f"{k} effective sample size {v['effective_sample_size']:.1f}"
                for k, v in log["final_encoder"].items()
            )
        )
    lines.append(f"accuracy, mean +- std over {len(result['seeds'])} seed(s):")
    for arm, metrics in result["summary"].items():
        lines.append(
            f"{arm:>13}: "
            + ", ".join(
                f"{key[len('accuracy_') :]} {v['mean']:.4f} +- {v['std']:.4f}"
                for key, v in metrics.items()
            )
        )
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
