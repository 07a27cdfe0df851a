"""keras_cheats.models.clip: the two towers of a small CLIP (cheat sheet
7.7.4) and the text encoder's save/load round trip."""

import keras
import numpy as np
import pytest

from keras_cheats.models import clip

CAPTIONS = ["a photo of the digit seven", "handwritten sieben", "7", "sept"]


def _text_encoder(seed=0):
    keras.utils.set_random_seed(seed)
    vectorizer = clip.caption_vectorizer(CAPTIONS, ngrams=3)
    tower = clip.build_text_tower(vectorizer.vocabulary_size(), embed_dim=8)
    return vectorizer, clip.build_text_encoder(vectorizer, tower)


def test_vectorizer_tokens_are_character_ngrams():
    vectorizer = clip.caption_vectorizer(["ab"], ngrams=2)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    assert sorted(vocabulary[2:]) == ["a", "a b", "b"]
    # Upper case is lowered; an unseen character is [UNK] (id 1); the
    # batch is padded with 0 to its longest caption ("AB": 2 + 1 tokens).
    ids = np.asarray(vectorizer(["AB", "c"]))
    assert ids.shape == (2, 3)
    assert sorted(ids[0]) == sorted(
        vocabulary.index(t) for t in ("a", "b", "a b")
    )
    assert list(ids[1]) == [1, 0, 0]


def test_text_encoder_same_embedding_after_save_and_load(tmp_path):
    vectorizer, encoder = _text_encoder()
    # Unseen spellings and words too: their n-grams go through the saved
    # vocabulary, [UNK] included.
    texts = np.array(CAPTIONS + ["SEVEN", "sete", "zzz"])
    before = np.asarray(encoder(texts))
    np.testing.assert_allclose(np.linalg.norm(before, axis=1), 1, rtol=1e-5)
    encoder.save(tmp_path / "text.keras")
    loaded = keras.models.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(np.asarray(loaded(texts)), before, atol=1e-6)
    assert loaded.get_layer("vectorizer").get_vocabulary() == (
        vectorizer.get_vocabulary()
    )
    # Case is standardised away; padding does not change an embedding.
    seven = np.asarray(encoder(np.array(["seven"])))[0]
    np.testing.assert_allclose(before[4], seven, atol=1e-6)
    alone = np.asarray(encoder(np.array(["7"])))[0]
    np.testing.assert_allclose(before[2], alone, atol=1e-6)


def test_towers_and_logits():
    model = clip.build_clip((8, 8, 1), vocab_size=20, embed_dim=16,
                            init_temperature=0.1)  # fmt: skip
    images = np.random.default_rng(0).random((3, 8, 8, 1), np.float32)
    tokens = np.array([[2, 3, 0], [4, 0, 0], [5, 6, 7]])
    u, v = model((images, tokens))
    assert u.shape == (3, 16) and v.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1, rtol=1e-5)
    logits = np.asarray(model.logits(u, v))
    np.testing.assert_allclose(logits, 10 * np.asarray(u) @ np.asarray(v).T,
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    # Every part trains, the temperature included.
    names = {w.path for w in model.trainable_variables}
    assert any("log_scale" in n for n in names)
    assert len(model.trainable_variables) == (
        len(model.image_encoder.trainable_variables)
        + len(model.text_tower.trainable_variables)
        + 1
    )
    with pytest.raises(ValueError, match="embed_dim"):
        clip.build_image_encoder((8, 8, 1), embed_dim=0)
