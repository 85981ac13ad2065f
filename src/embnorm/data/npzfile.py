"""The `npz` source: a user's arrays in one `.npz` file (read with allow_pickle=False).

Keys: `x_train`, `y_train`, `x_test`, `y_test`, and optionally `classes` (one name per class). Images are channels-last:
uint8 (N, H, W, 3), (N, H, W, 1) or (N, H, W) (grayscale is repeated to RGB), or floats in [0, 1] (scaled to 0..255).
They keep their size unless `image_size` is set (non-square images need it). Labels are integers 0..K-1; row order is
the original order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embnorm import io
from embnorm.data import format as fmt
from embnorm.data import images, validate
from embnorm.errors import EmbnormError

KEYS = ("x_train", "y_train", "x_test", "y_test")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive of .npy files (a non-empty or an empty one)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file; a file that is not a zip archive is named as such (not blamed on pickling)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except IsADirectoryError:
        raise EmbnormError(f"{path}: is a folder, not an .npz file (use source: imagefolder for a folder)") from None
    except OSError as e:
        raise EmbnormError(f"{path}: cannot be read ({e.strerror})") from None
    if head not in ZIP_MAGIC:
        kind = "an empty file" if not head else f"a file starting with {head!r}"
        raise EmbnormError(f"{path}: not an .npz file ({kind}); expected a zip archive of .npy arrays as numpy.savez "
                           f"writes, with {list(KEYS)}")
    return io.read_npz(path)


def class_names(dataset: str, path: Path, arrays: dict, labels: dict[str, np.ndarray]) -> list[str]:
    """`classes` as text (bytes decoded), one per label value; without it, the label values 0..K-1 written out.
    Labels with gaps (classes without any image) are an error naming the missing values."""
    k = int(max(y.max(initial=-1) for y in labels.values())) + 1
    if "classes" in arrays:
        c = arrays["classes"]
        if c.ndim != 1:
            raise EmbnormError(f"{path}: classes must be one name per class (K,), got shape {c.shape}")
        names = validate.check_classes(dataset, c.tolist(), f"{path}:classes")
        if len(names) < k:
            raise EmbnormError(f"{path}: classes has {len(names)} names but the labels go up to {k - 1} ({k} classes); "
                               f"give one name per label value 0..{k - 1}")
        return names
    present = np.unique(np.concatenate([y for y in labels.values()]))
    gaps = sorted(set(range(k)) - set(present.tolist()))
    if gaps:
        raise validate.DataError(
            f"datasets.{dataset}: {path}: y_train/y_test use {len(present)} label values up to {k - 1}, so "
            f"{len(gaps)} of the classes 0..{k - 1} have no image (missing {validate.ranges(gaps)}); labels must be "
            f"0..K-1 without gaps (renumber them, or give `classes` and keep every class)")
    return [str(c) for c in range(k)]


def to_rgb_uint8(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise EmbnormError(f"{where}: expected channels-last images (N, H, W[, 1 or 3]), got shape {x.shape}")
    if x.dtype.kind == "f":
        if len(x) and (np.nanmin(x) < 0 or np.nanmax(x) > 1 or np.isnan(x).any()):
            raise EmbnormError(f"{where}: float images must lie in [0, 1]")
        x = np.rint(x * 255).astype(np.uint8)
    elif x.dtype != np.uint8:
        raise EmbnormError(f"{where}: images must be uint8 or floats in [0, 1], got {x.dtype}")
    return np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x


def prepare(dataset: str, spec: dict, out: dict) -> None:
    path = Path(spec["path"])
    arrays = read_arrays(path)
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise EmbnormError(f"{path}: missing arrays {missing} (needs {list(KEYS)}; found {sorted(arrays)})")
    labels = {s: arrays[f"y_{s}"] for s in ("train", "test")}
    for split, y in labels.items():
        if y.dtype.kind not in "iu" or y.ndim != 1 or (len(y) and y.min() < 0):
            raise EmbnormError(f"{path}: y_{split} must be non-negative integers (N,), got {y.dtype} {y.shape}")
    classes = class_names(dataset, path, arrays, labels)
    x = {s: to_rgb_uint8(arrays[f"x_{s}"], f"{path}:x_{s}") for s in ("train", "test")}
    shapes = {x[s].shape[1:3] for s in x}
    if "image_size" not in spec and (len(shapes) > 1 or any(h != w for h, w in shapes)):
        raise EmbnormError(f"{path}: images are {sorted(shapes)} (height, width); set datasets.{dataset}.image_size")
    size = spec.get("image_size", x["train"].shape[1])
    for split in ("train", "test"):
        fmt.write_split(out[split], dataset, split, images.resize_array(x[split], size), labels[split], classes, "npz",
                        original_index=np.arange(len(x[split])), extra={"path": str(path)})
