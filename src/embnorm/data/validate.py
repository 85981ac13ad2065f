"""What a prepared dataset must be before anything trains on it: one set of checks, run where the data is made and
again where it is read.

A self-supervised study of embedding norms (Draganov et al., ICML 2025) reads its data through a kNN accuracy, an
OOD AUROC and per-class norms. Data that is wrong in a quiet way (one class, empty classes, a test class never seen in
training, an OOD partner that is the dataset itself) does not crash those measures: it makes them meaningless. So
each such case stops the job with one line naming the dataset, the key or file, what was found and what is expected:

>>> check_classes("fruit", [b"apple", "pear"], "classes")
['apple', 'pear']
>>> check_class_counts("fruit", "train", ["apple", "pear"], [12, 0])
Traceback (most recent call last):
...
embnorm.data.validate.DataError: datasets.fruit: the train split has no image of class 'pear' (label 1); every class needs at least one train image

Where the checks run (docs/data.md, "What we check in your data", lists them all):
- `format.write_split` (every source): split checks (`check_split`) before anything is written;
- `prepare.prepare`, after both splits are written: `check_pair` (classes shared, each present in train and test,
  images at least MIN_IMAGE_SIZE);
- `format.read_split` (train and embed jobs): `verify_checksums` against meta.json, and the split checks again;
- the `check_dataset` job the train and embed jobs depend on (`data/check.py`); the train command (`check_run`).

What the config alone decides (class subsets, OOD partners, a kNN k larger than a known bank) is checked before
planning, with the other config checks, in `embnorm.config.check_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embnorm import io, paths
from embnorm.errors import EmbnormError

# The smallest image side every backbone handles: the small CNN and the ResNets' CIFAR stem halve it three times (to
# 1 px at 8 px); the schema's `image_size` minimum is the same number. An npz source keeps its arrays' own size, so
# this is checked on the prepared data, not only in the config.
MIN_IMAGE_SIZE = 8
ALLOW_EMPTY_TEST_CLASSES = "allow_empty_test_classes"  # the dataset key by which a user says "some test classes empty"


class DataError(EmbnormError):
    """A dataset that would give a meaningless study; the message names the dataset and what to change."""


def ranges(values: Sequence[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1..3, 7, 9..10' (a short way to name gaps in label values)."""
    parts, values = [], sorted(int(v) for v in values)
    start = prev = values[0] if values else None
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}" if start == prev else f"{start}..{prev}")
        start = prev = v
    return ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "")


def check_classes(dataset: str, classes: Sequence, where: str) -> list[str]:
    """Class names as text: bytes are decoded (UTF-8), integers written out; anything else, duplicates, or fewer than
    two classes is an error. Returns the names."""
    names = []
    for c in classes:
        c = c.item() if isinstance(c, np.generic) else c
        if isinstance(c, bytes):
            try:
                c = c.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"datasets.{dataset}: {where} holds {c!r}, which is not UTF-8 text; class names must be "
                                "text") from None
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            c = str(c)
        if not isinstance(c, str) or not c.strip():
            raise DataError(f"datasets.{dataset}: {where} holds {c!r} ({type(c).__name__}); class names must be "
                            "non-empty text")
        if len(c) >= 3 and c[0] == "b" and c[1] in "'\"" and c[-1] == c[1]:
            raise DataError(f"datasets.{dataset}: {where} holds {c!r}, the printed form of bytes, not a name; "
                            "decode the names (or prepare the dataset again: bytes are decoded now)")
        names.append(c)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"datasets.{dataset}: {where} names {duplicates} more than once; each class needs its own name")
    if len(names) < 2:
        raise DataError(f"datasets.{dataset}: {where} has {len(names)} class(es) {names}; a study of norms, kNN "
                        "accuracy and OOD detection needs at least 2 classes")
    return names


def check_split(dataset: str, split: str, labels: np.ndarray, classes: Sequence) -> list[str]:
    """One split: class names as `check_classes` takes them, non-empty, labels in 0..K-1. Returns the names."""
    classes = check_classes(dataset, classes, f"the {split} split's class names")
    if len(labels) == 0:
        raise DataError(f"datasets.{dataset}: the {split} split has no images; it needs at least one image per class")
    if labels.min() < 0 or labels.max() >= len(classes):
        bad = sorted(set(np.unique(labels[(labels < 0) | (labels >= len(classes))]).tolist()))
        raise DataError(f"datasets.{dataset}: the {split} labels hold {ranges(bad)}, outside 0..{len(classes) - 1} "
                        f"({len(classes)} class names)")
    return classes


def check_class_counts(dataset: str, split: str, classes: Sequence[str], counts: Sequence[int]) -> None:
    """Every class has at least one image in `split`."""
    empty = [i for i, n in enumerate(counts) if n == 0]
    if not empty:
        return
    if len(empty) == 1:
        raise DataError(f"datasets.{dataset}: the {split} split has no image of class '{classes[empty[0]]}' (label "
                        f"{empty[0]}); every class needs at least one {split} image")
    named = ", ".join(f"'{classes[i]}'" for i in empty[:5]) + (", ..." if len(empty) > 5 else "")
    raise DataError(f"datasets.{dataset}: the {split} split has no image of {len(empty)} of {len(classes)} classes "
                    f"({named}; labels {ranges(empty)}); every class needs at least one {split} image")


def check_pair(dataset: str, spec: dict, train_meta: dict, test_meta: dict) -> None:
    """Both splits of a prepared dataset: the same classes and image size (at least MIN_IMAGE_SIZE), every class in
    train, and in test unless the dataset sets `allow_empty_test_classes: true`."""
    if train_meta["classes"] != test_meta["classes"]:
        raise DataError(f"datasets.{dataset}: the train and test splits name different classes "
                        f"({train_meta['classes'][:5]}... vs {test_meta['classes'][:5]}...)")
    if train_meta["image_size"] != test_meta["image_size"]:
        raise DataError(f"datasets.{dataset}: train images are {train_meta['image_size']} px, test images "
                        f"{test_meta['image_size']} px; both splits need one size")
    if train_meta["image_size"] < MIN_IMAGE_SIZE:
        raise DataError(f"datasets.{dataset}: the images are {train_meta['image_size']}x{train_meta['image_size']} "
                        f"pixels; the backbones need at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} (set "
                        f"datasets.{dataset}.image_size)")
    check_class_counts(dataset, "train", train_meta["classes"], train_meta["class_counts"])
    if not spec.get(ALLOW_EMPTY_TEST_CLASSES, False):
        try:
            check_class_counts(dataset, "test", test_meta["classes"], test_meta["class_counts"])
        except DataError as e:
            raise DataError(f"{e} (or set datasets.{dataset}.{ALLOW_EMPTY_TEST_CLASSES}: true)") from None


def check_subset(dataset: str, parent: str, indices: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                 where: str) -> None:
    """A derived dataset's train rows (indices into its parent's train split): in range, no repeats, and at least two
    classes left (an imbalance law that keeps one class leaves nothing to compare)."""
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise DataError(f"{where}: expected int64 row indices (N,), found {indices.dtype} {indices.shape}")
    if len(indices) and (indices.min() < 0 or indices.max() >= len(labels)):
        raise DataError(f"{where}: indices outside 0..{len(labels) - 1}, the rows of {parent}'s train split")
    if len(np.unique(indices)) != len(indices):
        raise DataError(f"{where}: some rows of {parent}'s train split are listed twice")
    present = np.unique(labels[indices])
    if len(present) < 2:
        raise DataError(f"datasets.{dataset}: the imbalanced split keeps {len(indices)} images of "
                        f"{len(present)} class(es) ({[classes[i] for i in present]}); it needs at least 2 classes "
                        f"(raise imbalance.n_max or lower imbalance.base)")


def rerun_prepare(directory) -> str:
    """What to do about a prepared split that fails a check: the command that writes it again."""
    return f"re-run rule prepare_dataset: snakemake --cores 1 --force {Path(directory) / paths.META_FILE}"


def verify_checksums(directory: str, meta: dict, files: dict[str, str]) -> None:
    """Each file's sha256 equals the one meta.json recorded when the split was written.

    Cost (benchmarks/checksum_cost.py): sha256 reads about 1-2 GB/s on one core, so CIFAR-10's 154 MB train images
    take a fraction of a second and ImageNet-100's 6.2 GB a few seconds, small against training or embedding them.
    """
    meta_path, remedy = Path(directory) / paths.META_FILE, rerun_prepare(directory)
    recorded = meta.get("sha256")
    if not isinstance(recorded, dict):
        raise io.ArtifactError(f"{meta_path}: no sha256 checksums; {remedy}")
    for name, path in files.items():
        if recorded.get(name) is None:
            raise io.ArtifactError(f"{meta_path}: no sha256 of {name}; {remedy}")
        if io.sha256(path) != recorded[name]:
            raise io.ArtifactError(f"{path}: its sha256 differs from the one meta.json recorded when rule "
                                   f"prepare_dataset wrote it (the file changed since); {remedy}")


def check_run(params: dict, train_meta: dict, bank_size: int, image_size: int) -> None:
    """What one run needs of its data: a kNN k no larger than its bank (the train images it trains on), and images
    large enough for its backbone."""
    run = params["run_id"]
    if params["knn_k"] > bank_size:
        raise DataError(f"{run}: train.knn_k is {params['knn_k']} but the kNN bank (the train images of "
                        f"{params['dataset']}) holds {bank_size}; set train.knn_k (or overrides) to at most {bank_size}")
    if image_size < MIN_IMAGE_SIZE:
        raise DataError(f"{run}: {params['source']} images are {image_size} px; backbone {params['backbone']} needs at "
                        f"least {MIN_IMAGE_SIZE} px")
