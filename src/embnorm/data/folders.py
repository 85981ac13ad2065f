"""Image folders (one subfolder per class): the `imagefolder` source, and the listing that ImageNet-100 shares.

Files are listed in `torchvision.datasets.ImageFolder` order: classes are the sorted subfolder names, and within a class
the files of a sorted `os.walk`, each folder's names sorted. That order is the dataset's original order; the relative
file names are recorded in meta.json (`files`), and `original_index` is the position in the full listing.

An `imagefolder` root either holds `train/` and `test/` (each with the class subfolders), or holds the class subfolders
itself; then a seeded, per-class split sets `test_fraction` of each class aside (default 0.2, seed `split_seed`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from embnorm.data import format as fmt
from embnorm.data import images
from embnorm.errors import EmbnormError

DEFAULT_SIZE = 32
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0


def class_names(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def class_files(root: Path, name: str) -> list[str]:
    """The images of one class, relative to `root`, in ImageFolder order."""
    files = []
    for folder, _, fnames in sorted(os.walk(root / name, followlinks=True)):
        rel = Path(folder).relative_to(root).as_posix()
        files += [f"{rel}/{f}" for f in sorted(fnames) if images.is_image(f)]
    return files


def scan(root: Path, classes: list[str], limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Files and labels of `classes` under `root` (at most `limit` per class, the first in order)."""
    files, labels = [], []
    for label, name in enumerate(classes):
        found = class_files(root, name)[:limit]
        if not found:
            raise EmbnormError(f"{root / name}: no PNG or JPEG images in this class folder")
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, np.int64)


def seeded_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Test mask: round(fraction * n_c) images of each class c, drawn with `seed`; at least one stays to train."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(int(round(fraction * len(members))), len(members) - 1)
        test[rng.choice(members, size=k, replace=False)] = True
    return test


def write_folder_split(dataset: str, split: str, root: Path, files: list[str], labels: np.ndarray, classes: list[str],
                       source: str, size: int, original_index: np.ndarray, extra: dict) -> None:
    pixels = images.decode_all(files, lambda name: root / name, size, str(root))
    fmt.write_split(dataset, split, pixels, labels, classes, source, original_index=original_index,
                    extra={**extra, "root": str(root), "files": files})


def prepare(dataset: str, spec: dict) -> None:
    root = Path(spec["path"])
    if not root.is_dir():
        raise EmbnormError(f"datasets.{dataset}.path: {root} is not a folder")
    size = spec.get("image_size", DEFAULT_SIZE)
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = class_names(root / "train")
        extra_classes = sorted(set(class_names(root / "test")) - set(classes))
        if extra_classes:
            raise EmbnormError(f"{root / 'test'}: classes {extra_classes} have no folder in {root / 'train'}")
        for split in ("train", "test"):
            present = [c for c in classes if (root / split / c).is_dir()]
            files, labels = scan(root / split, present)
            labels = np.asarray([classes.index(present[i]) for i in labels], np.int64)
            write_folder_split(dataset, split, root / split, files, labels, classes, "imagefolder", size,
                               np.arange(len(files)), {"layout": "train/ and test/ folders"})
        return
    classes = class_names(root)
    if len(classes) < 2:
        raise EmbnormError(f"datasets.{dataset}.path: {root} needs one subfolder per class (found {classes})")
    files, labels = scan(root, classes)
    fraction = spec.get("test_fraction", DEFAULT_TEST_FRACTION)
    seed = spec.get("split_seed", DEFAULT_SPLIT_SEED)
    test = seeded_split(labels, fraction, seed)
    layout = {"layout": "seeded split", "test_fraction": fraction, "split_seed": seed}
    for split, mask in (("train", ~test), ("test", test)):
        keep = np.flatnonzero(mask)
        write_folder_split(dataset, split, root, [files[i] for i in keep], labels[keep], classes, "imagefolder", size,
                           keep, layout)
