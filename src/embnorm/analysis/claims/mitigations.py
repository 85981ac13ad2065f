"""Claims C11, C12 and C14: do cut-initialization and GradScale speed up training (and does that hold under Adam)?

Each mitigated run is paired with the baseline run of the same model, optimizer, dataset and seed (baseline: no cut,
no GradScale, the model's default weight decay). The differences are in test kNN accuracy (fractions; 0.01 is one
point) at the early evaluation (the training summary's `early_epoch`) and at the last epoch.
Rules (paper-reference §7.1 as of 2026-11-30; constants fixed before any result, never adjusted to
results):
- the rule needs >= 3 seed pairs per group (a paired CI over seeds); a group with fewer is `inconclusive` (the
  original rule's "every seed if fewer than 3 seeds" is superseded by the amendment);
- early difference > 0: the paired 95% CI over seeds (`stats.paired_seed_ci`) lies above 0; a CI that contains 0 is
  inconclusive;
- final difference (mean over seeds) >= -1 point; a failure whose CI contains both 0 and -1 point is inconclusive;
- C12 also: the imbalanced early gain exceeds the balanced early gain (the imbalanced dataset against its parent,
  paired by seed);
- C14: the early gain of every mitigation > 0 under Adam as well (the paper's exact Adam statement is a [GAP]).
Every comparison group (model x dataset) a rule reads must satisfy it. Each group reports its CIs with their widths.

The amended reading (2026-12-02) reads "early" by the run's step budget, as the training summary's
`early_epoch` already is for both readings; it differs only in C12's last condition, which it reads only where the
baseline runs of both the imbalanced set and its balanced parent pass the read-gate (`gate.py`): a gain comparison
between encoders that did not learn compares noise. Each rule has a planner (`cN_plan`) that applies its pairing to a
run table before anything is trained and says why the config cannot decide the claim ('' if it can).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.gate import group_gate
from embnorm.analysis.claims.inputs import Inputs
from embnorm.analysis.claims.verdict import (AMENDED, MIN_SEEDS, Outcome, ci, ci_outcome, judge, mean_outcome, num,
                                             result, seeds_outcome)
from embnorm.analysis.mitigation import is_baseline
from embnorm.analysis.stats import paired_seed_ci

EARLY_MIN_DIFF = 0.0  # §7.1 C11/C12/C14: early difference > 0
FINAL_MIN_DIFF = -0.01  # §7.1 C11/C12: final difference >= -1 point (accuracies are fractions)
GROUP = ["model", "optimizer", "mitigation", "dataset"]


def paired(training: pd.DataFrame, mitigated: pd.Series, default_wd: dict) -> pd.DataFrame:
    """One row per mitigated run and its baseline partner: early and final kNN differences. `same_early` says whether
    both runs' early evaluations are at the same epoch (they are when both follow the same step budget and warm-up);
    a pair where they differ compares two different moments of training, and `group_results` leaves it out by name."""
    base = training[is_baseline(training, default_wd)]
    keys = ["model", "optimizer", "dataset", "seed"]
    pairs = training[mitigated].merge(base, on=keys, suffixes=("", "_base"))
    return pairs.assign(same_early=pairs.early_epoch == pairs.early_epoch_base,
                        early_diff=pairs.early_knn_acc - pairs.early_knn_acc_base,
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
        apart = f[~f.same_early]
        left_out = "; ".join(f"s{r.seed} left out: early evaluation at epoch {r.early_epoch} vs the baseline's "
                             f"{r.early_epoch_base}" for r in apart.itertuples())
        f = f[f.same_early]
        if f.empty:
            rows.append({**dict(zip(GROUP, key)), "source": apart.source.iloc[0],
                         "imbalanced": bool(apart.imbalanced.iloc[0]), "early_epoch": -1,
                         "final_epoch": int(apart.epochs.iloc[0]), "early_diff": np.nan, "final_diff": np.nan,
                         "seeds": 0, "spread": left_out,
                         "outcomes": [Outcome(False, f"{label}: no pair with the baseline's early evaluation")]})
            continue
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
        spread += f"; {left_out}" if left_out else ""
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
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}


def unpaired(optimizer: str, what: str) -> str:
    """The reason a mitigation rule reads nothing: no mitigated run has a baseline partner."""
    return f"no {OPTIMIZER_NAMES[optimizer]} {what} run paired with a baseline run (same model, dataset, seed)"


def too_few_seeds(pairs: pd.DataFrame) -> str:
    """The groups of (mitigated, baseline) pairs with fewer seeds than a paired CI needs, with their counts."""
    sizes = pairs.groupby(GROUP, sort=False).size()
    return "; ".join(f"{' '.join(map(str, key[:3]))} / {key[3]}: {n} seed(s), the rule needs >= {MIN_SEEDS}"
                     for key, n in sizes.items() if n < MIN_SEEDS)


def _pairs_plan(training: pd.DataFrame, default_wd: dict, optimizer: str, kinds, what: str) -> str:
    pairs = mitigation_pairs(training, default_wd, optimizer, kinds)
    return unpaired(optimizer, what) if pairs.empty else too_few_seeds(pairs)


def c11(inp: Inputs) -> dict:
    groups = group_results(mitigation_pairs(inp.training, inp.default_wd, "sgd", ("cut",)), inp.resamples, inp.seed)
    if groups.empty:
        return result(THRESHOLD, holds=None, reason=unpaired("sgd", "cut-init"))
    value, spread, n = _describe(groups)
    holds, undecided = judge(_outcomes(groups))
    return result(THRESHOLD, value, spread, n, holds, inconclusive=undecided)


def c11_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    return _pairs_plan(training, default_wd, "sgd", ("cut",), "cut-init")


def gain_difference(pairs: pd.DataFrame, imbalanced: str, balanced: str, model: str, mitigation: str):
    """Per seed: imbalanced early gain minus balanced early gain (same model, mitigation and seed), from the pairs
    `group_results` reads (both runs evaluated early at the same epoch)."""
    sel = (pairs.model == model) & (pairs.mitigation == mitigation) & pairs.same_early
    per_seed = pairs[sel & (pairs.dataset == imbalanced)].merge(pairs[sel & (pairs.dataset == balanced)],
                                                                 on="seed", suffixes=("", "_bal"))
    return (per_seed.early_diff - per_seed.early_diff_bal).to_numpy()


C12_UNMATCHED = "needs GradScale/baseline pairs on both an imbalanced dataset and its balanced parent"
C12_THRESHOLD = THRESHOLD + "; and imbalanced early gain > balanced early gain (imbalanced set vs its parent)"


def _matched(groups: pd.DataFrame) -> pd.DataFrame:
    """GradScale groups on an imbalanced set beside the group on its balanced parent (same model and mitigation)."""
    imbalanced, balanced = groups[groups.imbalanced], groups[~groups.imbalanced]
    return imbalanced.merge(balanced, left_on=["model", "mitigation", "source"],
                            right_on=["model", "mitigation", "dataset"], suffixes=("", "_bal"))


def _gate_comparison(inp: Inputs, m) -> Outcome | None:
    """Amended C12: undecided unless the baseline runs of both sets of a comparison pass the read-gate."""
    passed, failed = group_gate(inp.training, inp.default_wd, imbalanced=None)
    closed = [failed.get((m.model, m.optimizer, d), f"{m.model} {m.optimizer} / {d}: no baseline run to read the "
                                                    "read-gate on")
              for d in (m.dataset, m.dataset_bal) if (m.model, m.optimizer, d) not in passed]
    if closed:
        return Outcome(False, f"{m.model} {m.mitigation} {m.dataset} vs {m.dataset_bal} gain comparison not read "
                              f"({AMENDED}: both sets must pass the read-gate): " + "; ".join(closed))
    return None


def _c12(inp: Inputs, gate_comparison: bool) -> dict:
    pairs = mitigation_pairs(inp.training, inp.default_wd, "sgd", ("gradscale",))
    threshold = C12_THRESHOLD + ("; the comparison only where both sets' baseline runs pass the read-gate"
                                 if gate_comparison else "")
    groups = group_results(pairs, inp.resamples, inp.seed)
    if groups.empty:
        return result(threshold, holds=None, reason=unpaired("sgd", "GradScale"))
    value, spread, n = _describe(groups)
    matched = _matched(groups)
    if matched.empty:
        return result(threshold, value, spread, n, holds=None, reason=C12_UNMATCHED)
    outcomes, parts = _outcomes(groups), []
    for m in matched.itertuples():
        label = f"{m.model} {m.mitigation} {m.dataset} vs {m.dataset_bal} gain difference"
        d = gain_difference(pairs, m.dataset, m.dataset_bal, m.model, m.mitigation)
        closed = _gate_comparison(inp, m) if gate_comparison else None
        too_few = closed or seeds_outcome(label, len(d))
        if too_few:
            outcomes.append(too_few)
            parts.append(f"{m.dataset} vs {m.dataset_bal}: {num(d.mean()) if len(d) else 'nan'}")
            continue
        lo, hi = paired_seed_ci(d, inp.resamples, inp.seed)
        outcomes.append(mean_outcome(label, float(d.mean()), lo, hi, 0.0, strict=True))
        parts.append(f"{m.dataset} vs {m.dataset_bal}: {num(d.mean())} ({ci(lo, hi)})")
    value += "; imbalanced minus balanced early gain: " + ", ".join(parts)
    holds, undecided = judge(outcomes)
    return result(threshold, value, spread, n, holds, inconclusive=undecided)


def c12(inp: Inputs) -> dict:
    """Every GradScale group gains early and costs <= 1 point at the end; the imbalanced gain exceeds the balanced."""
    return _c12(inp, gate_comparison=False)


def c12_amended(inp: Inputs) -> dict:
    """As `c12`, but the imbalanced-vs-balanced comparison is read only where both sets pass the read-gate."""
    return _c12(inp, gate_comparison=True)


def c12_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    """C12's pairs, then its last condition: GradScale pairs on an imbalanced set and on its balanced parent (same
    model and mitigation) paired by seed, as `c12` matches them."""
    if gaps := _pairs_plan(training, default_wd, "sgd", ("gradscale",), "GradScale"):
        return gaps
    pairs = mitigation_pairs(training, default_wd, "sgd", ("gradscale",))
    imbalanced = pairs.imbalanced.astype(bool)
    per_seed = pairs[imbalanced].merge(pairs[~imbalanced], left_on=["model", "mitigation", "source", "seed"],
                                       right_on=["model", "mitigation", "dataset", "seed"], suffixes=("", "_bal"))
    if per_seed.empty:
        return C12_UNMATCHED
    sizes = per_seed.groupby(["model", "mitigation", "dataset", "dataset_bal"], sort=False).size()
    return "; ".join(f"{m} {g} {d} vs {b}: {n} seed(s), the rule needs >= {MIN_SEEDS}"
                     for (m, g, d, b), n in sizes.items() if n < MIN_SEEDS)


C14_NO_ADAM = "no Adam runs in this config"


def c14(inp: Inputs) -> dict:
    training = inp.training
    threshold = f"early difference > {num(EARLY_MIN_DIFF)} with the paired 95% CI over >= {MIN_SEEDS} seeds above " \
                "0, for every mitigation under Adam (fewer seeds, or a CI containing 0: inconclusive)"
    if (training.optimizer == "adam").sum() == 0:
        return result(threshold, holds=None, reason=C14_NO_ADAM)
    groups = group_results(mitigation_pairs(training, inp.default_wd, "adam"), inp.resamples, inp.seed,
                           check_final=False)
    growth = training[is_baseline(training, inp.default_wd)].groupby("optimizer").norm_growth.mean()
    note = "baseline norm growth: " + ", ".join(f"{o} {num(g)}" for o, g in growth.items())
    if groups.empty:
        return result(threshold, value=note, holds=None, reason=unpaired("adam", "cut-init or GradScale"))
    value, spread, n = _describe(groups)
    holds, undecided = judge(_outcomes(groups))
    return result(threshold, f"{value}; {note}", spread, n, holds, inconclusive=undecided)


def c14_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    if not (training.optimizer == "adam").any():
        return C14_NO_ADAM
    return _pairs_plan(training, default_wd, "adam", ("cut", "gradscale"), "cut-init or GradScale")
