"""Exponentially imbalanced splits: the laws' exact class sizes, the first images in dataset order, audit, failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embnorm.data import format as fmt
from embnorm.data.prepare import write_imbalanced_split
from embnorm.data.splits import class_sizes, imbalanced_indices
from embnorm.errors import EmbnormError

CIFAR10_LAW = [5000, 3333, 2222, 1481, 987, 658, 438, 292, 195, 130]


def test_cifar10_law_keeps_14736_images():
    assert class_sizes(5000, 1.5, 10) == CIFAR10_LAW and sum(CIFAR10_LAW) == 14_736


@pytest.mark.parametrize("base, total, head, tail", [
    (1.03365, 14_750, [500, 483, 467, 452, 438], [21, 20, 20, 19, 18]),  # the authors' code
    (1.034, 14_620, [500, 483, 467, 452, 437], [20, 20, 19, 18, 18]),  # the paper's text
])
def test_cifar100_law_with_either_base(base, total, head, tail):
    sizes = class_sizes(500, base, 100)
    assert sum(sizes) == total and sizes[:5] == head and sizes[-5:] == tail
    assert sizes == [int(500 * np.exp(-i * np.log(base))) for i in range(100)]  # the authors' formula


def test_the_first_images_of_each_class_in_dataset_order_are_kept(shared_data):
    labels = np.load(shared_data / "cifar-n" / "cifar10n_labels.npz")["clean_label"]  # the real CIFAR-10 train order
    indices, audit = imbalanced_indices(labels, 10, 1.5)
    assert len(indices) == 14_736 and audit.kept.tolist() == audit.expected.tolist() == CIFAR10_LAW
    assert audit.available.tolist() == [5000] * 10 and np.all(np.diff(indices) > 0)
    for c, n in enumerate(CIFAR10_LAW):
        assert np.array_equal(indices[labels[indices] == c], np.flatnonzero(labels == c)[:n])


def test_split_artifacts_and_a_short_class_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = np.repeat(np.arange(4), [40, 30, 30, 12])
    fmt.write_split("toy/train", "toy", "train", np.zeros((len(labels), 1, 1, 3), np.uint8), labels, list("abcd"),
                    "test")
    write_imbalanced_split("toyimb", "toy/train", 1.5, None, "toyimb/indices.npy", "toyimb/audit.tsv")  # n_max: 12
    audit = pd.read_csv("toyimb/audit.tsv", sep="\t")
    assert audit.columns.tolist() == ["class", "available", "expected", "kept"]
    assert audit.expected.tolist() == audit.kept.tolist() == [12, 8, 5, 3]
    indices = np.load("toyimb/indices.npy")
    assert indices.dtype == np.int64 and np.bincount(labels[indices]).tolist() == [12, 8, 5, 3]

    with pytest.raises(EmbnormError, match=r"classes \[1, 3\] have fewer images than the law asks"):
        # expects 40, 33, 27, 23; classes 1 and 3 have 30 and 12
        write_imbalanced_split("toobig", "toy/train", 1.2, 40, "toobig/indices.npy", "toobig/audit.tsv")
    assert not (tmp_path / "toobig/audit.tsv").exists()


def test_a_law_that_empties_a_class_fails_naming_the_class_and_a_base_that_keeps_all():
    """Issue 11: CIFAR-100's law over Tiny-ImageNet's 200 classes gives classes 186-199 no image; the old split accepted
    it (expected 0, kept 0), leaving those classes with a NaN mean norm. (With a minimum of one image; the default
    minimum, 1 % of n_max, is tests/test_hostile_imbalance.py's.)"""
    labels = np.repeat(np.arange(200), 500)
    with pytest.raises(EmbnormError, match=r"datasets.tinyimagenetimb.imbalance: the law int\(500 \* 1.034\^-i\) over "
                                           r"200 classes leaves class 186 \(and 13 more\) .* base <= 1.0317"):
        imbalanced_indices(labels, 200, 1.034, 500, dataset="tinyimagenetimb", min_class_size=1)
    indices, audit = imbalanced_indices(labels, 200, 1.0317, 500, min_class_size=1)
    assert audit.kept.min() == 1 and len(indices) == audit.kept.sum()
    assert class_sizes(500, 1.0318, 200)[-1] == 0  # 1.0317 is the largest base (4 decimals) that keeps every class
