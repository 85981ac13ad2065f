"""The one prepared-dataset format every later rule reads.

resources/datasets/<name>/<split>/
    images.npy   uint8 (N, H, W, 3), memory-mappable
    labels.npy   int64 (N,)
    meta.json    class names, source, original indices file-free (as a range or list), checksums, extra fields
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embnorm import io, paths
from embnorm.errors import EmbnormError


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    meta: dict

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])


def write_split(dataset: str, split: str, images: np.ndarray, labels: np.ndarray, classes: list[str], source: str,
                original_index: np.ndarray | None = None, extra: dict | None = None) -> None:
    """Write one prepared split; validates shapes and dtypes first so a bad source never yields a plausible file."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
        raise EmbnormError(f"{dataset}/{split}: images must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(images),):
        raise EmbnormError(f"{dataset}/{split}: {len(labels)} labels for {len(images)} images")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise EmbnormError(f"{dataset}/{split}: labels outside 0..{len(classes) - 1}")
    original_index = np.arange(len(images)) if original_index is None else np.asarray(original_index, np.int64)
    f = dict(dataset=dataset, split=split)
    io.write_npy(paths.fmt(paths.DATASET_IMAGES, **f), np.ascontiguousarray(images))
    io.write_npy(paths.fmt(paths.DATASET_LABELS, **f), labels)
    meta = {
        "dataset": dataset, "split": split, "source": source, "classes": list(classes), "n": int(len(images)),
        "image_size": int(images.shape[1]), "class_counts": np.bincount(labels, minlength=len(classes)).tolist(),
        "original_index": original_index.tolist(),
        "sha256": {"images.npy": io.sha256(paths.fmt(paths.DATASET_IMAGES, **f)),
                   "labels.npy": io.sha256(paths.fmt(paths.DATASET_LABELS, **f))},
        **(extra or {}),
    }
    io.write_json(paths.fmt(paths.DATASET_META, **f), meta)


def read_split(dataset: str, split: str, mmap: bool = True) -> Split:
    f = dict(dataset=dataset, split=split)
    meta = io.read_json(paths.fmt(paths.DATASET_META, **f))
    images = io.read_npy(paths.fmt(paths.DATASET_IMAGES, **f), mmap=mmap)
    labels = io.read_npy(paths.fmt(paths.DATASET_LABELS, **f))
    if len(images) != meta["n"] or len(labels) != meta["n"]:
        raise io.ArtifactError(
            f"{paths.fmt(paths.DATASET_DIR, **f)}: meta.json says {meta['n']} samples, "
            f"images.npy has {len(images)}, labels.npy {len(labels)}")
    return Split(images, labels, meta)
