"""Human agreement and CIFAR-10H entropy, joined by original index: hand-computed values on rows of the real
CIFAR-10H file, and constructed CIFAR-N style files with known agreements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embnorm import io, paths
from embnorm.analysis import human
from embnorm.analysis.common import Run

# rows of the real cifar10h-counts.npy (original CIFAR-10 test order) and their entropies in bits, by hand
REAL_ROWS = {
    2: [0, 0, 0, 0, 0, 0, 0, 0, 52, 0],
    9: [0, 33, 0, 0, 0, 0, 0, 0, 0, 17],
    5: [0, 0, 0, 8, 0, 0, 45, 0, 0, 0],
    0: [0, 1, 1, 48, 0, 1, 0, 0, 0, 0],
}
HAND_ENTROPY = {
    2: 0.0,
    9: -(33 / 50 * math.log2(33 / 50) + 17 / 50 * math.log2(17 / 50)),
    5: -(8 / 53 * math.log2(8 / 53) + 45 / 53 * math.log2(45 / 53)),
    0: -(3 * (1 / 51) * math.log2(1 / 51) + 48 / 51 * math.log2(48 / 51)),
}


def test_cifar10h_entropy_matches_hand_computation(shared_data, tmp_path, monkeypatch):
    probs = np.load(shared_data / "cifar-10h" / "cifar10h-probs.npy", allow_pickle=False)
    counts = np.load(shared_data / "cifar-10h" / "cifar10h-counts.npy", allow_pickle=False)
    for row, expected in REAL_ROWS.items():
        assert counts[row].tolist() == expected
    monkeypatch.chdir(tmp_path)
    probs_file = paths.fmt(paths.HUMAN_LABELS_H_PROBS, dataset="cifar10")
    io.write_npy(probs_file, probs)
    rows = list(REAL_ROWS)
    entropy = human.test_entropy(probs_file, {"original_index": np.array(rows)})
    assert entropy == pytest.approx([HAND_ENTROPY[r] for r in rows], abs=1e-12)


def _labels_file(dataset, clean, human_labels, key="aggre_label"):
    path = paths.fmt(paths.HUMAN_LABELS_N, dataset=dataset)
    io.write_npz(path, clean_label=clean, **{key: human_labels})
    return path


def test_agreement_is_joined_by_original_index(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    noisy = clean.copy()
    noisy[[1, 6]] = 0  # the human label differs from the clean label at original indices 1 and 6
    toy = _labels_file("toy", clean, noisy)
    order = np.array([6, 1, 0, 7, 3])  # the split holds these original indices, in this order
    agree, key = human.train_agreement(toy, {"original_index": order, "labels": clean[order]})
    assert key == "aggre_label" and agree.tolist() == [0, 0, 1, 1, 1]
    toy100 = _labels_file("toy100", clean, noisy, key="noisy_label")
    assert human.train_agreement(toy100, {"original_index": order, "labels": clean[order]})[1] == "noisy_label"


def test_a_wrong_join_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean = np.array([0, 1, 2, 3])
    toy = _labels_file("toy", clean, clean)
    with pytest.raises(io.ArtifactError, match="clean_label disagrees"):
        human.train_agreement(toy, {"original_index": np.array([0, 1]), "labels": np.array([1, 0])})
    with pytest.raises(io.ArtifactError, match="original index"):
        human.train_agreement(toy, {"original_index": np.array([9]), "labels": np.array([0])})


def test_human_agreement_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    n, classes = 400, 4
    labels = np.repeat(np.arange(classes), n // classes)
    norms = rng.uniform(1, 5, n)
    agree = rng.uniform(size=n) < (norms - 1) / 4  # humans agree more on large-norm images
    noisy = np.where(agree, labels, (labels + 1) % classes)
    labels_file = _labels_file("toy", labels, noisy)
    probs = np.zeros((n, classes))
    probs[np.arange(n), labels] = 1.0
    probs[np.arange(n), (labels + 1) % classes] = np.clip((5 - norms) / 8, 0, 0.5)  # entropy falls with the norm
    probs /= probs.sum(1, keepdims=True)
    probs_file = paths.fmt(paths.HUMAN_LABELS_H_PROBS, dataset="toy")
    io.write_npy(probs_file, probs)
    params = {"run_id": "r", "model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "toy", "seed": 0,
              "weight_decay": 1e-6, "cut": 1.0, "gradscale": 0.0, "lr": 0.1, "imbalanced": False, "source": "toy",
              "ood": None}
    for split in ("train", "test"):
        io.write_npz(paths.fmt(paths.RUN_EMBEDDINGS, run="r", dataset="toy", split=split),
                     projector_norm=norms.astype(np.float32), labels=labels, original_index=np.arange(n),
                     trained_on=np.ones(n, bool))
    run = Run(params, embeddings=paths.fmt(paths.RUN_EMBEDDINGS_DIR, run="r"))
    table, stats = human.human_agreement([run], {"toy": (labels_file, probs_file)}, "projector", 20, 50, 10,
                                         resamples=200)
    assert set(table.measure) == {"human_agreement", "human_entropy"}
    assert table.groupby(["measure", "normalization"])["count"].sum().eq(n).all()
    s = stats.set_index("measure")
    assert s.loc["human_agreement", "rho_ci_lo"] > 0 and s.loc["human_entropy", "rho_ci_hi"] < 0
    # a run whose dataset has no human labels is skipped, and an empty result still has its columns
    table, stats = human.human_agreement([run], {}, "projector", 20, 50, 10, resamples=200)
    assert table.empty and "measure" in table.columns and "rho" in stats.columns
