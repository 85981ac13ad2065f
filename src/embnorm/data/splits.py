"""Exponentially imbalanced training splits: class i keeps its first int(n_max * base^-i) images in dataset order.

A law must leave every class at least one image: an emptied class has no mean norm (C10's Spearman would be NaN and
the claim decided by construction), and its test images could never be classified correctly. It must in fact leave
each class a stated minimum, `imbalance.min_class_size` (unset: 1 % of n_max rounded up, at least 1), since a class of
one or two images is noise in every per-class measure. `law_problem` says what is wrong with a law, naming the first
class below the minimum and the largest base that keeps every class at it; the workflow
calls it before planning (`embnorm.config.check_imbalance_laws`) for every parent whose class count is known, and
`imbalanced_indices` checks it again on the prepared labels. For example, CIFAR-100's law (500 * 1.034^-i) over
Tiny-ImageNet's 200 classes empties classes 186..199, and leaves classes 138..199 fewer than the default minimum of
5 images: bases up to (500 / 5)^(1/199) = 1.0234 keep them all at 5.
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
MIN_CLASS_FRACTION = 0.01  # the default least class size, as a fraction of n_max (default_min_class_size)


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


def default_min_class_size(n_max: int) -> int:
    """The fewest training images a class may keep when the config does not say (`imbalance.min_class_size`): 1 % of
    n_max, rounded up, and at least 1. A class reduced to one or two images has a per-class mean norm and kNN vote
    that are noise, so a law that steep is a typo far more often than a design (a base of 100 for 1.01)."""
    return max(1, math.ceil(MIN_CLASS_FRACTION * n_max))


def largest_keeping_base(n_max: int, num_classes: int, minimum: int = 1) -> float:
    """The largest base, rounded down to 4 decimals, whose law leaves the last class at least `minimum` images
    (n_max * base^-(K-1) >= minimum, i.e. base <= (n_max / minimum)^(1/(K-1)))."""
    base = math.floor((n_max / minimum) ** (1 / max(1, num_classes - 1)) * 1e4) / 1e4
    while base > 1 and class_sizes(n_max, base, num_classes)[-1] < minimum:  # guard against rounding at the boundary
        base = round(base - 1e-4, 4)
    return base


def law_problem(dataset: str, n_max: int, base: float, num_classes: int,
                min_class_size: int | None = None) -> str | None:
    """The one-line problem of a law that leaves some class with fewer training images than the minimum
    (`min_class_size`, default `default_min_class_size`), naming the dataset, the first such class, the law and the
    largest base that keeps every class at the minimum; None for a law that keeps every class."""
    minimum = default_min_class_size(n_max) if min_class_size is None else min_class_size
    sizes = class_sizes(n_max, base, num_classes)
    short = [c for c, n in enumerate(sizes) if n < minimum]
    if not short:
        return None
    where = f"datasets.{dataset}.imbalance"
    if minimum > n_max:
        return f"{where}.min_class_size: {minimum} is more than n_max ({n_max}), the images class 0 keeps"
    keep = largest_keeping_base(n_max, num_classes, minimum)
    law = f"the law int({n_max} * {base}^-i) over {num_classes} classes leaves class {short[0]} (and {len(short) - 1} more)"
    if minimum == 1:
        return (f"{where}: {law} with 0 training images; every class keeps at least one image with base <= {keep} "
                "(for this n_max)")
    rule = "min_class_size" if min_class_size is not None else "min_class_size unset: 1% of n_max, rounded up"
    return (f"{where}: {law} with fewer than {minimum} training images (class {short[0]}: {sizes[short[0]]}; {rule}); "
            f"every class keeps at least {minimum} with base <= {keep} (for this n_max), or set a lower "
            f"{where}.min_class_size")


def imbalanced_indices(labels: np.ndarray, num_classes: int, base: float, n_max: int | None = None,
                       dataset: str = "imbalanced split", min_class_size: int | None = None):
    """Indices (sorted, dataset order) of the imbalanced subset, and the audit table (class, available, expected, kept)."""
    labels = np.asarray(labels)
    available = np.bincount(labels, minlength=num_classes)
    n_max = int(available.min()) if n_max is None else n_max
    problem = law_problem(dataset, n_max, base, num_classes, min_class_size)
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
