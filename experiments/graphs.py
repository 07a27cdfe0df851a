r"""Graph neural networks on digits (Cheat sheet 7.6): GCN, GAT and
message passing against an MLP that sees the same node features.

    python -m experiments.graphs --task=graph \
        --dataset=idx:../shared/data/mnist --epochs=10
    python -m experiments.graphs --task=node \
        --dataset=idx:../shared/data/mnist --seeds=3

--task=graph: graph classification, after the MNIST task of "Benchmarking
GNNs": each image becomes a graph of its non-empty P x P patches (features:
mean intensity and the patch centre (x, y)), each patch joined to its k
nearest patches (`experiments.graph_data.patch_graphs`); batches are
disjoint unions of graphs. Each model of --models (mlp = a per-node MLP
and a readout, no edges) is trained and reports its test accuracy.

--task=node: semi-supervised node classification (Kipf and Welling 2017):
one k-NN graph over all images (train and test split; features: the PCA
of the pixels), --labels_per_class labelled training images per class;
a two-layer GCN (or GAT, MPNN) and a two-layer MLP learn from the same
labelled nodes, and report the accuracy on the test split's nodes (all
unlabelled), over --seeds draws of the labelled nodes.

The run directory gets metrics.json and PNGs: graph_examples.png (a few
digit graphs), gat_attention.png (if gat ran), accuracy.png (one bar
per model, in --models order).
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
from experiments import (  # noqa: E402
    classification,
    cli,
    config_flags,
    graph_data,
    graph_models,
    images,
    raster,
    rundir,
)
from experiments import data as data_lib  # noqa: E402
from experiments import graph_pictures as pictures  # noqa: E402
from keras_cheats import checks  # noqa: E402
from keras_cheats.layers.graphs import GraphBatch  # noqa: E402
from loops.checkpointing import write_json_atomic  # noqa: E402

KIND = "graphs"
Task = Literal["graph", "node"]
TASKS = typing.get_args(Task)
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of the graph experiments."""

    task: Task = "graph"
    """graph: classify one patch graph per image; node: label the nodes
    of one k-NN graph over all images from a few labelled ones."""
    dataset: str = "digits"
    """digits (offline, bundled), idx:DIR (local MNIST IDX files) or a
    tensorflow-datasets name."""
    models: tuple = ("mlp", "gcn", "gat")
    """Models to compare, comma-separated: mlp, gcn, gat, mpnn."""
    patch_size: int = 0
    """graph task: P, the patch side (0: image height // 7, i.e. 4 on
    MNIST and 1 on digits)."""
    k: int = 8
    """graph task: each patch's nearest patches joined to it."""
    hidden: int = 64
    """Width of the node layers."""
    num_layers: int = 3
    """graph task: node layers before the readout (node task: 2)."""
    heads: int = 4
    """GAT heads (each hidden // heads wide)."""
    readout: Literal["mean", "sum"] = "mean"
    """graph task: pooling of each graph's nodes."""
    epochs: int = 10
    """graph task: passes over the training graphs."""
    batch_size: int = 64
    """graph task: graphs per batch."""
    learning_rate: float = 3e-3
    """graph task: Adam step size (node task: 0.01, as Kipf and Welling)."""
    pca_dim: int = 50
    """node task: PCA components of the pixels as node features."""
    node_k: int = 10
    """node task: neighbours of each image in the k-NN graph."""
    labels_per_class: int = 10
    """node task: labelled training images per class."""
    node_steps: int = 200
    """node task: full-graph training steps."""
    seeds: int = 1
    """Runs per model, with seeds seed, seed + 1, ... (node task: a new
    draw of the labelled nodes each)."""
    seed: int = 0
    """Seeds initialization, batch order and the labelled nodes."""
    verbose: int = 0
    """0 silent, 1 progress bar, 2 one line per epoch."""

    def __post_init__(self):
        checks.choice("task", self.task, TASKS)
        models = tuple(self.models)
        if not models or any(m not in graph_models.KINDS for m in models):
            raise ValueError(
                f"models={','.join(models)!r}; expected a comma-separated "
                f"list of {', '.join(graph_models.KINDS)}"
            )
        object.__setattr__(self, "models", models)
        checks.integer("patch_size", self.patch_size, 0)
        for name in (
            "k", "hidden", "num_layers", "heads", "epochs", "batch_size",
            "pca_dim", "node_k", "labels_per_class", "node_steps", "seeds",
        ):  # fmt: skip
            checks.integer(name, getattr(self, name), 1)
        if "gat" in models and self.hidden % self.heads:
            raise ValueError(
                f"hidden={self.hidden} with heads={self.heads}; expected "
                "hidden divisible by heads (GAT concatenates its heads)"
            )
        checks.above("learning_rate", self.learning_rate)
        checks.choice("readout", self.readout, ("mean", "sum"))


def train_and_evaluate(config: Config, workdir="", *, restart=False) -> dict:
    """Runs --task for each model and seed.

    Returns (and writes to workdir/metrics.json) {"model_dir", "config",
    "task", "results": {model: {"accuracy" (mean over seeds),
    "accuracies", ...}}, "pictures": [PNG names]}.
    """
    workdir = rundir.open_run(workdir, KIND, config, restart=restart)
    train, test, info = data_lib.load_splits(config.dataset)
    run = _graph_task if config.task == "graph" else _node_task
    results, pictures_written = run(config, train, test, info, workdir)
    bars = pictures.accuracy_bars(
        [results[m]["accuracy"] for m in config.models]
    )
    images.save_png(workdir / "accuracy.png", bars)
    result = {
        "model_dir": str(workdir),
        "config": dataclasses.asdict(config),
        "task": config.task,
        "results": results,
        "pictures": [*pictures_written, "accuracy.png"],
    }
    write_json_atomic(workdir / "metrics.json", result)
    return result


def _graph_task(config, train, test, info, workdir):
    p = config.patch_size or max(1, info.image_shape[0] // 7)
    train_g = graph_data.patch_graphs(train.x, train.y, p, config.k)
    test_g = graph_data.patch_graphs(test.x, test.y, p, config.k)
    results = {}
    for kind in config.models:
        runs = []
        for s in range(config.seed, config.seed + config.seeds):
            runs.append(_graph_run(config, kind, s, train_g, test_g, info,
                                   workdir / f"{kind}_seed_{s}"))  # fmt: skip
        results[kind] = _summed(runs)
        results[kind]["nodes_per_graph"] = float(
            np.mean(np.diff(train_g.node_splits))
        )
    written = ["graph_examples.png"]
    examples = [
        pictures.draw_graph(*test_g.graph(g))
        for g in range(min(8, len(test_g)))
    ]
    images.save_png(workdir / written[0], raster.side_by_side(examples, gap=8))
    if "gat" in config.models:
        model = results["gat"].pop("_model")
        images.save_png(
            workdir / "gat_attention.png", _attention_picture(model, test_g)
        )
        written.append("gat_attention.png")
    for r in results.values():
        r.pop("_model", None)
    return results, written


def _graph_run(config, kind, seed, train_g, test_g, info, run_dir):
    loops.seed_everything(seed)
    model = graph_models.GraphNet(
        kind, info.num_classes, config.hidden, config.num_layers,
        config.heads, config.readout,
    )  # fmt: skip
    model(next(iter(test_g.dataset(2)))[0])  # builds the variables
    loss, metrics = classification.loss(), classification.metrics()
    history = loops.fit(
        model,
        keras.optimizers.Adam(config.learning_rate),
        graph_models.graph_task(loss, metrics),
        lambda epoch, skip: train_g.dataset(
            config.batch_size, seed * 1000 + epoch
        ).skip(skip),
        validation_data=test_g.dataset(256),
        options=loops.LoopOptions(
            epochs=config.epochs, seed=seed, jit_compile=False,
            verbose=config.verbose,
        ),
        model_dir=run_dir,
    )  # fmt: skip
    return {
        "accuracy": history["val_accuracy"][-1],
        "train_accuracy": history["accuracy"][-1],
        "seconds_per_epoch": float(np.mean(history["epoch_seconds"])),
        "history": history,
        "_model": model,
    }


def _summed(runs):
    accs = [r["accuracy"] for r in runs]
    out = {
        "accuracy": float(np.mean(accs)),
        "accuracy_std": float(np.std(accs)),
        "accuracies": accs,
        "runs": [{k: v for k, v in r.items() if k != "_model"} for r in runs],
    }
    if "_model" in runs[-1]:
        out["_model"] = runs[-1]["_model"]
    return out


def _attention_picture(model, test_g, count=4):
    """GAT's first layer, head-averaged attention on a few test graphs:
    the darker the red, the more a node attends to that neighbour."""
    layer = model.node_layers[0]
    out = []
    for g in range(min(count, len(test_g))):
        nodes, edges = test_g.graph(g)
        full, alpha = layer.attention(model.embed(nodes), edges)
        weights = np.asarray(alpha).mean(axis=1)
        weights = weights / weights.max()  # the strongest edge darkest
        out.append(
            pictures.draw_graph(nodes, np.asarray(full), edge_weights=weights)
        )
    return raster.side_by_side(out, gap=8)


def _node_task(config, train, test, info, workdir):
    x = np.concatenate([train.x, test.x])
    y = np.concatenate([train.y, test.y]).astype(np.int32)
    features = graph_data.pca_features(x, config.pca_dim)
    edges = graph_data.knn_graph(features, config.node_k)
    graph = GraphBatch(features, edges, np.zeros(len(x), np.int32), np.int32(1))
    test_nodes = np.arange(len(train.y), len(y))
    same = y[edges[0]] == y[edges[1]]
    results = {}
    for kind in config.models:
        runs = []
        for s in range(config.seed, config.seed + config.seeds):
            labelled = graph_data.labelled_subset(
                train.y, config.labels_per_class, s
            )
            runs.append(_node_run(config, kind, s, graph, y, labelled,
                                  test_nodes, info,
                                  workdir / f"{kind}_seed_{s}"))  # fmt: skip
        results[kind] = _summed(runs)
        results[kind]["edges"] = int(edges.shape[1])
        results[kind]["edge_homophily"] = float(same.mean())
    return results, []


def _node_run(config, kind, seed, graph, y, labelled, test_nodes, info,
              run_dir):  # fmt: skip
    loops.seed_everything(seed)
    model = graph_models.GraphNet(
        kind, info.num_classes, config.hidden, num_layers=2,
        heads=config.heads, readout=None, dropout=0.5,
    )  # fmt: skip
    tensors = GraphBatch(*(tf.convert_to_tensor(t) for t in graph))
    model(tensors)  # builds the variables
    loss, metrics = classification.loss(), classification.metrics()
    batch = (tensors, labelled.astype(np.int32), y[labelled])
    history = loops.fit(
        model,
        keras.optimizers.AdamW(0.01, weight_decay=5e-4),
        graph_models.node_task(loss, metrics),
        tf.data.Dataset.from_tensors(batch).repeat(config.node_steps),
        options=loops.LoopOptions(
            epochs=1, seed=seed, jit_compile=False, verbose=config.verbose
        ),
        model_dir=run_dir,
    )
    predicted = np.argmax(np.asarray(model(tensors, training=False)), -1)
    unlabelled = np.setdiff1d(np.arange(test_nodes[0]), labelled)
    return {
        "accuracy": float(np.mean(predicted[test_nodes] == y[test_nodes])),
        "unlabelled_train_accuracy": float(
            np.mean(predicted[unlabelled] == y[unlabelled])
        ),
        # training accuracy on the labelled nodes, over all steps (dropout on)
        "labelled_accuracy": history["accuracy"][-1],
        "num_labelled": len(labelled),
    }


def summary(result) -> str:
    """One line per model: test accuracy (mean +- std over seeds)."""
    what = (
        "graph classification, test graphs"
        if result["task"] == "graph"
        else "node classification, test-split nodes (unlabelled)"
    )
    lines = [f"{what}:"]
    for kind, r in result["results"].items():
        n = len(r["accuracies"])
        spread = f" +- {r['accuracy_std']:.4f} over {n} seeds" if n > 1 else ""
        lines.append(f"  {kind}: accuracy {r['accuracy']:.4f}{spread}")
    return "\n".join(lines)


def main(argv):
    del argv
    config = config_flags.parse(Config)
    result = train_and_evaluate(config, FLAGS.model_dir, restart=FLAGS.restart)
    print(summary(result))


if __name__ == "__main__":
    config_flags.define(Config)
    cli.run(main)
