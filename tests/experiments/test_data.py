"""The data layer: every source, the IDX validation, and the pipelines."""

import gzip
import struct

import numpy as np
import pytest
import tensorflow as tf

from experiments import data


def _write_idx(path, array, magic=None, gz=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (0x08 << 8) | array.ndim
    raw = struct.pack(">I", magic) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    raw += array.tobytes()
    if gz:
        raw = gzip.compress(raw)
    if truncate:
        raw = raw[:-truncate]
    path.write_bytes(raw)
    return path


def _mnist_like(tmp_path, n=10, prefix="t10k", **kwargs):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28))
    labels = np.arange(n) % 10
    _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images, **kwargs)
    _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


def test_digits_shapes_ranges_and_stratified_split():
    train, test, info = data.load_splits("digits")
    assert info.image_shape == (8, 8, 1) and info.num_classes == 10
    assert (info.num_train, info.num_test) == (1437, 360)
    assert info.num_train + info.num_test == 1797
    for split in (train, test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
        assert set(split.y.tolist()) == set(range(10))
    # Stratified: class proportions match within one example per class.
    tr = np.bincount(train.y) / len(train)
    te = np.bincount(test.y) / len(test)
    np.testing.assert_allclose(tr, te, atol=1 / 36 + 1e-9)
    again, _, _ = data.load_splits("digits")
    np.testing.assert_array_equal(train.x, again.x)


def test_idx_single_pair_is_split_in_file_order(tmp_path):
    images, labels = _mnist_like(tmp_path, n=10)
    train, test, info = data.load_splits(f"idx:{tmp_path}")
    assert (len(train), len(test)) == (8, 2)
    np.testing.assert_allclose(train.x[..., 0] * 255, images[:8], atol=1e-3)
    np.testing.assert_array_equal(test.y, labels[8:])
    assert info.image_shape == (28, 28, 1)


def test_idx_train_and_test_pairs(tmp_path):
    _mnist_like(tmp_path, n=20, prefix="train")
    _mnist_like(tmp_path, n=10, prefix="t10k", gz=True)
    train, test, _ = data.load_splits(f"idx:{tmp_path}")
    assert (len(train), len(test)) == (20, 10)


def test_idx_rejects_wrong_magic(tmp_path):
    _mnist_like(tmp_path, magic=0x00000801)
    with pytest.raises(data.IdxFormatError, match="wrong magic number"):
        data.load_splits(f"idx:{tmp_path}")


def test_idx_rejects_count_mismatch(tmp_path):
    _mnist_like(tmp_path, n=10)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(9) % 10)
    with pytest.raises(data.IdxFormatError, match="9 labels.*10 images"):
        data.load_splits(f"idx:{tmp_path}")


def test_idx_rejects_short_data(tmp_path):
    images = np.zeros((10, 28, 28), np.uint8)
    raw = struct.pack(">IIII", 0x803, 10, 28, 28) + images.tobytes()[:-5]
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(10), gz=False)
    with pytest.raises(data.IdxFormatError, match="truncated.*7840 data"):
        data.load_splits(f"idx:{tmp_path}")


def test_idx_rejects_truncated_gzip_naming_the_file(tmp_path):
    _mnist_like(tmp_path, truncate=100)
    with pytest.raises(data.IdxFormatError) as e:
        data.load_splits(f"idx:{tmp_path}")
    assert "t10k-images-idx3-ubyte.gz" in str(e.value)
    assert "gzip" in str(e.value)


def test_idx_rejects_labels_out_of_range(tmp_path):
    _mnist_like(tmp_path, n=10)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(10, 12))
    with pytest.raises(data.IdxFormatError, match="label 12 out of range"):
        data.load_splits(f"idx:{tmp_path}")


def test_idx_missing_labels_and_empty_folder(tmp_path):
    with pytest.raises(data.IdxFormatError, match="no .*images-idx3"):
        data.load_splits(f"idx:{tmp_path}")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 3, 3)))
    with pytest.raises(data.IdxFormatError, match="no matching labels"):
        data.load_splits(f"idx:{tmp_path}")


def test_real_mnist_test_set_split_8000_2000(mnist_dir):
    train, test, info = data.load_splits(f"idx:{mnist_dir}")
    assert (info.num_train, info.num_test) == (8000, 2000)
    assert train.x.shape == (8000, 28, 28, 1)
    assert train.x.dtype == np.float32 and 0 <= train.x.min() < train.x.max()
    assert train.x.max() <= 1.0
    assert set(np.unique(test.y)) == set(range(10))
    # The first MNIST test labels are 7, 2, 1, 0, 4.
    assert train.y[:5].tolist() == [7, 2, 1, 0, 4]


def test_unknown_names_are_rejected_with_the_choices():
    with pytest.raises(ValueError, match="dataset='nope'.*digits"):
        data.load_splits("nope")
    with pytest.raises(ValueError, match="idx:DIR"):
        data.load_splits("idx:")


def _order(pipeline, epoch, skip=0):
    return np.concatenate(
        [y.numpy() for _, y in pipeline.for_epoch(epoch, skip)]
    )


def test_pipeline_order_depends_only_on_seed_and_epoch():
    d1 = data.load("digits", batch_size=100, seed=3)
    d2 = data.load("digits", batch_size=100, seed=3)
    e0, e1 = _order(d1.train, 0), _order(d1.train, 1)
    np.testing.assert_array_equal(e0, _order(d2.train, 0))
    assert not np.array_equal(e0, e1)  # reshuffled each epoch
    np.testing.assert_array_equal(e0, _order(d1.train, 0))
    np.testing.assert_array_equal(_order(d1.train, 1, skip=3), e1[300:])
    other = _order(data.load("digits", batch_size=100, seed=4).train, 0)
    assert not np.array_equal(e0, other)
    # The test pipeline does not shuffle.
    _, test, _ = data.load_splits("digits")
    np.testing.assert_array_equal(_order(d1.test, 5), test.y)


def test_pipeline_batches_dtypes_and_drop_remainder():
    d = data.load("digits", batch_size=100)
    sizes = [int(x.shape[0]) for x, _ in d.train(0)]
    assert sizes == [100] * 14 + [37] and d.train.steps_per_epoch == 15
    x, y = next(iter(d.train(0)))
    assert x.dtype == tf.float32 and y.dtype == tf.int64
    assert x.shape[1:] == (8, 8, 1)
    dropped = data.load("digits", batch_size=100, drop_remainder=True)
    assert [int(x.shape[0]) for x, _ in dropped.train(0)] == [100] * 14
    assert dropped.train(0).element_spec[0].shape[0] == 100  # static
    with pytest.raises(ValueError, match="batch_size=0"):
        data.load("digits", batch_size=0)


def test_transform_hook_adds_attributes():
    def invert_some(name, split):
        flip = np.arange(len(split)) % 10 == 0
        x = np.where(flip[:, None, None, None], 1.0 - split.x, split.x)
        return data.Split(x, split.y, {"inverted": flip})

    d = data.load("digits", transform=invert_some)
    assert d.train.split.attributes["inverted"].sum() == 144
    with pytest.raises(ValueError, match="attribute 'a' has 2 values"):
        data.Split(np.zeros((3, 2, 2, 1)), np.zeros(3), {"a": np.zeros(2)})


def test_tfds_mnist_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        d = data.load("mnist", batch_size=5)
    assert d.info.image_shape == (28, 28, 1) and d.info.num_classes == 10
    assert (d.info.num_train, d.info.num_test) == (12, 12)
    x, y = next(iter(d.train(0)))
    assert x.shape == (5, 28, 28, 1) and x.dtype == tf.float32
    assert float(tf.reduce_max(x)) <= 1.0 and y.dtype == tf.int64


def test_tfds_failure_names_the_offline_choices(monkeypatch):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(data.DatasetUnavailableError) as e:
        data.load_splits("fashion_mnist", download=True)
    message = str(e.value)
    assert "fashion_mnist" in message and "internet" in message
    assert "--dataset=digits" in message and "idx:DIR" in message
