r"""How good are generated digits? One CNN judge for every generative model.

A small CNN "judge" is trained on the real training split
(`train_judge`, the same recipe and seed for every model, so the DCGAN
and the DDPM are scored by the same classifier), then classifies N
generated images; from its probabilities p(y|x):

- `classifier_score`: exp(E_x KL(p(y|x) || p(y))), p(y) = E_x p(y|x)
  (Salimans et al. 2016's Inception score with an MNIST classifier), in
  [1, K]: high when the samples are confidently classified (sharp
  p(y|x)) and of every class (broad p(y));
- `confident_share`: the share of samples whose max_y p(y|x) > 0.9,
  i.e. that the judge reads as one digit;
- `class_histogram`: the share of samples assigned (argmax) to each class,
  and `histogram_entropy` its entropy -sum_k h_k log h_k in nats, in
  [0, log K]: log 10 = 2.303 when every digit is generated equally often,
  0 for a single digit (mode collapse).

`judge_report` gives them all, with the same figures of the real test
images beside (the values to compare with) and the judge's accuracy.
"""

import keras
import numpy as np
import tensorflow as tf

import loops
from experiments import classification
from experiments.data import Pipeline
from keras_cheats.models import cnn

CONFIDENCE = 0.9  # max_y p(y|x) above which a sample counts as confident


def _check(probabilities):
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(
            f"probabilities of shape {p.shape}; expected (N, K) with N >= 1"
        )
    return p


def classifier_score(probabilities):
    """exp(E_x KL(p(y|x) || p(y))) with p(y) = E_x p(y|x); in [1, K].

    Args:
      probabilities: (N, K) class probabilities p(y|x) of N images.

    Returns:
      A float: K for confident predictions spread evenly over K classes,
      1 when every image gets the same distribution (e.g. mode collapse).
    """
    p = _check(probabilities)
    marginal = p.mean(axis=0, keepdims=True)
    eps = 1e-12
    kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def confident_share(probabilities, threshold=CONFIDENCE):
    """The share of the N rows whose largest probability exceeds
    `threshold`; (N, K) -> a float in [0, 1]."""
    p = _check(probabilities)
    return float(np.mean(p.max(axis=1) > threshold))


def class_histogram(probabilities):
    """h_k = the share of rows whose argmax is class k; (N, K) -> (K,)
    float64 shares summing to 1."""
    p = _check(probabilities)
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    return counts / len(p)


def histogram_entropy(probabilities):
    """-sum_k h_k log h_k (nats, 0 log 0 = 0) of `class_histogram`; in
    [0, log K]."""
    h = class_histogram(probabilities)
    h = h[h > 0]
    return float(-np.sum(h * np.log(h)) + 0.0)


def train_judge(split, info, config, steps):
    """A small CNN classifier of the real images, trained with `loops.fit`
    for whole epochs of at least `steps` batches of `config.batch_size`,
    seeded by `config.seed`. Returns the model (logits)."""
    pipeline = Pipeline(split, config.batch_size, seed=config.seed)
    epochs = -(-steps // pipeline.steps_per_epoch)
    judge = cnn.build_cnn(
        info.image_shape,
        info.num_classes,
        cnn.CNNConfig(
            filters=(16, 32), dense_units=(64,), output_activation=None
        ),
        name="judge",
    )
    loops.fit(
        judge,
        keras.optimizers.Adam(1e-3),
        classification.task(),
        pipeline,
        options=loops.LoopOptions(epochs=epochs, seed=config.seed, verbose=0),
    )
    return judge


def probabilities(judge, x, batch_size=256):
    """softmax(judge(x)) in batches; (N, H, W, C) in [0, 1] -> (N, K)."""
    logits = [
        np.asarray(judge(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.asarray(tf.nn.softmax(np.concatenate(logits)))


def judge_report(judge, generated, test_split):
    """The judge's figures for generated images, beside the real test
    images' (see the module doc).

    Args:
      judge: a classifier returning logits (`train_judge`).
      generated: (N, H, W, C) generated images in [0, 1].
      test_split: the real test split (`.x` images, `.y` labels).

    Returns:
      {"classifier_score", "confident_share", "class_histogram_entropy",
      "class_share_0", ..., "class_share_{K-1}", and the same first three
      with the suffix "_real", "judge_accuracy"}: floats.
    """
    real = probabilities(judge, test_split.x)
    fake = probabilities(judge, generated)
    report = {
        "classifier_score": classifier_score(fake),
        "confident_share": confident_share(fake),
        "class_histogram_entropy": histogram_entropy(fake),
    }
    for k, share in enumerate(class_histogram(fake)):
        report[f"class_share_{k}"] = float(share)
    report.update(
        classifier_score_real=classifier_score(real),
        confident_share_real=confident_share(real),
        class_histogram_entropy_real=histogram_entropy(real),
        judge_accuracy=float(np.mean(real.argmax(axis=1) == test_split.y)),
    )
    return report
