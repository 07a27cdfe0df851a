"""SHAP (Cheat sheet 9.1) and LIME (9.2) maps through their packages.

Both need the `explain` extra (shap, lime), imported inside the functions.

- SHAP values phi_i: the Shapley values of the game "features in S are
  present", phi_i = sum_{S without i} |S|! (M - |S| - 1)! / M!
  (f(S + i) - f(S)), with sum_i phi_i = f(x) - E[f(background)].
  `shap_gradient` estimates them by expected gradients
  (shap.GradientExplainer: E_{x' ~ background, a ~ U(0, 1)}
  [(x - x') d f_c(x' + a (x - x')) / d x]); `shap_deep` by DeepLIFT
  multipliers averaged over the background (shap.DeepExplainer).
- LIME: a linear model g(z) = w0 + sum_k w_k z_k fitted to f_c on random
  on/off masks z of K superpixels, weighted by their closeness to the
  image; w_k is the attribution of superpixel k. Here the superpixels are
  a grid of patch x patch squares, so every pixel of a square gets w_k.
"""

import numpy as np


def _pick(values, target):
    """(B, *S) attributions of the target class from shap's (B, *S, K)."""
    values = np.asarray(values)
    target = np.broadcast_to(np.asarray(target), (len(values),))
    return np.stack([v[..., t] for v, t in zip(values, target)])


def shap_gradient(model, x, target, background, samples=100, seed=0):
    """SHAP values by expected gradients (shap.GradientExplainer).

    Args:
        model: Keras model (B, *S) -> (B, K).
        x: (B, *S) inputs.
        target: class index, an int or (B,) ints.
        background: (N, *S) reference inputs (e.g. training images).
        samples: (background, a) draws per input.
        seed: seeds the draws.

    Returns:
        (B, *S) float array; summed, about f_c(x) - E[f_c(background)].
    """
    import shap

    explainer = shap.GradientExplainer(model, np.asarray(background))
    values = explainer.shap_values(
        np.asarray(x, np.float32), nsamples=samples, rseed=seed
    )
    return _pick(values, target)


def shap_deep(model, x, target, background):
    """SHAP values by DeepLIFT over a background (shap.DeepExplainer);
    same arguments and shape as `shap_gradient`, sums to
    f_c(x) - E[f_c(background)] (shap checks it)."""
    import shap

    explainer = shap.DeepExplainer(model, np.asarray(background))
    return _pick(explainer.shap_values(np.asarray(x, np.float32)), target)


def grid_segments(height, width, patch):
    """(H, W) superpixel ids: squares of patch x patch pixels, row-major."""
    rows, cols = np.mgrid[:height, :width]
    per_row = -(-width // patch)
    return (rows // patch) * per_row + cols // patch


def lime_map(predict, x, target, patch=4, samples=300, seed=0):
    """LIME attributions (lime.lime_image) spread over the pixels.

    Args:
        predict: callable (N, H, W, C) -> (N, K) class probabilities.
        x: (B, H, W, C) images, C = 1 or 3.
        target: class index, an int or (B,) ints.
        patch: side of the square superpixels.
        samples: masked copies the linear model is fitted on.
        seed: seeds the masks.

    Returns:
        (B, H, W) float array: the weight w_k of each pixel's superpixel.
    """
    from lime import lime_image

    x = np.asarray(x, np.float32)
    b, h, w, c = x.shape
    target = np.broadcast_to(np.asarray(target), (b,))
    segments = grid_segments(h, w, patch)
    out = np.zeros((b, h, w))
    for i in range(b):
        explainer = lime_image.LimeImageExplainer(random_state=seed)
        image = np.repeat(x[i], 3, axis=-1) if c == 1 else x[i]

        def classifier(batch, c=c):  # lime hands (N, H, W, 3) doubles
            return np.asarray(predict(batch[..., :c].astype(np.float32)))

        explanation = explainer.explain_instance(
            image.astype(np.float64),
            classifier,
            labels=(int(target[i]),),
            top_labels=None,
            hide_color=0,
            num_samples=samples,
            batch_size=samples,
            segmentation_fn=lambda _: segments,
            random_seed=seed,
        )
        for k, weight in explanation.local_exp[int(target[i])]:
            out[i][segments == k] = weight
    return out
