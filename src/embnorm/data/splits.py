"""Exponentially imbalanced training splits: class i keeps its first int(n_max * base^-i) images in dataset order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.errors import EmbnormError


def class_sizes(n_max: int, base: float, num_classes: int) -> list[int]:
    """int(n_max * base^-i) for i = 0..K-1 (CIFAR-10: 5000, 1.5 -> 5000, 3333, ..., 130; 14,736 in total)."""
    return [int(n_max * base ** -i) for i in range(num_classes)]


def imbalanced_indices(labels: np.ndarray, num_classes: int, base: float, n_max: int | None = None):
    """Indices (sorted, dataset order) of the imbalanced subset, and the audit table (class, available, expected, kept)."""
    labels = np.asarray(labels)
    available = np.bincount(labels, minlength=num_classes)
    n_max = int(available.min()) if n_max is None else n_max
    expected = class_sizes(n_max, base, num_classes)
    keep = [np.flatnonzero(labels == c)[:expected[c]] for c in range(num_classes)]
    audit = pd.DataFrame({"class": np.arange(num_classes), "available": available, "expected": expected,
                          "kept": [len(k) for k in keep]})
    short = audit[audit.kept != audit.expected]
    if len(short):
        raise EmbnormError(f"imbalanced split: classes {short['class'].tolist()} have fewer images than the law asks "
                         f"(available {short.available.tolist()}, expected {short.expected.tolist()})")
    return np.sort(np.concatenate(keep)), audit
