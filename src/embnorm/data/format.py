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
from embnorm.data import validate
from embnorm.errors import EmbnormError

META_KEYS = ("classes", "n", "image_size", "class_counts", "sha256")


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
    """Write one prepared split; validates shapes, dtypes and the dataset checks (data/validate.py) first, so a bad
    source never yields a plausible file."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
        raise EmbnormError(f"{dataset}/{split}: images must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(images),):
        raise EmbnormError(f"{dataset}/{split}: {len(labels)} labels for {len(images)} images")
    classes = validate.check_classes(dataset, classes, f"the {split} split's class names")
    validate.check_split(dataset, split, labels, classes)
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


def read_split(dataset: str, split: str, mmap: bool = True, verify: bool = True) -> Split:
    """A prepared split. With `verify` (the default), its arrays must match the sha256 that meta.json recorded and
    pass the split checks again, so a file changed after preparation is never trained or embedded on."""
    f = dict(dataset=dataset, split=split)
    directory = paths.fmt(paths.DATASET_DIR, **f)
    meta_path, images_path = paths.fmt(paths.DATASET_META, **f), paths.fmt(paths.DATASET_IMAGES, **f)
    labels_path = paths.fmt(paths.DATASET_LABELS, **f)
    remedy = f"re-run rule prepare_dataset: snakemake --cores 1 --force {meta_path}"
    try:
        meta = io.read_json(meta_path)
        missing = [k for k in META_KEYS if k not in meta] if isinstance(meta, dict) else list(META_KEYS)
        if missing:
            raise io.ArtifactError(f"{meta_path}: not a prepared split's meta.json (missing {missing})")
        images = io.read_npy(images_path, mmap=mmap)
        labels = io.read_npy(labels_path)
    except io.ArtifactError as e:
        raise io.ArtifactError(f"{e}; {remedy}") from None
    if len(images) != meta["n"] or len(labels) != meta["n"]:
        raise io.ArtifactError(
            f"{directory}: meta.json says {meta['n']} samples, "
            f"images.npy has {len(images)}, labels.npy {len(labels)}; {remedy}")
    if images.dtype != np.uint8 or images.ndim != 4 or labels.dtype != np.int64 or labels.ndim != 1:
        raise io.ArtifactError(f"{directory}: expected images.npy uint8 (N, S, S, 3) and labels.npy int64 (N,), found "
                               f"{images.dtype} {images.shape} and {labels.dtype} {labels.shape}; {remedy}")
    if verify:
        validate.verify_checksums(directory, meta, {"images.npy": images_path, "labels.npy": labels_path})
        validate.check_split(dataset, split, labels, meta["classes"])
    return Split(images, labels, meta)
