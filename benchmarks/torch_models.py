"""PyTorch twins of four Keras workloads, trained with the cheat sheet's loop.

The benchmark comparing our TensorFlow loop with PyTorch needs the same
models on both sides. Each twin has exactly the architecture and parameter
count of the Keras model `experiments.registry` builds (the tests check the
counts); the weights and their initialization need not match.

    "mlp"      7.1     784-128-10, ReLU, logits; cross-entropy
    "cnn"      7.3.1   conv 3x3 32 / 64 "same" + ReLU + 2x2 max pooling,
                       dense 128, dropout 0.25, 10 logits; cross-entropy
    "capsnet"  7.3.2   CapsNetConfig.small(): conv 9x9 64, primary capsules
                       8 x 8-D, digit capsules 10 x 16-D routed by
                       agreement (3 iterations), masking, decoder
                       512-1024-784; margin loss + 0.0005 x SSE
    "vae"      7.4.2   784-128, mean and log-variance heads of 20,
                       decoder 20-128-784; SSE of sigmoid(logits) + KL

Training follows cheat sheet section 2.3:

    optimizer.zero_grad()
    predictions = model(batch_x)
    loss = loss_fn(predictions, batch_y)
    loss.backward()
    optimizer.step()

The cheat sheet's example ends the model in `torch.nn.Softmax` before
`CrossEntropyLoss`, which applies (log-)softmax itself, so softmax is
applied twice; our twins output logits, as the Keras models
(output_activation=None) do.

Images arrive as float32 NHWC numpy arrays (the Keras layout) and are
converted once to NCHW tensors. The CNN's flatten therefore sees the
features in (C, H, W) order instead of Keras' (H, W, C): a permutation of
the dense layer's inputs, with the same parameter count.

This module imports neither Keras nor TensorFlow.
"""

import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

WORKLOADS = ("mlp", "cnn", "capsnet", "vae")
RECONSTRUCTION_WEIGHT = 0.0005  # keras_cheats.models.capsnet


def count_params(module):
    """Number of trainable parameters (Keras' `count_params` here)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --- MLP (7.1) and CNN (7.3.1) ---------------------------------------------


def _mlp(image_shape, num_classes):
    """Flatten, Dense 128 ReLU, Dense logits (cheat sheet 7.1, 2.3)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(image_shape), 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def _cnn(image_shape, num_classes):
    """`keras_cheats.models.cnn` defaults with logits (cheat sheet 7.3.1).

    Per block: 3x3 "same" convolution + ReLU, then 2x2 max pooling unless
    the map is already smaller than the window (as on the Keras side).
    """
    height, width, channels = image_shape
    layers = []
    for filters in (32, 64):
        layers += [nn.Conv2d(channels, filters, 3, padding="same"), nn.ReLU()]
        channels = filters
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
    layers += [
        nn.Flatten(),  # (C, H, W) order; Keras flattens (H, W, C)
        nn.Linear(channels * height * width, 128),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(128, num_classes),
    ]
    return nn.Sequential(*layers)


def _classification_loss(module, x, y):
    """Mean cross-entropy of the logits (cheat sheet 2.3, without the
    extra softmax)."""
    return F.cross_entropy(module(x), y)


# --- capsule network (7.3.2) -----------------------------------------------


def safe_norm(s, dim=-1, keepdim=False):
    """||s|| with value and gradient 0 at s = 0 (as `layers.squash`)."""
    squared = torch.sum(s * s, dim=dim, keepdim=keepdim)
    positive = squared > 0
    safe = torch.where(positive, squared, torch.ones_like(squared))
    return torch.where(positive, torch.sqrt(safe), torch.zeros_like(squared))


def squash(s, dim=-1):
    """v = ||s||^2 / (1 + ||s||^2) * s / ||s||, as s ||s|| / (1 + ||s||^2)."""
    norm = safe_norm(s, dim=dim, keepdim=True)
    return s * (norm / (1.0 + norm * norm))


def routing_by_agreement(u_hat, iterations=3):
    """Routing by agreement, batched over all (i, j) (cheat sheet 7.3.2).

    c_ij = softmax_j(b_ij), s_j = sum_i c_ij u_hat_{j|i}, v_j = squash(s_j),
    b_ij += u_hat_{j|i} . v_j. As `keras_cheats.layers.routing` with
    stop_gradient=True: only the last iteration sees the gradient of
    u_hat. The only Python loop runs over the routing iterations.

    Args:
        u_hat: prediction vectors (B, N_in, N_out, D_out).

    Returns:
        v: (B, N_out, D_out).
    """
    u_route = u_hat.detach()
    b = torch.zeros_like(u_hat[..., 0])  # (B, N_in, N_out)
    v = None
    for r in range(iterations):
        last = r == iterations - 1
        c = torch.softmax(b, dim=2)  # over the upper capsules j
        s = torch.einsum("bij,bijd->bjd", c, u_hat if last else u_route)
        v = squash(s)
        if not last:
            b = b + torch.einsum("bijd,bjd->bij", u_route, v)
    return v


class CapsNet(nn.Module):
    """`build_capsnet(..., CapsNetConfig.small())` (cheat sheet 7.3.2).

    conv1 9x9 64 ReLU -> primary capsules (9x9 stride-2 convolution with
    8 x 8 filters, squashed) -> digit capsules (W: N_in x 10 x 8 x 16, no
    bias) -> lengths; the decoder reconstructs the image from the capsule
    of the label (training) or the longest one.

    Call: `module(x, one_hot=None)` with x (B, C, H, W), returns
    {"lengths": (B, K), "reconstruction": (B, C, H, W)}.
    """

    def __init__(
        self,
        image_shape,
        num_classes,
        conv_filters=64,
        primary_channels=8,
        primary_dim=8,
        digit_dim=16,
        routing_iterations=3,
        decoder_units=(512, 1024),
    ):
        super().__init__()
        height, width, channels = image_shape
        self.image_shape = (channels, height, width)
        self.num_classes = num_classes
        self.primary_dim = primary_dim
        self.routing_iterations = routing_iterations
        self.conv1 = nn.Conv2d(channels, conv_filters, 9)
        self.primary = nn.Conv2d(
            conv_filters, primary_channels * primary_dim, 9, stride=2
        )
        side = [(n - 8 - 9) // 2 + 1 for n in (height, width)]
        n_in = side[0] * side[1] * primary_channels
        # W_ij for every pair (i, j); glorot uniform with Keras' fans.
        fan = n_in * num_classes
        limit = math.sqrt(6.0 / (fan * (primary_dim + digit_dim)))
        self.digit_weights = nn.Parameter(
            torch.empty(n_in, num_classes, primary_dim, digit_dim).uniform_(
                -limit, limit
            )
        )
        layers, units = [nn.Flatten()], num_classes * digit_dim
        for n in decoder_units:
            layers += [nn.Linear(units, n), nn.ReLU()]
            units = n
        layers += [nn.Linear(units, math.prod(image_shape)), nn.Sigmoid()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x, one_hot=None):
        x = F.relu(self.conv1(x))
        x = self.primary(x)  # (B, channels * dim, H', W')
        # Keras groups consecutive channels of the NHWC map into capsules.
        x = x.permute(0, 2, 3, 1).reshape(len(x), -1, self.primary_dim)
        u = squash(x)  # (B, N_in, D_in)
        u_hat = torch.einsum("bid,ijde->bije", u, self.digit_weights)
        v = routing_by_agreement(u_hat, self.routing_iterations)
        lengths = safe_norm(v)  # (B, K)
        if self.training and one_hot is not None:
            mask = one_hot.to(v.dtype)
        else:
            mask = F.one_hot(lengths.argmax(-1), self.num_classes).to(v.dtype)
        reconstruction = self.decoder(v * mask[..., None])
        return {
            "lengths": lengths,
            "reconstruction": reconstruction.view(-1, *self.image_shape),
        }


def _capsnet_loss(module, x, y):
    """Mean of margin loss + 0.0005 x SSE (`capsnet_loss`, 7.3.2).

    L = sum_k T_k max(0, 0.9 - ||v_k||)^2
        + 0.5 (1 - T_k) max(0, ||v_k|| - 0.1)^2
        + 0.0005 sum_pixels (reconstruction - x)^2
    """
    one_hot = F.one_hot(y, module.num_classes).to(x.dtype)
    out = module(x, one_hot)
    lengths = out["lengths"]
    present = one_hot * F.relu(0.9 - lengths) ** 2
    absent = (1.0 - one_hot) * F.relu(lengths - 0.1) ** 2
    margin = torch.sum(present + 0.5 * absent, dim=-1)
    error = (out["reconstruction"] - x).flatten(1)
    sse = torch.sum(error * error, dim=-1)
    return torch.mean(margin + RECONSTRUCTION_WEIGHT * sse)


# --- variational autoencoder (7.4.2) ---------------------------------------


class VAE(nn.Module):
    """`build_vae` with VAEConfig(kind="mlp") defaults (cheat sheet 7.4.2).

    mu, log sigma^2 = f(x) (784-128, two heads of 20);
    z = mu + sigma * eps; x' = sigmoid(g(z)) (20-128-784).

    Call: `module(x)` with x (B, C, H, W), returns {"reconstruction",
    "mean", "log_var"}.
    """

    def __init__(self, image_shape, latent_dim=20, hidden=128):
        super().__init__()
        height, width, channels = image_shape
        self.image_shape = (channels, height, width)
        pixels = math.prod(image_shape)
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU()
        )
        self.mean = nn.Linear(hidden, latent_dim)
        self.log_var = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, pixels)
        )

    def forward(self, x):
        features = self.encoder(x)
        mean, log_var = self.mean(features), self.log_var(features)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.decoder(z).view(-1, *self.image_shape)
        return {
            "reconstruction": torch.sigmoid(logits),
            "mean": mean,
            "log_var": log_var,
        }


def _vae_loss(module, x, y, beta=1.0):
    """Mean of ||x - x'||^2 + beta KL (`VAELoss(1.0, "mse")`, 7.4.2).

    Per image, summed over pixels and latent dimensions:
    sum_p (x_p - x'_p)^2 - 1/2 sum_j (1 + log s_j^2 - mu_j^2 - s_j^2).
    The labels y are not used.
    """
    out = module(x)
    error = (x - out["reconstruction"]).flatten(1)
    recon = torch.sum(error * error, dim=-1)
    mean, log_var = out["mean"], out["log_var"]
    kl = -0.5 * torch.sum(1.0 + log_var - mean * mean - log_var.exp(), -1)
    return torch.mean(recon + beta * kl)


# --- building and training (2.3) -------------------------------------------


def build(workload, image_shape=(28, 28, 1), num_classes=10):
    """(module, loss_fn) of one workload.

    Args:
        workload: one of WORKLOADS.
        image_shape: (H, W, C), the Keras layout.
        num_classes: number of classes.

    Returns:
        `module`, and `loss_fn(module, x, y) -> scalar`, the mean over the
        batch of the Keras loss, with x (B, C, H, W) float32 and y int64
        labels (capsnet one-hot encodes them; the VAE ignores them).
    """
    image_shape = tuple(image_shape)
    if workload == "mlp":
        return _mlp(image_shape, num_classes), _classification_loss
    if workload == "cnn":
        return _cnn(image_shape, num_classes), _classification_loss
    if workload == "capsnet":
        return CapsNet(image_shape, num_classes), _capsnet_loss
    if workload == "vae":
        return VAE(image_shape), _vae_loss
    raise ValueError(
        f"`workload` must be one of {list(WORKLOADS)}; "
        f"received workload={workload!r}."
    )


def adam(module):
    """Adam with Keras' defaults: lr 1e-3, betas 0.9 / 0.999, eps 1e-7."""
    return torch.optim.Adam(
        module.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7
    )


def train_step(module, loss_fn, optimizer, batch_x, batch_y):
    """One step of the cheat sheet's loop (2.3); returns the loss tensor."""
    optimizer.zero_grad()
    loss = loss_fn(module, batch_x, batch_y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def to_tensors(x, y):
    """NHWC float32 numpy images and int labels -> NCHW and int64 tensors."""
    images = torch.from_numpy(np.asarray(x, np.float32))
    labels = torch.from_numpy(np.asarray(y, np.int64))
    return images.permute(0, 3, 1, 2).contiguous(), labels


def train(
    workload,
    x,
    y,
    *,
    batch_size=128,
    epochs=2,
    seed=0,
    threads=None,
    num_classes=10,
):
    """Trains a fresh twin; returns the seconds of each epoch.

    Each epoch visits the examples in a new `torch.randperm` order, in
    batches sliced from the tensors (no DataLoader), the last partial
    batch included, with the model in training mode (dropout on,
    capsule masking by the label).

    Args:
        workload: one of WORKLOADS.
        x: float32 images (N, H, W, C) in [0, 1].
        y: int labels (N,).
        batch_size, epochs: as for `model.fit`.
        seed: seeds torch (initial weights, order, dropout, sampling).
        threads: if given, `torch.set_num_threads(threads)` (process-wide).
        num_classes: output classes (fixed, not read from the labels, so
            that the model is the Keras one whatever labels a batch has).

    Returns:
        list of `epochs` floats: wall-clock seconds per epoch.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    module, loss_fn = build(workload, np.shape(x)[1:], num_classes)
    x, y = to_tensors(x, y)
    optimizer = adam(module)
    module.train()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            train_step(module, loss_fn, optimizer, x[idx], y[idx])
        seconds.append(time.perf_counter() - start)
    return seconds
