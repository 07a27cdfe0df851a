"""Reader for MNIST-format IDX files, with validation and clear errors.

The IDX format (LeCun et al.): a 4-byte magic number (two zero bytes, a type
code, the number of dimensions), then one big-endian uint32 per dimension,
then the data. MNIST uses type 0x08 (unsigned byte): images are 3-D
(count, rows, cols), labels are 1-D (count,).
"""

import gzip
import pathlib
import zlib

import numpy as np

UBYTE = 0x08


class IdxFormatError(ValueError):
    """An IDX file is missing, truncated or not what its header says."""


def _read_bytes(path: pathlib.Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise IdxFormatError(
            f"{path}: truncated or corrupt gzip stream ({e})"
        ) from None
    except OSError as e:
        raise IdxFormatError(f"{path}: cannot be read ({e})") from None


def read_idx(path, expected_ndim: int) -> np.ndarray:
    """Reads one IDX file of unsigned bytes into an array.

    Args:
      path: the file, plain or gzip-compressed (name ending in `.gz`).
      expected_ndim: 3 for images, 1 for labels.

    Returns:
      A uint8 array of the shape the header gives.

    Raises:
      IdxFormatError: naming the file and what is wrong with it.
    """
    path = pathlib.Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IdxFormatError(
            f"{path}: {len(raw)} bytes, too short for an IDX header"
        )
    zero0, zero1, dtype_code, ndim = raw[0], raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = (UBYTE << 8) | expected_ndim
    if zero0 or zero1 or dtype_code != UBYTE or ndim != expected_ndim:
        raise IdxFormatError(
            f"{path}: wrong magic number 0x{magic:08x}; expected "
            f"0x{expected_magic:08x} (unsigned bytes, {expected_ndim}-D)"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IdxFormatError(
            f"{path}: header truncated ({len(raw)} of {header_len} bytes)"
        )
    dims = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = int(np.prod(dims, dtype=np.int64))
    got = len(raw) - header_len
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{path}: {what}: header promises dimensions {dims} = "
            f"{expected} data bytes, the file holds {got}"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    return data.reshape(dims)


def read_pair(images_path, labels_path, num_classes: int = 10):
    """Reads and cross-checks one images/labels pair.

    Returns:
      (images (N, rows, cols) uint8, labels (N,) int64).
    """
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise IdxFormatError(
            f"{labels_path}: {labels.shape[0]} labels, but {images_path} "
            f"holds {images.shape[0]} images; the counts must match"
        )
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise IdxFormatError(
            f"{images_path}: empty image dimensions {images.shape[1:]}"
        )
    if labels.size and labels.max() >= num_classes:
        bad = int(labels.max())
        raise IdxFormatError(
            f"{labels_path}: label {bad} out of range; expected labels in "
            f"[0, {num_classes - 1}]"
        )
    return images, labels.astype(np.int64)


def find_pairs(directory) -> dict:
    """Finds `<split>-images-idx3-ubyte[.gz]` files and their label files.

    Returns:
      {split prefix (e.g. "train", "t10k"): (images_path, labels_path)}.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise IdxFormatError(f"{directory}: not a directory")
    pairs = {}
    for images in sorted(directory.glob("*-images-idx3-ubyte*")):
        if images.name.endswith("-images-idx3-ubyte"):
            stem, gz = images.name[: -len("-images-idx3-ubyte")], ""
        elif images.name.endswith("-images-idx3-ubyte.gz"):
            stem, gz = images.name[: -len("-images-idx3-ubyte.gz")], ".gz"
        else:
            continue
        candidates = [
            directory / f"{stem}-labels-idx1-ubyte{gz}",
            directory / f"{stem}-labels-idx1-ubyte",
            directory / f"{stem}-labels-idx1-ubyte.gz",
        ]
        labels = next((c for c in candidates if c.exists()), None)
        if labels is None:
            raise IdxFormatError(
                f"{images}: no matching labels file "
                f"{stem}-labels-idx1-ubyte[.gz] in {directory}"
            )
        pairs.setdefault(stem, (images, labels))
    if not pairs:
        raise IdxFormatError(
            f"{directory}: no *-images-idx3-ubyte[.gz] files found"
        )
    return pairs
