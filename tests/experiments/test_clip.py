"""experiments.clip: captions and their held-out split, the zero-shot and
retrieval scores, the distributed loss share, and the experiment run as
users run it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import loops
from experiments import clip
from experiments import clip_captions as text
from experiments import data as data_lib
from keras_cheats.layers.contrastive_logits import ContrastiveLogits
from keras_cheats.losses.clip import clip_loss
from keras_cheats.models import clip as clip_model
from tests.conftest import REPO


def test_held_out_wording_never_appears_in_training():
    table = text.training_table()
    assert table.shape == (10, 6 * 5 * 3)
    seen = {c.lower() for c in table.reshape(-1)}
    for name in ("held_out_templates", "held_out_language", "held_out_both"):
        prompts = text.prompts(name)
        assert prompts.shape[0] == 10
        new = [p for p in prompts.reshape(-1) if p not in seen]
        # Held-out templates are all new; Portuguese words spelt as a seen
        # word of the same digit (zero, cinco, seis, nove) in a training
        # template are the only repeats.
        if name != "held_out_language":
            assert len(new) == prompts.size, name
    assert "a photo of the digit sieben" in seen
    assert "handwritten 7" in set(table[7])
    assert "HANDWRITTEN SEPT" in set(table[7])
    assert "this is sete" in set(text.prompts("held_out_both")[7])
    words = {w for lang in text.SEEN_LANGUAGES for w in text.WORDS[lang]}
    assert {"um", "dois", "três", "quatro", "sete", "oito"}.isdisjoint(words)
    # The retrieval pool: one held-out-template caption per label, seeded.
    pool, languages = text.retrieval_pool([3, 3, 8, 8], seed=0)
    assert (pool, languages) == text.retrieval_pool([3, 3, 8, 8], seed=0)
    assert all(p not in seen for p in pool)
    for caption, digit, lang in zip(pool, [3, 3, 8, 8], languages):
        assert caption.endswith(" " + text.WORDS[lang][digit]), caption


def test_zero_shot_and_recall_hand_computed():
    classes = np.eye(3)
    u = np.array([[1.0, 0, 0], [0, 0.6, 0.8], [0.8, 0.6, 0]])
    scores = clip.zero_shot(u, np.array([0, 1, 1]), classes)
    # Predictions 0, 2, 0: one of two ones is wrong.
    assert scores["accuracy"] == pytest.approx(1 / 3)
    assert scores["per_class"] == {0: 1.0, 1: 0.0}
    pool = np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]])
    pool_labels = np.array([2, 0, 1])
    # Image 1 ranks the pool 2 (0.8), 1 (0.6), 0 (0): its class (1) first
    # at rank 2; image 2 ranks 0 (0.8) first, class 1 second.
    labels = np.array([0, 1, 1])
    assert clip.recall_at_k(u, pool, labels, pool_labels, 1) == (
        pytest.approx(1 / 3)
    )
    assert clip.recall_at_k(u, pool, labels, pool_labels, 2) == 1.0


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="targets='classes'"):
        clip.Config(targets="classes")
    with pytest.raises(ValueError, match="init_temperature=0.001"):
        clip.Config(init_temperature=0.001)
    with pytest.raises(ValueError, match="batch_size=1"):
        clip.Config(batch_size=1)


class _Logits:
    def __init__(self):
        self.layer = ContrastiveLogits(init_temperature=0.5)

    def logits(self, u, v):
        return self.layer(u, v)


def test_the_share_gathers_negatives_across_replicas():
    # Two replicas of 3 pairs each: the shares add up to the loss of all
    # 6 pairs, and the gradients to its gradient (local negatives would
    # give other values).
    rng = np.random.default_rng(0)
    u = tf.constant(rng.normal(size=(6, 4)), tf.float32)
    v = tf.constant(rng.normal(size=(6, 4)), tf.float32)
    labels = tf.constant([0, 1, 2, 0, 1, 1])
    model = _Logits()
    with tf.GradientTape() as tape:
        tape.watch(u)
        want = tf.reduce_mean(clip_loss(labels, model.logits(u, v)))
    want_grad = tape.gradient(want, u)
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )

    @tf.function
    def step():
        ctx = tf.distribute.get_replica_context()
        start = ctx.replica_id_in_sync_group * 3
        local_u = u[start : start + 3]
        with tf.GradientTape() as tape:
            tape.watch(local_u)
            share = clip.contrastive_share(
                model, local_u, v[start : start + 3],
                labels[start : start + 3], "labels",
            )  # fmt: skip
        return share, tape.gradient(share, local_u)

    shares, grads = strategy.run(step)
    shares = strategy.experimental_local_results(shares)
    grads = strategy.experimental_local_results(grads)
    np.testing.assert_allclose(sum(float(s) for s in shares), want, rtol=1e-5)
    np.testing.assert_allclose(tf.concat(grads, 0), want_grad, atol=1e-6)


@pytest.mark.slow
def test_command_line_learns_zero_shot_digits(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "experiments.clip", "--dataset=digits",
         "--epochs=4", "--learning_rate=3e-3", "--batch_size=64",
         f"--model_dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    losses = saved["history"]["loss"]
    assert losses[-1] < losses[0], losses
    zero_shot = saved["zero_shot"]
    assert set(zero_shot) == set(text.PROMPT_SETS)
    assert zero_shot["seen"]["accuracy"] > 0.5  # chance 0.1
    assert zero_shot["held_out_templates"]["accuracy"] > 0.3
    retrieval = saved["retrieval"]
    assert retrieval["pool_size"] == 360
    assert (
        retrieval["image_to_text_recall@5"]
        >= retrieval["image_to_text_recall@1"]
        > 0.3
    )
    by_language = retrieval["text_to_image_recall@1_by_language"]
    assert set(by_language) <= {*text.SEEN_LANGUAGES, "pt"}
    assert 0.01 <= saved["temperature"] <= 1
    accuracy = zero_shot["seen"]["accuracy"]
    assert f"zero-shot accuracy, seen prompts: {accuracy:.4f}" in done.stdout
    for name in ("text_encoder.keras", "similarity.png", "run.json"):
        assert (tmp_path / name).exists(), name


def test_a_tiny_run_on_two_replicas_lowers_the_loss(tmp_path):
    # The step of `clip_task` through loops.fit under a 2-replica
    # MirroredStrategy: captions drawn per replica, vectors gathered.
    train, _, info = data_lib.load_splits("digits")
    config = clip.Config(batch_size=32, learning_rate=3e-3, epochs=4)
    table = text.training_table()
    vectorizer = clip_model.caption_vectorizer(table.reshape(-1))
    tokens = np.asarray(vectorizer(table.reshape(-1)))
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    loops.seed_everything(0)
    with strategy.scope():
        model = clip_model.build_clip(
            info.image_shape, vectorizer.vocabulary_size(), embed_dim=16
        )
        optimizer = keras.optimizers.Adam(config.learning_rate)
    history = loops.fit(
        model,
        optimizer,
        clip.clip_task(config, tokens.reshape(*table.shape, -1)),
        data_lib.Pipeline(
            data_lib.Split(train.x[:256], train.y[:256]), 32,
            drop_remainder=True,
        ),
        options=loops.LoopOptions(epochs=config.epochs, verbose=0),
        strategy=strategy,
    )  # fmt: skip
    losses = history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    # The reported temperature is summed over the replicas' shares.
    scale = float(model.contrastive_logits.scale)
    assert history["temperature"][-1] == pytest.approx(1 / scale, rel=0.02)
