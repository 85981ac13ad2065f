"""Claims C11, C12 and C14: do cut-initialization and GradScale speed up training (and does that hold under Adam)?

Each mitigated run is paired with the baseline run of the same model, optimizer, dataset and seed (baseline: no cut,
no GradScale, the model's default weight decay). The differences are in test kNN accuracy (fractions; 0.01 is one
point) at the earliest evaluated epoch after initialisation and at the last epoch, from the training summary.
Rules (paper-reference §7.1 and its amendment of 2026-11-30; constants fixed before any result, never adjusted to
results):
- the rule needs >= 3 seed pairs per group (a paired CI over seeds); a group with fewer is `inconclusive` (the
  original rule's "every seed if fewer than 3 seeds" is superseded by the amendment);
- early difference > 0: the paired 95% bootstrap CI over seeds lies above 0; a CI that contains 0 is inconclusive;
- final difference (mean over seeds) >= -1 point; a failure whose CI contains both 0 and -1 point is inconclusive;
- C12 also: the imbalanced early gain exceeds the balanced early gain (the imbalanced dataset against its parent,
  paired by seed);
- C14: the early gain of every mitigation > 0 under Adam as well (the paper's exact Adam statement is a [GAP]).
Every comparison group (model x dataset) a rule reads must satisfy it. Each group reports its CIs with their widths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.verdict import (MIN_SEEDS, Outcome, ci, ci_outcome, judge, mean_outcome, num, row,
                                             seeds_outcome)
from embnorm.analysis.mitigation import is_baseline
from embnorm.analysis.stats import paired_seed_ci

EARLY_MIN_DIFF = 0.0  # §7.1 C11/C12/C14: early difference > 0
FINAL_MIN_DIFF = -0.01  # §7.1 C11/C12: final difference >= -1 point (accuracies are fractions)
GROUP = ["model", "optimizer", "mitigation", "dataset"]


def paired(training: pd.DataFrame, mitigated: pd.Series, default_wd: dict) -> pd.DataFrame:
    """One row per mitigated run and its baseline partner: early and final kNN differences."""
    base = training[is_baseline(training, default_wd)]
    keys = ["model", "optimizer", "dataset", "seed"]
    pairs = training[mitigated].merge(base, on=keys, suffixes=("", "_base"))
    pairs = pairs[pairs.early_epoch == pairs.early_epoch_base]
    return pairs.assign(early_diff=pairs.early_knn_acc - pairs.early_knn_acc_base,
                        final_diff=pairs.final_knn_acc - pairs.final_knn_acc_base)


def _mitigated(training: pd.DataFrame, default_wd: dict, kind: str) -> pd.Series:
    default = np.isclose(training.weight_decay.astype(float), training.model.map(default_wd))
    if kind == "cut":
        return (training.cut > 1) & (training.gradscale == 0) & default
    return (training.gradscale > 0) & (training.cut == 1) & default


def mitigation_pairs(training: pd.DataFrame, default_wd: dict, optimizer: str, kinds=("cut", "gradscale")):
    """The (mitigated, baseline) pairs a rule reads: runs of one optimizer, mitigations of the given kinds. The plan
    check (`plan.py`) calls this on the run table, so a config is judged by the code that judges its results."""
    runs = training[training.optimizer == optimizer]
    mitigated = np.logical_or.reduce([_mitigated(runs, default_wd, k) for k in kinds])
    return paired(runs, pd.Series(mitigated, index=runs.index), default_wd)


def _label(model, optimizer, mitigation, dataset) -> str:
    return f"{model} {optimizer} {mitigation} / {dataset}"


def group_results(pairs: pd.DataFrame, resamples: int, seed: int, check_final: bool = True) -> pd.DataFrame:
    rows = []
    for key, f in pairs.groupby(GROUP, sort=False):
        label = _label(*key)
        early, final = f.early_diff.to_numpy(), f.final_diff.to_numpy()
        too_few = seeds_outcome(label, len(f))
        if too_few:
            outcomes = [too_few]
            spread = "per seed: early " + ", ".join(num(d) for d in early)
        else:
            lo, hi = paired_seed_ci(early, resamples, seed)
            flo, fhi = paired_seed_ci(final, resamples, seed)
            outcomes = [ci_outcome(f"{label} early difference", lo, hi, EARLY_MIN_DIFF)]
            if check_final:
                outcomes.append(mean_outcome(f"{label} final difference", float(final.mean()), flo, fhi,
                                             FINAL_MIN_DIFF))
            spread = f"early {ci(lo, hi)}; final {ci(flo, fhi)}"
        rows.append({**dict(zip(GROUP, key)), "source": f.source.iloc[0], "imbalanced": bool(f.imbalanced.iloc[0]),
                     "early_epoch": int(f.early_epoch.iloc[0]), "final_epoch": int(f.epochs.iloc[0]),
                     "early_diff": early.mean(), "final_diff": final.mean(), "seeds": len(f), "spread": spread,
                     "outcomes": outcomes})
    return pd.DataFrame(rows)


def _describe(groups: pd.DataFrame) -> tuple[str, str, str]:
    label = groups.model + " " + groups.optimizer + " " + groups.mitigation + " / " + groups.dataset
    value = "; ".join(f"{lab}: early (epoch {g.early_epoch}) {num(g.early_diff)}, final (epoch {g.final_epoch}) "
                      f"{num(g.final_diff)}" for lab, g in zip(label, groups.itertuples()))
    spread = "; ".join(f"{lab}: {g.spread}" for lab, g in zip(label, groups.itertuples()))
    n = "; ".join(f"{lab}: {g.seeds} seed pair(s)" for lab, g in zip(label, groups.itertuples()))
    return value, spread, n


def _outcomes(groups: pd.DataFrame) -> list[Outcome]:
    return [o for outcomes in groups.outcomes for o in outcomes]


THRESHOLD = (f"early difference > {num(EARLY_MIN_DIFF)} with the paired 95% CI over >= {MIN_SEEDS} seeds above 0, "
             f"and final difference >= {num(100 * FINAL_MIN_DIFF)} point, in every group (fewer seeds, or a CI "
             "containing 0 and the threshold: inconclusive)")


def c11(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text, statistic = ("Cut-initialization speeds up convergence",
                       "cut-init (c as configured) minus baseline, SGD: test kNN accuracy at the earliest evaluated "
                       "epoch and at the last")
    groups = group_results(mitigation_pairs(training, default_wd, "sgd", ("cut",)), resamples, seed)
    if groups.empty:
        return row("C11", text, statistic, THRESHOLD, holds=None,
                   reason="no SGD cut-init run paired with a baseline run (same model, dataset, seed)")
    value, spread, n = _describe(groups)
    holds, undecided = judge(_outcomes(groups))
    return row("C11", text, statistic, THRESHOLD, value, spread, n, holds, inconclusive=undecided)


def gain_difference(pairs: pd.DataFrame, imbalanced: str, balanced: str, model: str, mitigation: str):
    """Per seed: imbalanced early gain minus balanced early gain (same model, mitigation and seed)."""
    sel = (pairs.model == model) & (pairs.mitigation == mitigation)
    per_seed = pairs[sel & (pairs.dataset == imbalanced)].merge(pairs[sel & (pairs.dataset == balanced)],
                                                                 on="seed", suffixes=("", "_bal"))
    return (per_seed.early_diff - per_seed.early_diff_bal).to_numpy()


def c12(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text, statistic = ("GradScale speeds up convergence, more so on imbalanced data",
                       "GradScale (p as configured) minus baseline, SGD: test kNN accuracy at the earliest evaluated "
                       "epoch and at the last, on balanced and imbalanced data")
    threshold = THRESHOLD + "; and imbalanced early gain > balanced early gain (imbalanced set vs its parent)"
    pairs = mitigation_pairs(training, default_wd, "sgd", ("gradscale",))
    groups = group_results(pairs, resamples, seed)
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
    outcomes, parts = _outcomes(groups), []
    for m in matched.itertuples():
        label = f"{m.model} {m.mitigation} {m.dataset} vs {m.dataset_bal} gain difference"
        d = gain_difference(pairs, m.dataset, m.dataset_bal, m.model, m.mitigation)
        too_few = seeds_outcome(label, len(d))
        if too_few:
            outcomes.append(too_few)
            parts.append(f"{m.dataset} vs {m.dataset_bal}: {num(d.mean()) if len(d) else 'nan'}")
            continue
        lo, hi = paired_seed_ci(d, resamples, seed)
        outcomes.append(mean_outcome(label, float(d.mean()), lo, hi, 0.0, strict=True))
        parts.append(f"{m.dataset} vs {m.dataset_bal}: {num(d.mean())} ({ci(lo, hi)})")
    value += "; imbalanced minus balanced early gain: " + ", ".join(parts)
    holds, undecided = judge(outcomes)
    return row("C12", text, statistic, threshold, value, spread, n, holds, inconclusive=undecided)


def c14(training: pd.DataFrame, default_wd: dict, resamples: int, seed: int) -> dict:
    text = "Under Adam, too, the mitigations speed up early training (paper setup text; exact statement a [GAP])"
    statistic = "under Adam: cut-init and GradScale minus baseline test kNN accuracy at the earliest evaluated " \
                "epoch; beside it, Adam's vs SGD's baseline norm growth"
    threshold = f"early difference > {num(EARLY_MIN_DIFF)} with the paired 95% CI over >= {MIN_SEEDS} seeds above " \
                "0, for every mitigation under Adam (fewer seeds, or a CI containing 0: inconclusive)"
    if (training.optimizer == "adam").sum() == 0:
        return row("C14", text, statistic, threshold, holds=None, reason="no Adam runs in this config")
    groups = group_results(mitigation_pairs(training, default_wd, "adam"), resamples, seed, check_final=False)
    growth = training[is_baseline(training, default_wd)].groupby("optimizer").norm_growth.mean()
    note = "baseline norm growth: " + ", ".join(f"{o} {num(g)}" for o, g in growth.items())
    if groups.empty:
        return row("C14", text, statistic, threshold, value=note, holds=None,
                   reason="no Adam cut-init or GradScale run paired with an Adam baseline run")
    value, spread, n = _describe(groups)
    holds, undecided = judge(_outcomes(groups))
    return row("C14", text, statistic, threshold, f"{value}; {note}", spread, n, holds, inconclusive=undecided)
