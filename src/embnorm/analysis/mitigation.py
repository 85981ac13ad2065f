"""Mitigation tables (paper §6): kNN accuracy and norms per model x optimizer x mitigation x dataset, over epochs, and
per class at the end of training (so that "mitigations help most on imbalanced data" can be read off).

- epoch_table: from the runs' metrics.tsv, at every evaluated epoch: test kNN accuracy (the training monitor: backbone
  features, cosine, k and t of the run) and the probe batch's mean projector norm, mean and sd over seeds, with the
  difference to the group's baseline (mitigation without cut, GradScale or a changed weight decay) at that epoch.
- class_table: from the final embeddings, per run and class: the number of ID-train images the run saw, their mean norm
  (layer `analysis.layer`), and the test kNN accuracy of that class recomputed with the monitor's protocol (bank: the
  backbone features of the source train split, for an imbalanced run its balanced parent's full split; queries: the
  ID-test backbone features). A class the run trained on no image of has no mean norm: it is left out with a logged
  warning, never kept as a silent NaN.
- minority_majority: per imbalanced run, classes split at the median class size into minority and majority halves.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from embnorm.analysis.common import (GROUP_COLUMNS, Run, is_baseline, load_bank, load_embeddings, norms, run_columns,
                                    trained_rows)
from embnorm.analysis.stats import spearman
from embnorm.evaluation.knn import KNN_FEATURES, knn_predict

log = logging.getLogger(__name__)


def epoch_table(metrics: pd.DataFrame, default_weight_decay: dict[str, float]) -> pd.DataFrame:
    evaluated = metrics.dropna(subset=["knn_acc"])
    keys = list(GROUP_COLUMNS) + ["epoch"]
    table = (evaluated.groupby(keys, sort=False, dropna=False)
             .agg(knn_acc=("knn_acc", "mean"), knn_acc_sd=("knn_acc", "std"), n_seeds=("seed", "nunique"),
                  projector_norm=("projector_norm_mean", "mean"), projector_norm_sd=("projector_norm_mean", "std"))
             .reset_index())
    table["baseline"] = is_baseline(table, default_weight_decay)
    base = table[table.baseline].drop_duplicates(["model", "optimizer", "dataset", "epoch"])
    base = base[["model", "optimizer", "dataset", "epoch", "knn_acc"]].rename(columns={"knn_acc": "knn_acc_baseline"})
    joined = table.merge(base, on=["model", "optimizer", "dataset", "epoch"], how="left")
    joined["knn_acc_minus_baseline"] = joined.knn_acc - joined.knn_acc_baseline
    return joined


def class_rows(run: Run, layer: str) -> list[dict]:
    params = run.params
    bank, test = load_bank(run), load_embeddings(run, "id_test")
    train = trained_rows(bank)
    num_classes = int(max(bank["labels"].max(), test["labels"].max())) + 1
    pred = knn_predict(torch.from_numpy(bank[KNN_FEATURES].astype(np.float32)), torch.from_numpy(bank["labels"]),
                       torch.from_numpy(test[KNN_FEATURES].astype(np.float32)), params["knn_k"],
                       params["knn_temperature"], num_classes).numpy()
    correct = pred == test["labels"]
    train_norms = norms(train, layer)
    rows = []
    for c in range(num_classes):
        in_train, in_test = train["labels"] == c, test["labels"] == c
        if not in_train.any():  # no mean norm exists; a NaN row would silently turn C10's Spearman into NaN
            log.warning("%s: class %d skipped in the class table: the run trained on no image of it (%d test images)",
                        params["run_id"], c, int(in_test.sum()))
            continue
        rows.append({**run_columns(params), "class": c, "n_train": int(in_train.sum()), "n_test": int(in_test.sum()),
                     "train_norm_mean": float(train_norms[in_train].mean()),
                     "test_knn_acc": float(correct[in_test].mean()) if in_test.any() else np.nan,
                     "run_test_knn_acc": float(correct.mean()), "layer": layer})
    return rows


def class_table(runs: list[Run], layer: str) -> pd.DataFrame:
    return pd.DataFrame([row for run in runs for row in class_rows(run, layer)])


def minority_majority(classes: pd.DataFrame) -> pd.DataFrame:
    """Per imbalanced run: mean test kNN accuracy and train norm of the minority and majority halves of its classes,
    and Spearman(class size, class mean norm)."""
    rows = []
    if classes.empty:
        return pd.DataFrame(columns=["run_id", "spearman_size_norm"])
    for run_id, frame in classes[classes.imbalanced.astype(bool)].groupby("run_id", sort=False):
        median = frame.n_train.median()
        info = frame.iloc[0]
        row = {c: info[c] for c in frame.columns if c not in ("class", "n_train", "n_test", "train_norm_mean",
                                                                "test_knn_acc")}
        for half, part in (("minority", frame[frame.n_train < median]), ("majority", frame[frame.n_train >= median])):
            row.update({f"{half}_classes": len(part), f"{half}_test_knn_acc": part.test_knn_acc.mean(),
                        f"{half}_train_norm": part.train_norm_mean.mean()})
        row["spearman_size_norm"] = spearman(frame.n_train, frame.train_norm_mean)
        rows.append(row)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["run_id", "spearman_size_norm"])
