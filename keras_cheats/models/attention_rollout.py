"""Attention rollout of Abnar and Zuidema 2020 (Cheat sheet 9.3, attention
visualization).

One block's attention says which tokens of the layer below each token
mixes in; through L blocks and their residual connections, what reaches
the output is the product of the blocks' mixing matrices:

    A_l = mean over heads of block l's weights              (T, T)
    Â_l = (A_l + I) / row sums       the residual path: half the token
                                     itself, half what it attends to
    R = Â_L Â_{L-1} ... Â_1          R[t, s]: share of input token s in
                                     output token t

The relevance of the image patches is then the row of the token the head
classifies, R[0, 1:] (class token, "cls" pooling), or the mean of the rows
of all tokens ("mean" pooling); reshaped to the patch grid and repeated
over each patch's pixels, it is a map the size of the image.
"""

import numpy as np
from keras import ops


def attention_rollout(weights, pooling="cls"):
    """Patch relevance by attention rollout (Cheat sheet 9.3).

        R = Â_L ... Â_1,  Â_l = (mean_heads A_l + I) / row sums
        cls:  r = R[0, 1:]         mean:  r = (1/T) sum_t R[t, :]

    Args:
        weights: a sequence of L attention tensors (B, h, T, T), first
            block first, rows summing to 1 (as
            `VisionTransformer.attention_weights` returns them).
        pooling: "cls" (token 0 is the class token, T = N + 1) or "mean"
            (all T = N tokens are patches).

    Returns:
        NumPy float32 (B, N): the rolled-out attention of the classified
        token (or the tokens' mean) on each of the N patches; row sums
        are <= 1 ("cls": the rest stays on the class token) or 1 ("mean").
    """
    if pooling not in ("cls", "mean"):
        raise ValueError(
            f"`pooling` must be one of ['cls', 'mean']; received "
            f"pooling={pooling!r}."
        )
    if len(weights) == 0:
        raise ValueError("`weights` must hold at least one block's weights.")
    rollout = None
    for w in weights:
        a = ops.mean(ops.cast(w, "float32"), axis=1)  # (B, T, T)
        a = a + ops.eye(a.shape[-1], dtype="float32")
        a = a / ops.sum(a, axis=-1, keepdims=True)
        rollout = a if rollout is None else ops.matmul(a, rollout)
    if pooling == "cls":
        relevance = rollout[:, 0, 1:]
    else:
        relevance = ops.mean(rollout, axis=1)
    return np.asarray(ops.convert_to_numpy(relevance), np.float32)


def rollout_maps(relevance, grid_shape, patch_size):
    """Patch relevances as images: (B, N) -> (B, rows * P, columns * P).

    Each patch's value fills its P x P pixels (patches row by row, as
    `PatchEmbedding` numbers them); each map is divided by its maximum so
    that it lies in [0, 1].

    Args:
        relevance: (B, N) with N = rows * columns.
        grid_shape: (rows, columns) of the patch grid.
        patch_size: P.
    """
    relevance = np.asarray(relevance, np.float32)
    rows, columns = grid_shape
    if relevance.ndim != 2 or relevance.shape[1] != rows * columns:
        raise ValueError(
            f"relevance of shape {relevance.shape}; expected (B, "
            f"{rows * columns}) for a {rows} x {columns} patch grid"
        )
    grid = relevance.reshape(-1, rows, columns)
    maps = grid.repeat(patch_size, axis=1).repeat(patch_size, axis=2)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(peak > 0, peak, 1.0)


def vit_rollout_maps(model, images, batch_size=256):
    """Rollout maps (B, H, W) in [0, 1] of a `VisionTransformer`'s
    classified token over `images` (B, H, W, C), in batches."""
    p = model.config.patch_size
    grid = (model.image_shape[0] // p, model.image_shape[1] // p)
    maps = [
        rollout_maps(
            attention_rollout(
                model.attention_weights(images[i : i + batch_size]),
                model.config.pooling,
            ),
            grid,
            p,
        )
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(maps)
