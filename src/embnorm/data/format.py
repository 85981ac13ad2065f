"""The one prepared-dataset format every later rule reads: a split is a folder of three files.

<split folder>/   (in the workflow: resources/datasets/<name>/<split>/, `paths.DATASET_DIR`)
    images.npy   uint8 (N, H, W, 3), memory-mappable
    labels.npy   int64 (N,)
    meta.json    dataset and split names, class names, source, original indices file-free (as a range or list),
                 checksums, extra fields

Functions take the split's folder; the names in meta.json only label messages and files.

    >>> write_split("out/train", "toy", "train", images, labels, ["a", "b"], "npz")  # doctest: +SKIP
    >>> read_split("out/train").meta["dataset"]  # doctest: +SKIP
    'toy'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def split_files(directory) -> tuple[Path, Path, Path]:
    """(images.npy, labels.npy, meta.json) of the split in `directory`."""
    return tuple(Path(directory) / name for name in (paths.IMAGES_FILE, paths.LABELS_FILE, paths.META_FILE))


def write_split(directory, dataset: str, split: str, images: np.ndarray, labels: np.ndarray, classes: list[str],
                source: str, original_index: np.ndarray | None = None, extra: dict | None = None) -> None:
    """Write one prepared split of `dataset` into `directory`; validates shapes, dtypes and the dataset checks
    (data/validate.py) first, so a bad source never yields a plausible file."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
        raise EmbnormError(f"{dataset}/{split}: images must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(images),):
        raise EmbnormError(f"{dataset}/{split}: {len(labels)} labels for {len(images)} images")
    classes = validate.check_split(dataset, split, labels, classes)
    original_index = np.arange(len(images)) if original_index is None else np.asarray(original_index, np.int64)
    images_path, labels_path, meta_path = split_files(directory)
    io.write_npy(images_path, np.ascontiguousarray(images))
    io.write_npy(labels_path, labels)
    meta = {
        "dataset": dataset, "split": split, "source": source, "classes": list(classes), "n": int(len(images)),
        "image_size": int(images.shape[1]), "class_counts": np.bincount(labels, minlength=len(classes)).tolist(),
        "original_index": original_index.tolist(),
        "sha256": {paths.IMAGES_FILE: io.sha256(images_path), paths.LABELS_FILE: io.sha256(labels_path)},
        **(extra or {}),
    }
    io.write_json(meta_path, meta)


def read_split(directory, mmap: bool = True, verify: bool = True) -> Split:
    """The prepared split in `directory`. With `verify` (the default), its arrays must match the sha256 that meta.json
    recorded and pass the split checks again, so a file changed after preparation is never trained or embedded on."""
    directory = str(directory).rstrip("/")
    images_path, labels_path, meta_path = (str(p) for p in split_files(directory))
    remedy = validate.rerun_prepare(directory)
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
        validate.verify_checksums(directory, meta, {paths.IMAGES_FILE: images_path, paths.LABELS_FILE: labels_path})
        validate.check_split(meta.get("dataset", directory), meta.get("split", "?"), labels, meta["classes"])
    return Split(images, labels, meta)
