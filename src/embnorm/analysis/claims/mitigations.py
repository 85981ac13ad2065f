"""Claims C11, C12 and C14: do cut-initialization and GradScale speed up training (and does that hold under Adam)?

Each mitigated run is paired with the baseline run of the same model, optimizer, dataset and seed (baseline: no cut,
no GradScale, the model's default weight decay). The differences are in test kNN accuracy (fractions; 0.01 is one
point) at the earliest evaluated epoch after initialisation and at the last epoch, from the training summary.
Rules (paper-reference §7.1; constants fixed before any result, never adjusted to results):
- early difference > 0: with >= 3 seeds, the paired 95% bootstrap CI over seeds lies above 0; with fewer seeds, the
  difference is > 0 in every seed;
- final difference >= -1 point;
- C12 also: the imbalanced early gain exceeds the balanced early gain (the imbalanced dataset against its parent);
- C14: the early gain of every mitigation > 0 under Adam as well (the paper's exact Adam statement is a [GAP]).
Every comparison group (model x dataset) a rule reads must satisfy it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.verdict import ci, num, row
from embnorm.analysis.mitigation import is_baseline
from embnorm.analysis.stats import paired_seed_ci

EARLY_MIN_DIFF = 0.0  # §7.1 C11/C12/C14: early difference > 0
FINAL_MIN_DIFF = -0.01  # §7.1 C11/C12: final difference >= -1 point (accuracies are fractions)
MIN_SEEDS_FOR_CI = 3  # §7.1: a paired CI over seeds with >= 3 seeds, else every seed


def paired(training: pd.DataFrame, mitigated: pd.Series, default_wd: dict) -> pd.DataFrame:
    """One row per mitigated run and its baseline partner: early and final kNN differences."""
    base = training[is_baseline(training, default_wd)]
    keys = ["model", "optimizer", "dataset", "seed"]
    pairs = training[mitigated].merge(base, on=keys, suffixes=("", "_base"))
    pairs = pairs[pairs.early_epoch == pairs.early_epoch_base]
    return pairs.assign(early_diff=pairs.early_knn_acc - pairs.early_knn_acc_base,
                        final_diff=pairs.final_knn_acc - pairs.final_knn_acc_base)


def early_gain_holds(diffs: np.ndarray, resamples: int, seed: int) -> tuple[bool, str]:
    if len(diffs) >= MIN_SEEDS_FOR_CI:
        lo, hi = paired_seed_ci(diffs, resamples, seed)
        return lo > EARLY_MIN_DIFF, ci(lo, hi)
    return bool((diffs > EARLY_MIN_DIFF).all()), f"per seed: {', '.join(num(d) for d in diffs)}"


def group_results(pairs: pd.DataFrame, resamples: int, seed: int, check_final: bool = True) -> pd.DataFrame:
    rows = []
    for (model, optimizer, mitigation, dataset), f in pairs.groupby(["model", "optimizer", "mitigation", "dataset"],
                                                                     sort=False):
        early_ok, spread = early_gain_holds(f.early_diff.to_numpy(), resamples, seed)
        final_ok = bool((f.final_diff.mean() >= FINAL_MIN_DIFF)) if check_final else True
        rows.append({"model": model, "optimizer": optimizer, "mitigation": mitigation, "dataset": dataset,
                     "source": f.source.iloc[0], "imbalanced": bool(f.imbalanced.iloc[0]),
                     "early_epoch": int(f.early_epoch.iloc[0]), "final_epoch": int(f.epochs.iloc[0]),
                     "early_diff": f.early_diff.mean(), "final_diff": f.final_diff.mean(), "seeds": len(f),
                     "spread": spread, "holds": early_ok and final_ok})
    return pd.DataFrame(rows)


def _describe(groups: pd.DataFrame) -> tuple[str, str, str]:
    label = groups.model + " " + groups.optimizer + " " + groups.mitigation + " / " + groups.dataset
    value = "; ".join(f"{lab}: early (epoch {g.early_epoch}) {num(g.early_diff)}, final (epoch {g.final_epoch}) "
                      f"{num(g.final_diff)}" for lab, g in zip(label, groups.itertuples()))
    spread = "; ".join(f"{lab}: {g.spread}" for lab, g in zip(label, groups.itertuples()))
    n = "; ".join(f"{lab}: {g.seeds} seed pair(s)" for lab, g in zip(label, groups.itertuples()))
    return value, spread, n


def _mitigated(training: pd.DataFrame, default_wd: dict, kind: str) -> pd.Series:
    default = np.isclose(training.weight_decay.astype(float), training.model.map(default_wd))
    if kind == "cut":
        return (training.cut > 1) & (training.gradscale == 0) & default
    return (training.gradscale > 0) & (training.cut == 1) & default


THRESHOLD = (f"early difference > {num(EARLY_MIN_DIFF)} (paired CI over seeds above 0 with >= {MIN_SEEDS_FOR_CI} "
             f"seeds, else in every seed) and final difference >= {num(100 * FINAL_MIN_DIFF)} point, in every group")


def c11(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text, statistic = ("Cut-initialization speeds up convergence",
                       "cut-init (c as configured) minus baseline, SGD: test kNN accuracy at the earliest evaluated "
                       "epoch and at the last")
    sgd = training[training.optimizer == "sgd"]
    groups = group_results(paired(sgd, _mitigated(sgd, default_wd, "cut"), default_wd), resamples, seed)
    if groups.empty:
        return row("C11", text, statistic, THRESHOLD, holds=None,
                   reason="no SGD cut-init run paired with a baseline run (same model, dataset, seed)")
    value, spread, n = _describe(groups)
    return row("C11", text, statistic, THRESHOLD, value, spread, n, bool(groups.holds.all()))


def c12(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text, statistic = ("GradScale speeds up convergence, more so on imbalanced data",
                       "GradScale (p as configured) minus baseline, SGD: test kNN accuracy at the earliest evaluated "
                       "epoch and at the last, on balanced and imbalanced data")
    threshold = THRESHOLD + "; and imbalanced early gain > balanced early gain (imbalanced set vs its parent)"
    sgd = training[training.optimizer == "sgd"]
    groups = group_results(paired(sgd, _mitigated(sgd, default_wd, "gradscale"), default_wd), resamples, seed)
    if groups.empty:
        return row("C12", text, statistic, threshold, holds=None,
                   reason="no SGD GradScale run paired with a baseline run (same model, dataset, seed)")
    value, spread, n = _describe(groups)
    imbalanced, balanced = groups[groups.imbalanced], groups[~groups.imbalanced]
    matched = imbalanced.merge(balanced, left_on=["model", "mitigation", "source"],
                               right_on=["model", "mitigation", "dataset"], suffixes=("", "_bal"))
    if matched.empty:
        return row("C12", text, statistic, threshold, value, spread, n, holds=None,
                   reason="needs GradScale/baseline pairs on both an imbalanced dataset and its balanced parent")
    larger = bool((matched.early_diff > matched.early_diff_bal).all())
    value += "; imbalanced minus balanced early gain: " + ", ".join(
        f"{m.dataset} vs {m.dataset_bal}: {num(m.early_diff - m.early_diff_bal)}" for m in matched.itertuples())
    return row("C12", text, statistic, threshold, value, spread, n, bool(groups.holds.all()) and larger)


def c14(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text = "Under Adam, too, the mitigations speed up early training (paper setup text; exact statement a [GAP])"
    statistic = "under Adam: cut-init and GradScale minus baseline test kNN accuracy at the earliest evaluated " \
                "epoch; beside it, Adam's vs SGD's baseline norm growth"
    threshold = f"early difference > {num(EARLY_MIN_DIFF)} (paired CI over seeds above 0 with >= {MIN_SEEDS_FOR_CI} " \
                "seeds, else in every seed) for every mitigation under Adam"
    adam = training[training.optimizer == "adam"]
    if adam.empty:
        return row("C14", text, statistic, threshold, holds=None, reason="no Adam runs in this config")
    mitigated = _mitigated(adam, default_wd, "cut") | _mitigated(adam, default_wd, "gradscale")
    groups = group_results(paired(adam, mitigated, default_wd), resamples, seed, check_final=False)
    growth = training[is_baseline(training, default_wd)].groupby("optimizer").norm_growth.mean()
    note = "baseline norm growth: " + ", ".join(f"{o} {num(g)}" for o, g in growth.items())
    if groups.empty:
        return row("C14", text, statistic, threshold, value=note, holds=None,
                   reason="no Adam cut-init or GradScale run paired with an Adam baseline run")
    value, spread, n = _describe(groups)
    return row("C14", text, statistic, threshold, f"{value}; {note}", spread, n, bool(groups.holds.all()))
