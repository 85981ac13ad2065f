"""Exponentially imbalanced training splits: class i keeps its first int(n_max * base^-i) images in dataset order.

A law must leave every class at least one image: an emptied class has no mean norm (C10's Spearman would be NaN and
the claim decided by construction), and its test images could never be classified correctly. `law_problem` says
what is wrong with a law, naming the first emptied class and the largest base that keeps every class; the workflow
calls it before planning (`embnorm.config.check_imbalance_laws`) for every parent whose class count is known, and
`imbalanced_indices` checks it again on the prepared labels. For example, CIFAR-100's law (500 * 1.034^-i) over
Tiny-ImageNet's 200 classes empties classes 186..199: bases up to 500^(1/199) = 1.0317 keep them all.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from embnorm.errors import EmbnormError

# Class count and the smallest class's train images of the sources whose sizes are fixed (an imagefolder's or an
# npz file's are known only once prepared; ImageNet-100's smallest class depends on the local copy).
KNOWN_SIZES = {"cifar10": (10, 5000), "cifar100": (100, 500), "tinyimagenet": (200, 500), "fashion_mnist": (10, 6000),
               "imagenet100": (100, None)}


def subset_sizes(spec: dict, num_classes: int, smallest: int | None) -> tuple[int, int | None]:
    """(classes, smallest class's train images) of a source dataset of `num_classes` classes whose smallest has
    `smallest` train images, after its `classes` subset and `max_train_per_class` cap (data/subsets.py). The sources
    whose sizes are known have equally many train images in every class, so any subset's smallest class is theirs."""
    cap = spec.get("max_train_per_class")
    if cap is not None and smallest is not None:
        smallest = min(smallest, cap)
    return len(spec.get("classes", range(num_classes))), smallest


def class_sizes(n_max: int, base: float, num_classes: int) -> list[int]:
    """int(n_max * base^-i) for i = 0..K-1 (CIFAR-10: 5000, 1.5 -> 5000, 3333, ..., 130; 14,736 in total)."""
    return [int(n_max * base ** -i) for i in range(num_classes)]


def largest_keeping_base(n_max: int, num_classes: int) -> float:
    """The largest base, rounded down to 4 decimals, whose law leaves the last class at least one image
    (n_max * base^-(K-1) >= 1, i.e. base <= n_max^(1/(K-1)))."""
    base = math.floor(n_max ** (1 / max(1, num_classes - 1)) * 1e4) / 1e4
    while base > 1 and class_sizes(n_max, base, num_classes)[-1] < 1:  # guard against rounding at the boundary
        base = round(base - 1e-4, 4)
    return base


def law_problem(dataset: str, n_max: int, base: float, num_classes: int) -> str | None:
    """The one-line problem of a law that leaves some class without a training image, naming the dataset, the first
    emptied class, the law and the largest base that keeps every class; None for a law that keeps every class."""
    sizes = class_sizes(n_max, base, num_classes)
    empty = [c for c, n in enumerate(sizes) if n < 1]
    if not empty:
        return None
    keep = largest_keeping_base(n_max, num_classes)
    return (f"datasets.{dataset}.imbalance: the law int({n_max} * {base}^-i) over {num_classes} classes leaves class "
            f"{empty[0]} (and {len(empty) - 1} more) with 0 training images; every class keeps at least one image "
            f"with base <= {keep} (for this n_max)")


def imbalanced_indices(labels: np.ndarray, num_classes: int, base: float, n_max: int | None = None,
                       dataset: str = "imbalanced split"):
    """Indices (sorted, dataset order) of the imbalanced subset, and the audit table (class, available, expected, kept)."""
    labels = np.asarray(labels)
    available = np.bincount(labels, minlength=num_classes)
    n_max = int(available.min()) if n_max is None else n_max
    problem = law_problem(dataset, n_max, base, num_classes)
    if problem:
        raise EmbnormError(problem)
    expected = class_sizes(n_max, base, num_classes)
    keep = [np.flatnonzero(labels == c)[:expected[c]] for c in range(num_classes)]
    audit = pd.DataFrame({"class": np.arange(num_classes), "available": available, "expected": expected,
                          "kept": [len(k) for k in keep]})
    short = audit[audit.kept != audit.expected]
    if len(short):
        raise EmbnormError(f"imbalanced split: classes {short['class'].tolist()} have fewer images than the law asks "
                         f"(available {short.available.tolist()}, expected {short.expected.tolist()})")
    return np.sort(np.concatenate(keep)), audit
