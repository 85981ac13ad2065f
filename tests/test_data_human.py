"""Real human-label files (../shared/data): CIFAR-10N/100N converted from the upstream .pt into the pickle-free npz
layout and joined to the train order, CIFAR-10H copied in the test order. Skipped where ../shared/data is absent."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import split_folders
from embnorm import io
from embnorm.data import format as fmt
from embnorm.data import cifar_human, sources
from embnorm.data.fetch import DataSourceError
from embnorm.errors import EmbnormError


def fake_prepared(dataset: str, source: str, train_labels, test_labels, classes: int, extra=None) -> None:
    """A prepared dataset with the real label order and 1x1 images: the human labels only read labels and order."""
    names = [str(c) for c in range(classes)]
    for split, labels in (("train", train_labels), ("test", test_labels)):
        pixels = np.zeros((len(labels), 1, 1, 3), np.uint8)
        fmt.write_split(split_folders(dataset)[split], dataset, split, pixels, labels, names, source,
                        extra=extra if split == "train" else None)


def outputs(tmp_path):
    return [str(tmp_path / n) for n in ("cifarn.npz", "counts.npy", "probs.npy")]


@pytest.fixture
def real_cifar10(shared_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean = np.load(shared_data / "cifar-n" / "cifar10n_labels.npz")["clean_label"]
    counts = np.load(shared_data / "cifar-10h" / "cifar10h-counts.npy")
    spec = {"source": "cifar10", "human_labels": "cifar10n", "data_dir": str(shared_data), "download": False}
    return spec, clean, counts


def test_cifar10n_and_cifar10h_from_the_real_files(real_cifar10, shared_data, tmp_path):
    spec, clean, counts = real_cifar10
    fake_prepared("c10", "cifar10", clean, counts.argmax(axis=1), 10)
    out_n, out_c, out_p = outputs(tmp_path)
    sources.write_human_labels("c10", spec, *split_folders("c10").values(), out_n, out_c, out_p)

    labels = io.read_npz(out_n)
    assert labels["clean_label"][:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    reference = np.load(shared_data / "cifar-n" / "cifar10n_labels.npz")  # the pickle-free copy made upstream
    assert sorted(labels) == sorted(reference.files)
    for key in reference.files:
        assert labels[key].dtype == np.int64 and np.array_equal(labels[key], reference[key])
    assert round(float((labels["aggre_label"] != labels["clean_label"]).mean()), 4) == 0.0901

    counts_out, probs_out = io.read_npy(out_c), io.read_npy(out_p)
    assert counts_out.shape == probs_out.shape == (10000, 10) and np.array_equal(counts_out, counts)
    assert np.allclose(probs_out.sum(axis=1), 1)

    records = cifar_human.fetch_raw("c10", spec)
    assert [r["name"] for r in records] == ["CIFAR-10_human.pt", "cifar10h-counts.npy", "cifar10h-probs.npy"]


def test_rows_that_do_not_follow_the_train_order_are_refused(real_cifar10, tmp_path):
    spec, clean, counts = real_cifar10
    fake_prepared("shuffled", "cifar10", np.roll(clean, 1), counts.argmax(axis=1), 10)
    with pytest.raises(DataSourceError, match=r"clean_label differs from the prepared labels in \d+ of 50000 rows"):
        sources.write_human_labels("shuffled", spec, *split_folders("shuffled").values(), *outputs(tmp_path))


def test_cifar100n_with_coarse_labels_and_no_cifar10h(shared_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reference = np.load(shared_data / "cifar-n" / "cifar100n_labels.npz")
    fake_prepared("c100", "cifar100", reference["clean_label"], np.arange(100).repeat(100), 100,
                  extra={"coarse_labels": reference["clean_coarse_label"].tolist()})
    spec = {"source": "cifar100", "human_labels": "cifar100n", "data_dir": str(shared_data), "download": False}
    out_n, out_c, out_p = outputs(tmp_path)
    sources.write_human_labels("c100", spec, *split_folders("c100").values(), out_n, out_c, out_p)
    labels = io.read_npz(out_n)
    assert labels["clean_label"][:10].tolist() == [19, 29, 0, 11, 1, 86, 90, 28, 23, 31]
    assert labels["clean_coarse_label"][:10].tolist() == [11, 15, 4, 14, 1, 5, 18, 3, 10, 11]
    for key in reference.files:
        assert np.array_equal(labels[key], reference[key])
    assert io.read_npy(out_c).shape == (0, 100) and io.read_npy(out_p).shape == (0, 100)


def test_human_labels_need_the_matching_source(tmp_path):
    with pytest.raises(EmbnormError, match="'cifar10n' rows follow the cifar10 train order"):
        sources.write_human_labels("x", {"source": "cifar100", "human_labels": "cifar10n"},
                                   *split_folders("x").values(), *outputs(tmp_path))
    with pytest.raises(EmbnormError, match="human_labels is 'none'"):
        sources.write_human_labels("x", {"source": "cifar10"}, *split_folders("x").values(), *outputs(tmp_path))
