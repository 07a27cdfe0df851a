r"""The Vision Transformer (section 7.5) for `experiments.train`, with
attention rollout maps (section 9.3).

    python -m experiments.train --model=vit \
        --dataset=idx:../shared/data/mnist --epochs=20

8,000 training images are little data for a transformer, which has none
of a CNN's built-in locality: the defaults are a small ViT (4x4 patches:
49 tokens of width 64, 4 blocks of 4 heads, mean pooling, 0.14 M weights)
trained with what ViTs need on small data: random shifts and rotations
inside the model (training only), AdamW with weight decay, and a
learning rate warmed up linearly then decayed on a cosine to 0 over the
run (`keras_cheats.schedules`, so the schedule follows --epochs).

Options (`--set`, defaults in `OPTIONS`): the `ViTConfig` fields
patch_size, dim, depth, heads, mlp_dim, dropout, pooling (cls|mean),
shift (fraction of the image side) and rotation (fraction of a turn);
weight_decay (AdamW's), warmup_epochs. The `--learning_rate` flag is the
peak rate (default 2e-3); --optimizer, --lr_schedule and --warmup_steps
do not apply (this model makes its own AdamW).

Run directory: `attention_rollout.png`: 16 test digits (rows 1 and 4),
their rollout maps (rows 2 and 5; black to white: least to most relevant
patch of that image) and the maps under the digits' strokes, drawn in
cyan (rows 3 and 6). Extra test metrics: `parameters`,
`rollout_on_ink` (mean share of the rollout on patches with ink, over
the first 500 test images) and `ink_patches` (the share of patches with
ink: what a uniform map would give).
"""

import dataclasses
import pathlib

import keras
import numpy as np

from experiments import classifier_report, images
from experiments.registry import ModelSpec, register
from experiments.zoo.classifiers import accuracy, classification_loss
from keras_cheats import checks
from keras_cheats.models.attention_rollout import vit_rollout_maps
from keras_cheats.models.vit import ViTConfig, build_vit
from keras_cheats.schedules import learning_rate_schedule

OPTIONS = {
    **{
        k: v
        for k, v in dataclasses.asdict(ViTConfig()).items()
        if k not in ("shift", "rotation")
    },
    "shift": 0.08,
    "rotation": 0.03,
    "weight_decay": 0.05,
    "warmup_epochs": 2,
}
INK = 0.1  # a pixel above this is ink; a patch with one holds ink
SHOWN = 16  # test digits in attention_rollout.png
SCORED = 500  # test images of the rollout metrics
ZOOM = 4  # pixels per image pixel in the PNG


def vit_options(config):
    """The `--set` options of `--model=vit`, defaults filled in; the
    `ViTConfig` checks its own fields."""
    options = {**OPTIONS, **config.options}
    for name in ("weight_decay", "warmup_epochs"):
        checks.at_least(f"--set {name}", options[name], 0)
    return options


def vit_config(config):
    """The `ViTConfig` of a run's `--set` options."""
    options = vit_options(config)
    fields = {f.name for f in dataclasses.fields(ViTConfig)}
    return ViTConfig(**{k: v for k, v in options.items() if k in fields})


def _build(info, config):
    return build_vit(info.image_shape, info.num_classes, vit_config(config))


def vit_optimizer(model, config, steps_per_epoch):
    """AdamW at `--learning_rate`, warmed up for `warmup_epochs` then
    decayed on a cosine to 0 at the end of the run; no weight decay on
    biases, LayerNorm scales and offsets, the class token and the
    position embedding."""
    options = vit_options(config)
    total = config.epochs * steps_per_epoch
    warmup = min(
        round(options["warmup_epochs"] * total / config.epochs), total - 1
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(
            "cosine", config.learning_rate, total, warmup_steps=warmup
        ),
        weight_decay=options["weight_decay"],
    )
    optimizer.exclude_from_weight_decay(
        var_list=[
            v
            for v in model.trainable_variables
            if len(v.shape) < 2
            or v.name in ("class_token", "position_embedding")
        ]
    )
    return optimizer


def heat(maps):
    """(B, H, W) in [0, 1] -> (B, H, W, 3), black-red-yellow-white."""
    m = np.asarray(maps, np.float32)[..., None]
    return np.clip(3 * m - np.array([0.0, 1.0, 2.0], np.float32), 0, 1)


def rollout_figure(x, maps, columns=8):
    """Rows of `columns` digits, their heat maps (each stretched to its own
    min..max), and the maps with the digit's strokes drawn in cyan."""
    gray = np.repeat(np.clip(x, 0, 1), 3 // x.shape[-1], axis=-1)
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    hot = heat((maps - low) / np.where(span > 0, span, 1.0))
    ink = gray.mean(axis=-1, keepdims=True)
    over = hot * (1 - ink) + ink * np.array([0.3, 0.9, 1.0], np.float32)
    rows = []
    for i in range(0, len(x), columns):
        part = slice(i, i + columns)
        rows += [gray[part], hot[part], over[part]]
    grid = images.grid(np.concatenate(rows), columns)
    return grid.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1)


def ink_scores(x, maps, patch_size):
    """(mean share of each map on patches with ink, share of such
    patches): the second is what a uniform map would score."""
    b, h, w, _ = x.shape
    p = patch_size
    ink = x.max(axis=-1).reshape(b, h // p, p, w // p, p).max(axis=(2, 4))
    ink = ink > INK
    relevance = maps[:, ::p, ::p]  # one value per patch
    share = (relevance * ink).sum((1, 2)) / relevance.sum((1, 2))
    return float(share.mean()), float(ink.mean())


def after_training(model, data, run_dir, config):
    """Writes attention_rollout.png; returns the rollout metrics."""
    x = data.test.split.x[:SCORED]
    maps = vit_rollout_maps(model, x)
    grid = rollout_figure(x[:SHOWN], maps[:SHOWN])
    images.save_png(pathlib.Path(run_dir) / "attention_rollout.png", grid)
    images.summary_image(run_dir, "attention_rollout", grid)
    on_ink, ink = ink_scores(x, maps, model.config.patch_size)
    return {
        "parameters": float(model.count_params()),
        "rollout_on_ink": on_ink,
        "ink_patches": ink,
    }


register(
    "vit",
    ModelSpec(
        section="7.5",
        description="Vision Transformer: 4x4 patches, 4 pre-norm blocks, "
        "AdamW, warm-up + cosine; attention rollout maps (9.3) (--set "
        "patch_size, dim, depth, heads, mlp_dim, dropout, pooling, shift, "
        "rotation, weight_decay, warmup_epochs)",
        build=_build,
        loss=classification_loss,
        metrics=accuracy,
        optimizer=vit_optimizer,
        after_training=classifier_report.composed(
            classifier_report.after_training, after_training
        ),
        options=tuple(OPTIONS),
        learning_rate=2e-3,
    ),
)
