"""growth.training_summary (its init_knn_acc, early_epoch and norm_growth feed C5 and C11-C14) against an independent
computation on metrics with gaps and shuffled rows; the class table skips an empty class only with a logged reason."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from embnorm.analysis import growth, mitigation
from helpers.analysis import as_run, params, write_embeddings


def random_metrics(run_id, epochs, knn_every, rng, seed=0, evaluate_init=True):
    rows = []
    for epoch in range(epochs + 1):
        evaluated = (epoch % knn_every == 0 and (epoch > 0 or evaluate_init)) or epoch == epochs
        rows.append({"run_id": run_id, "epoch": epoch, "projector_norm_mean": rng.uniform(0.5, 5),
                     "knn_acc": rng.uniform(0.1, 0.9) if evaluated else np.nan, "knn_protocol": "k=5 fp32",
                     **{c: params(run_id, seed=seed)[c] for c in growth.FACTOR_COLUMNS}})
    return rows


def expected_summary(rows):
    """The summary by hand: plain loops over the rows sorted by epoch."""
    rows = sorted(rows, key=lambda r: r["epoch"])
    evaluated = [r for r in rows if not np.isnan(r["knn_acc"])]
    after = [r for r in evaluated if r["epoch"] > 0]
    return {"epochs": rows[-1]["epoch"], "init_projector_norm": rows[0]["projector_norm_mean"],
            "final_projector_norm": rows[-1]["projector_norm_mean"],
            "norm_growth": rows[-1]["projector_norm_mean"] / rows[0]["projector_norm_mean"],
            "init_knn_acc": evaluated[0]["knn_acc"] if evaluated[0]["epoch"] == 0 else np.nan,
            "early_epoch": after[0]["epoch"], "early_knn_acc": after[0]["knn_acc"],
            "final_knn_acc": evaluated[-1]["knn_acc"]}


def test_training_summary_matches_an_independent_computation():
    rng = np.random.default_rng(7)
    runs = {"a": random_metrics("a", 12, 4, rng), "b": random_metrics("b", 7, 3, rng, seed=1),
            "c": random_metrics("c", 5, 2, rng, evaluate_init=False)}
    frame = pd.DataFrame([r for rows in runs.values() for r in rows]).sample(frac=1, random_state=3)
    summary = growth.training_summary(frame).set_index("run_id")
    assert sorted(summary.index) == ["a", "b", "c"]
    for run_id, rows in runs.items():
        for column, value in expected_summary(rows).items():
            got = summary.loc[run_id, column]
            assert (np.isnan(value) and np.isnan(got)) or got == pytest.approx(value), (run_id, column)
    assert (summary.loc["a", "early_epoch"], summary.loc["b", "early_epoch"]) == (4, 3)
    assert np.isnan(summary.loc["c", "init_knn_acc"]) and summary.loc["b", "seed"] == 1


def test_the_class_table_skips_an_empty_class_with_a_logged_reason(tmp_path, monkeypatch, caplog):
    """A class the run trained on no image of has no mean norm; the old table kept it as a NaN row, which made C10's
    Spearman NaN without a word."""
    monkeypatch.chdir(tmp_path)
    p = params("imb", dataset="toyimb", imbalanced=True)
    labels = np.repeat([0, 1, 2], 6)
    trained_on = labels != 2  # the split kept no image of class 2
    feats = np.eye(3)[labels] * np.array([3.0, 2.0, 1.0])[labels, None] + 0.1
    write_embeddings(p, "train", feats, labels, trained_on)
    write_embeddings(p, "test", feats, labels)
    with caplog.at_level(logging.WARNING, logger="embnorm.analysis.mitigation"):
        classes = mitigation.class_table([as_run(p)], "projector")
    assert classes["class"].tolist() == [0, 1] and not classes.train_norm_mean.isna().any()
    assert "imb: class 2 skipped" in caplog.text and "trained on no image" in caplog.text


def test_training_summary_carries_the_predictor_and_last_bn_norms_where_a_run_has_them():
    rng = np.random.default_rng(3)
    with_heads = pd.DataFrame(random_metrics("a", 4, 2, rng))
    with_heads["predictor_norm_mean"] = [9.0, 9.5, 10.0, 11.0, 12.0]
    with_heads["last_bn_affine_norm"] = [20.0, 19.8, 19.6, 19.4, 19.2]
    without = pd.DataFrame(random_metrics("b", 4, 2, rng, seed=1))
    summary = growth.training_summary(pd.concat([with_heads.sample(frac=1, random_state=0), without])).set_index(
        "run_id")
    assert summary.loc["a", ["init_predictor_norm", "final_predictor_norm"]].tolist() == [9.0, 12.0]
    assert summary.loc["a", ["init_last_bn_affine_norm", "final_last_bn_affine_norm"]].tolist() == [20.0, 19.2]
    assert summary.loc["b", ["init_predictor_norm", "final_last_bn_affine_norm"]].isna().all()
