"""Mitigation tables, the weight-decay sweep and the norm-vs-OOD table on constructed runs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embnorm.analysis import growth, mitigation, ood
from helpers.analysis import as_run, params, write_embeddings

WD = {"simclr": 1e-6, "simsiam": 5e-4}


def metrics(p, knn, norms):
    return pd.DataFrame({"run_id": p["run_id"], "epoch": [0, 1, 2], "knn_acc": knn, "projector_norm_mean": norms,
                         **{c: p[c] for c in growth.FACTOR_COLUMNS}})


def test_epoch_table_compares_each_mitigation_with_its_baseline():
    base, cut = params("b"), params("c", mitigation="cut", cut=3.0)
    frame = pd.concat([metrics(base, [0.1, 0.5, 0.7], [1, 2, 3]), metrics(cut, [0.1, 0.6, 0.68], [0.3, 1, 2])])
    table = mitigation.epoch_table(frame, WD).set_index(["mitigation", "epoch"])
    assert table.loc[("cut", 1), "knn_acc_minus_baseline"] == pytest.approx(0.1)
    assert table.loc[("cut", 2), "knn_acc_minus_baseline"] == pytest.approx(-0.02)
    assert table.loc[("none", 2), "knn_acc_minus_baseline"] == 0
    assert table.baseline.tolist() == [True] * 3 + [False] * 3


def test_weight_decay_sweep_groups_runs_equal_but_for_weight_decay():
    summary = pd.DataFrame([
        {**params(f"w{wd}", weight_decay=wd, mitigation=f"wd{i}"), "init_projector_norm": 1.0,
         "final_projector_norm": 5 - i, "norm_growth": 5 - i, "final_knn_acc": 0.5}
        for i, wd in enumerate((0.0, 1e-6, 1e-4))
    ] + [{**params("gs", gradscale=1.0, lr=0.02, mitigation="gradscale"), "init_projector_norm": 1.0,
          "final_projector_norm": 1.0, "norm_growth": 1.0, "final_knn_acc": 0.5}])
    sweep = growth.weight_decay_sweep(summary)
    assert sweep.run_id.tolist() == ["w0.0", "w1e-06", "w0.0001"] and sweep.sweep.nunique() == 1
    assert growth.weight_decay_sweep(summary.iloc[[0, 3]]).empty


def test_class_table_and_minority_majority(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = params("imb", dataset="toyimb", imbalanced=True)
    labels = np.repeat([0, 1, 2, 3], 10)
    centres = np.eye(4) * 5
    trained_on = np.ones(40, bool)
    trained_on[[30, 31, 32, 33, 34, 35, 36, 37]] = False  # class 3 keeps 2 images, class 2 keeps all 10
    scale = np.array([4.0, 3.0, 2.0, 1.0])[labels]  # frequent classes have larger norms
    write_embeddings(p, "train", (centres[labels] + 0.1) * scale[:, None], labels, trained_on)
    write_embeddings(p, "test", centres[labels] + 0.1, labels)
    classes = mitigation.class_table([as_run(p)], "projector")
    assert classes.n_train.tolist() == [10, 10, 10, 2]
    assert (classes.test_knn_acc == 1.0).all()
    summary = mitigation.minority_majority(classes)
    assert summary.minority_classes.iloc[0] == 1 and summary.majority_classes.iloc[0] == 3
    assert summary.minority_train_norm.iloc[0] < summary.majority_train_norm.iloc[0]
    assert summary.spearman_size_norm.iloc[0] > 0


def test_norm_vs_ood_uses_the_trained_on_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = params("r", imbalanced=True, ood="far")
    labels = np.repeat([0, 1], 4)
    trained_on = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
    norms = np.array([2, 2, 2, 2, 2, 2, 100, 100.0])  # the untrained rows must not enter the ID-train mean
    write_embeddings(p, "train", np.c_[norms, np.zeros(8)], labels, trained_on)
    write_embeddings(p, "test", np.c_[np.full(8, 1.8), np.zeros(8)], labels)
    for split in ("train", "test"):
        write_embeddings(p, split, np.c_[np.full(8, 1.0), np.zeros(8)], labels, dataset="far")
    table = ood.norm_vs_ood([as_run(p)]).set_index("role")
    assert table.loc["id_train", "n"] == 6 and table.loc["id_train", "mean_norm"] == pytest.approx(2.0)
    assert table.loc["id_test", "ratio_to_id_train"] == pytest.approx(0.9)
    assert table.loc["ood_test", "ratio_to_id_train"] == pytest.approx(0.5)
    assert table.loc["ood_test", "auroc_id_vs_ood"] == 1.0
