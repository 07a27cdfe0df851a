r"""Mixture of experts against dense networks of equal size (Cheat sheet 8.2).

    python -m experiments.moe --dataset=idx:../shared/data/mnist \
        --epochs=10 --seeds=3

Four classifiers share a trunk (flatten -> dense `width`, ReLU) and a head
(dense to the classes) around one residual feed-forward block x + f(x):

- moe: f = `keras_cheats.layers.MixtureOfExperts` (E experts d -> h -> d,
  noisy top-k gate, capacity, the balance loss weighted --aux_weight);
- moe_no_aux: the same with --aux_weight=0 (only when --aux_weight > 0):
  what the balance loss prevents;
- dense_active: f = a dense d -> H -> d whose H makes its parameter count
  equal (to within one hidden unit) the MoE model's ACTIVE parameters,
  those one token uses: trunk + gate (W_g, and W_noise if noisy) + k
  experts + head;
- dense_total (--compare_total): H matched to the MoE model's TOTAL
  parameters (all E experts).

Every arm trains through `loops.fit` + `loops.supervised` with the same
optimizer, epochs, batch order and seed, for --seeds seeds (paired over
them). The test split is routed in batches of --batch_size (capacity is
per batch, as in training). The run directory gets metrics.json (test
accuracy per arm and seed, paired differences, parameter counts, expert
load and per-class routing), expert_load.png and class_routing.png
(`experiments.moe_charts`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses  # noqa: E402
from typing import Literal  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import loops  # noqa: E402
from experiments import cli, config_flags, images, moe_charts, rundir  # noqa: E402
from experiments import data as data_lib  # noqa: E402
from experiments.paired import paired_difference  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.layers.moe import MixtureOfExperts  # noqa: E402
from keras_cheats.layers.moe_gating import BALANCE_LOSSES  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "moe"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the mixture-of-experts experiment."""

    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    width: int = 128
    """d: width of the trunk, the tokens the experts see."""
    num_experts: int = 8
    """E: experts in the MoE layer."""
    k: int = 2
    """Experts per token (top-k)."""
    expert_units: int = 64
    """h: hidden width of each expert d -> h -> d."""
    capacity_factor: float = 1.25
    """Each expert takes at most ceil(capacity_factor * k * B / E) of a
    batch's k * B assignments; 0 for no limit."""
    aux_weight: float = 0.1
    """alpha of the balance loss; > 0 also trains moe_no_aux (alpha 0).
    Switch's 0.01 left 2 of 8 experts under 0.5% of the load after 230
    steps on digits."""
    balance_loss: Literal[BALANCE_LOSSES] = "switch"
    """switch (alpha E sum f_i P_i) or importance (alpha CV^2)."""
    noisy: bool = True
    """Noisy top-k gating in training (Shazeer et al. 2017)."""
    compare_total: bool = True
    """Also train dense_total, a dense block of the MoE's total size."""
    epochs: int = 10
    """Passes over the data."""
    batch_size: int = 64
    """Batch size (and the tokens per call that capacity counts)."""
    learning_rate: float = 1e-3
    """Adam step size."""
    seeds: int = 1
    """Seeds per arm: seed, seed + 1, ...; arms paired seed by seed."""
    seed: int = 0
    """First seed: initialization, batch order, gate noise."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        for name in ("width", "num_experts", "k", "expert_units", "epochs",
                     "batch_size", "seeds"):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        checks.integer("seed", self.seed, 0)
        if self.k > self.num_experts:
            raise ValueError(
                f"k={self.k}; expected an integer from 1 to "
                f"num_experts={self.num_experts}"
            )
        checks.at_least("capacity_factor", self.capacity_factor, 0)
        checks.at_least("aux_weight", self.aux_weight, 0)
        checks.above("learning_rate", self.learning_rate, 0)
        if self.balance_loss not in BALANCE_LOSSES:
            raise ValueError(
                f"balance_loss={self.balance_loss!r}; expected one of "
                f"{', '.join(BALANCE_LOSSES)}"
            )

    def arms(self):
        return (
            ("moe",)
            + (("moe_no_aux",) if self.aux_weight > 0 else ())
            + ("dense_active",)
            + (("dense_total",) if self.compare_total else ())
        )


def expert_params(d, h):
    """Parameters of one d -> h -> d expert: (2d + 1) h + d."""
    return (2 * d + 1) * h + d


def block_params(config, d):
    """(total, active) parameters of the MoE block: gate + E or k experts."""
    gate = d * config.num_experts * (2 if config.noisy else 1)
    one = expert_params(d, config.expert_units)
    return gate + config.num_experts * one, gate + config.k * one


def matched_units(target, d):
    """H with expert_params(d, H) nearest to `target` (at least 1)."""
    return max(1, round((target - d) / (2 * d + 1)))


def build_model(arm, config, image_shape, num_classes, seed):
    """The arm's classifier: trunk, residual block, head (logits)."""
    d = config.width
    inputs = keras.Input(image_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(d, activation="relu", name="trunk")(x)
    if arm.startswith("moe"):
        x = MixtureOfExperts(
            num_experts=config.num_experts, k=config.k,
            hidden_units=config.expert_units,
            capacity_factor=config.capacity_factor or None,
            noisy=config.noisy, balance_loss=config.balance_loss,
            aux_weight=0.0 if arm == "moe_no_aux" else config.aux_weight,
            seed=seed, name="moe",
        )(x)  # fmt: skip
    else:
        total, active = block_params(config, d)
        units = matched_units(total if arm == "dense_total" else active, d)
        f = keras.layers.Dense(units, activation="relu", name="hidden")(x)
        x = keras.layers.Add()([x, keras.layers.Dense(d, name="out")(f)])
    outputs = keras.layers.Dense(num_classes, name="head")(x)
    return keras.Model(inputs, outputs, name=arm)


def parameter_counts(model, config):
    """{"total", "active"} trainable parameters; active = total less the
    E - k experts a token does not use (equal for the dense arms)."""
    total = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    names = [layer.name for layer in model.layers]
    if "moe" not in names:
        units = model.get_layer("hidden").units
        return {"total": total, "active": total, "units": units}
    unused = (config.num_experts - config.k) * expert_params(
        config.width, config.expert_units
    )
    return {"total": total, "active": total - unused}


def evaluate_routing(model, test, batch_size, num_classes):
    """Test accuracy, and for an MoE model its load over the test split
    (`MixtureOfExperts.load_summary`; "train_load": the same over every
    training step, noise included) and the (C, E) shares of each class's
    first choices; the test split is routed batch by batch like training.
    """
    moe = next((x for x in model.layers if x.name == "moe"), None)
    trunk = None if moe is None else keras.Model(model.input, moe.input)
    if moe is not None:
        train_load = moe.load_summary()
        moe.reset_load()
        counts = np.zeros((num_classes, moe.num_experts))
    correct = 0
    for start in range(0, len(test.x), batch_size):
        xb, yb = (
            test.x[start : start + batch_size],
            test.y[start : start + batch_size],
        )
        logits = keras.ops.convert_to_numpy(model(xb, training=False))
        correct += int((logits.argmax(-1) == yb).sum())
        if moe is not None:
            first = moe.route(trunk(xb, training=False))["indices"][:, 0]
            np.add.at(counts, (yb, keras.ops.convert_to_numpy(first)), 1)
    result = {"test_accuracy": correct / len(test.x)}
    if moe is not None:
        load = moe.load_summary()
        routed = np.array(load["routed"])
        load["cv"] = float(routed.std() / routed.mean())
        result["load"] = load
        result["train_load"] = train_load
        rows = counts.sum(1, keepdims=True)
        result["class_routing"] = (counts / np.maximum(rows, 1)).tolist()
    return result


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Trains every arm for every seed, evaluates, draws the routing.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "params" {arm: {"total", "active", "units"}}, "arms" {arm: {"runs":
    per seed, "mean_accuracy"}}, "paired" {"moe - arm": see
    `experiments.paired`}, "figures"}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    seeds = range(config.seed, config.seed + config.seeds)
    arms, params = {}, {}
    for arm in config.arms():
        runs = []
        for seed in seeds:
            loops.seed_everything(seed)
            model = build_model(
                arm, config, info.image_shape, info.num_classes, seed
            )
            params[arm] = parameter_counts(model, config)
            history = loops.fit(
                model,
                keras.optimizers.Adam(config.learning_rate),
                loops.supervised(
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                ),
                data_lib.Pipeline(train, config.batch_size, seed=seed),
                options=loops.LoopOptions(
                    epochs=config.epochs, seed=seed, verbose=config.verbose
                ),
                model_dir=workdir / f"{arm}_seed{seed}",
            )
            run = evaluate_routing(
                model, test, config.batch_size, info.num_classes
            )
            seconds = float(np.mean(history["epoch_seconds"]))
            run.update(
                seed=seed, final_loss=history["loss"][-1], epoch_seconds=seconds
            )
            runs.append(run)
        arms[arm] = {
            "runs": runs,
            "mean_accuracy": float(np.mean([r["test_accuracy"] for r in runs])),
        }
        if "load" in runs[0]:  # test load over seeds: dropped share, CV
            for key in ("dropped", "cv"):
                values = [r["load"][key] for r in runs]
                arms[arm][f"mean_{key}"] = float(np.mean(values))
    accuracy = {
        a: [r["test_accuracy"] for r in v["runs"]] for a, v in arms.items()
    }
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "params": params,
        "arms": arms,
        "paired": {
            f"moe - {a}": paired_difference(accuracy["moe"], accuracy[a])
            for a in arms
            if a != "moe"
        },
        "figures": draw(arms, workdir),
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def draw(arms, workdir):
    """expert_load.png and class_routing.png: one row per MoE arm (moe,
    then moe_no_aux), one panel per seed; returns their paths."""
    runs = [arms[a]["runs"] for a in arms if a.startswith("moe")]
    kept = [[r["load"]["kept"] for r in row] for row in runs]
    routed = [[r["load"]["routed"] for r in row] for row in runs]
    shares = [[r["class_routing"] for r in row] for row in runs]
    paths = [
        images.save_png(
            workdir / "expert_load.png",
            moe_charts.load_bars(kept, np.subtract(routed, kept)),
        ),
        images.save_png(
            workdir / "class_routing.png", moe_charts.routing_map(shares)
        ),
    ]
    return [str(p) for p in paths]


def summary(result) -> str:
    """Accuracy and parameters per arm, the paired differences, the load."""
    lines = []
    for arm, v in result["arms"].items():
        p = result["params"][arm]
        accs = ", ".join(f"{r['test_accuracy']:.4f}" for r in v["runs"])
        lines.append(
            f"{arm}: test accuracy {v['mean_accuracy']:.4f} ({accs}); "
            f"parameters {p['total']:,} total, {p['active']:,} active"
        )
    for name, d in result["paired"].items():
        interval = (
            f"95% CI {d['low']:+.4f} to {d['high']:+.4f}, {d['n']} seeds"
            if d["n"] > 1
            else "1 seed, no interval"
        )
        lines.append(f"{name}: {d['mean']:+.4f} ({interval})")
    for arm, v in result["arms"].items():
        if "load" in v["runs"][0]:
            load = v["runs"][0]["load"]
            shares = " ".join(f"{s:.3f}" for s in load["routed"])
            lines.append(
                f"{arm} over {len(v['runs'])} seeds: dropped "
                f"{v['mean_dropped']:.3f} of the test assignments, CV of "
                f"the load {v['mean_cv']:.3f}"
            )
            lines.append(
                f"{arm} test load per expert (seed {v['runs'][0]['seed']}): "
                f"{shares}; dropped {load['dropped']:.3f} (in training "
                f"{v['runs'][0]['train_load']['dropped']:.3f}); CV "
                f"{load['cv']:.3f}"
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
