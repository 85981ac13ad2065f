"""Claims C5, C7-C10 and C13: what the trained runs show, checked with the pre-registered rules of §7.1.

Section 5's claims (C7-C9) concern models trained the usual way on balanced data, so they read the *baseline* runs
(no cut, no GradScale, the model's default weight decay) of balanced datasets; C10 reads baseline runs of imbalanced
datasets. A rule must hold in every run group (model x optimizer x dataset) it reads. The thresholds are the rules'
constants (paper-reference §7.1), fixed before any result; never adjust them to results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.verdict import Outcome, ci, ci_outcome, judge, num, row
from embnorm.analysis.mitigation import is_baseline
from embnorm.analysis.stats import spearman

C5_MIN_GROWTH = 1.0  # §7.1 C5: final / initial mean projector norm > 1 in every default-weight-decay run
C7_MAX_RATIO = 1.0  # §7.1 C7: both OOD ratios < 1 and below the ID-test ratio, every seed, each trained direction
C8_MIN_RHO = 0.0  # §7.1 C8: per-sample and within-class Spearman > 0 with the CI above 0
C9_AGREEMENT_MIN, C9_ENTROPY_MAX = 0.0, 0.0  # §7.1 C9: agreement rho > 0, entropy rho < 0, each CI excluding 0
C10_MIN_RHO = 0.0  # §7.1 C10: Spearman(class size, class mean norm) > 0 in every seed
C13_RHO = -1.0  # §7.1 C13: final norm strictly decreasing in weight decay (Spearman = -1)
C13_MIN_VALUES = 3  # a sweep C13 reads has >= 3 weight decays (§7 names four; with two, Spearman is +-1 by construction)


def baseline(frame: pd.DataFrame, default_wd: dict, imbalanced: bool | None = None) -> pd.DataFrame:
    if frame.empty:
        return frame
    keep = is_baseline(frame, default_wd)
    if imbalanced is not None:
        keep &= frame.imbalanced.astype(bool) == imbalanced
    return frame[keep]


def c5(training: pd.DataFrame, default_wd: dict) -> dict:
    """Read on standard training (§7.1 amendment): unmitigated runs (no cut, no GradScale) with the model's default
    weight decay decide; mitigated runs with the default weight decay are listed beside them, outside the verdict."""
    text, statistic = ("Norms grow during SSL training",
                       "per run: final / initial mean projector norm (fixed probe batch of ID-train images)")
    threshold = f"> {num(C5_MIN_GROWTH)} in every unmitigated run with the model's default weight decay"
    default = training[np.isclose(training.weight_decay.astype(float), training.model.map(default_wd))]
    unmitigated = is_baseline(default, default_wd).to_numpy(bool)
    runs, mitigated = default[unmitigated], default[~unmitigated]
    beside = ("mitigated, not in the verdict: " + "; ".join(f"{r.run_id}: {num(r.norm_growth)}"
                                                           for r in mitigated.itertuples())) if len(mitigated) else ""
    if runs.empty:
        return row("C5", text, statistic, threshold, value=beside, holds=None,
                   reason="no unmitigated run (no cut, no GradScale) uses its model's default weight decay")
    value = "; ".join(f"{r.run_id}: {num(r.norm_growth)}" for r in runs.itertuples())
    return row("C5", text, statistic, threshold, value=value + (f" | {beside}" if beside else ""),
               spread=f"min {num(runs.norm_growth.min())}, max {num(runs.norm_growth.max())}",
               n=f"{len(runs)} unmitigated runs ({', '.join(sorted(runs.model.unique()))})",
               holds=bool((runs.norm_growth > C5_MIN_GROWTH).all()))


def missing_directions(directions: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The reverse OOD directions (B trained, A as OOD) not trained for each trained (A, B); §5.1 trains both."""
    return sorted({(b, a) for a, b in directions} - set(directions))


def c7(ood: pd.DataFrame, default_wd: dict) -> dict:
    text = "OOD inputs have smaller norms than ID inputs (Fig. 3)"
    statistic = "per run: mean norm of OOD train and OOD test / ID-train mean, vs ID test / ID-train mean; AUROC"
    threshold = f"both OOD ratios < {num(C7_MAX_RATIO)} and below the ID-test ratio, in every seed, for both " \
                "directions (A -> B and B -> A)"
    runs = baseline(ood, default_wd, imbalanced=False)
    runs = runs[runs.run_id.isin(runs[runs.role == "ood_test"].run_id)] if not runs.empty else runs
    if runs.empty:
        return row("C7", text, statistic, threshold, holds=None,
                   reason="no baseline run on a balanced dataset with an OOD partner")
    parts, ok = [], True
    for run_id, f in runs.groupby("run_id", sort=False):
        ratio = f.set_index("role").ratio_to_id_train
        good = ratio.ood_train < C7_MAX_RATIO and ratio.ood_test < C7_MAX_RATIO and \
            max(ratio.ood_train, ratio.ood_test) < ratio.id_test
        ok &= bool(good)
        auroc = f[f.role == "ood_test"].auroc_id_vs_ood.iloc[0]
        parts.append(f"{f.model.iloc[0]} {f.train_dataset.iloc[0]}->{f[f.role == 'ood_test'].dataset.iloc[0]} "
                     f"s{f.seed.iloc[0]}: OOD train {num(ratio.ood_train)}, OOD test {num(ratio.ood_test)}, "
                     f"ID test {num(ratio.id_test)}, AUROC {num(auroc)}")
    tests = runs[runs.role == "ood_test"]
    directions = set(zip(tests.train_dataset, tests.dataset))
    n = f"{runs.run_id.nunique()} runs, {len(directions)} trained direction(s)"
    missing = missing_directions(directions)
    if missing and ok:  # a failed direction refutes the claim; a missing one leaves it unmeasured
        return row("C7", text, statistic, threshold, value="; ".join(parts), n=n, holds=None,
                   reason="the reverse direction is not trained: " + ", ".join(f"{a} -> {b}" for a, b in missing))
    return row("C7", text, statistic, threshold, value="; ".join(parts), n=n, holds=ok)


def _correlation_parts(stats: pd.DataFrame, columns=("rho", "rho_within")) -> tuple[str, str, str]:
    value, spread, n = [], [], []
    for r in stats.itertuples():
        label = f"{r.model} {r.optimizer} / {r.dataset}"
        value.append(f"{label}: " + ", ".join(
            f"{c} {num(getattr(r, c))} {ci(getattr(r, c + '_ci_lo'), getattr(r, c + '_ci_hi'))}" for c in columns))
        spread.append(f"{label}: " + ("one seed, no seed spread" if r.n_seeds < 2 else "seed sd " + ", ".join(
            f"{c} {num(getattr(r, c + '_seed_sd'))}" for c in columns)))
        n.append(f"{label}: {r.n_samples} samples, {r.n_seeds} seed(s)")
    return "; ".join(value), "; ".join(spread), "; ".join(n)


def _chance_note(training: pd.DataFrame, stats: pd.DataFrame) -> str:
    """The test kNN accuracy against chance: a confidence statistic means little on a model that learned nothing."""
    notes = []
    for r in stats.itertuples():
        runs = training[(training.model == r.model) & (training.optimizer == r.optimizer)
                        & (training.dataset == r.dataset) & (training.mitigation == r.mitigation)]
        if len(runs):
            notes.append(f"{r.model} / {r.dataset}: test kNN {num(runs.final_knn_acc.mean())} (at initialisation "
                         f"{num(runs.init_knn_acc.mean())}) vs chance {num(1 / r.n_classes)}")
    return ("read only if the final test kNN is far above chance and above its value at initialisation ("
            + "; ".join(notes) + ")") if notes else ""


def correlation_outcomes(stats: pd.DataFrame, column: str, threshold: float, above: bool) -> list[Outcome]:
    """Per group: the statistic's CI above (or below) the threshold; a CI containing 0 and the threshold is undecided."""
    return [ci_outcome(f"{r.model} {r.optimizer} / {r.dataset} {column}", getattr(r, column + "_ci_lo"),
                       getattr(r, column + "_ci_hi"), threshold, above) for r in stats.itertuples()]


def c8(knn_stats: pd.DataFrame, default_wd: dict) -> dict:
    text = "The norm predicts kNN correctness (Fig. 4 left)"
    statistic = "per-sample Spearman(norm, leave-one-out kNN correct) on ID train, and its within-class mean"
    threshold = f"both > {num(C8_MIN_RHO)} with CI above {num(C8_MIN_RHO)} in every baseline group; the bucket " \
                "curve is shown but does not decide"
    stats = baseline(knn_stats, default_wd, imbalanced=False)
    if stats.empty:
        return row("C8", text, statistic, threshold, holds=None, reason="no baseline run on a balanced dataset")
    value, spread, n = _correlation_parts(stats)
    holds, undecided = judge(correlation_outcomes(stats, "rho", C8_MIN_RHO, above=True)
                             + correlation_outcomes(stats, "rho_within", C8_MIN_RHO, above=True))
    return row("C8", text, statistic, threshold, value, spread, n, holds, inconclusive=undecided)


def c9(human_stats: pd.DataFrame, training: pd.DataFrame, default_wd: dict) -> dict:
    """Two halves, each needed (§7.1 amendment): agreement with human labels on ID train, and CIFAR-10H-style label
    entropy on ID test. A half with no baseline group is `not measured`, and the reason names it; an empty half
    never passes vacuously."""
    text = "The norm tracks human confidence (Fig. 4 middle/right)"
    statistic = "per-sample Spearman(norm, human label = clean label) on ID train; Spearman(norm, CIFAR-10H-style " \
                "label entropy) on ID test"
    threshold = f"the first > {num(C9_AGREEMENT_MIN)} and the second < {num(C9_ENTROPY_MAX)}, each with its CI " \
                "excluding 0, in every baseline group that has them; both halves measured"
    stats = baseline(human_stats, default_wd, imbalanced=False)
    agree = stats[stats.measure == "human_agreement"] if not stats.empty else stats
    entropy = stats[stats.measure == "human_entropy"] if not stats.empty else stats
    if agree.empty and entropy.empty:
        return row("C9", text, statistic, threshold, holds=None,
                   reason="no baseline run on a balanced dataset with human labels (datasets.<name>.human_labels)")
    (va, sa, na), (ve, se, ne) = _correlation_parts(agree), _correlation_parts(entropy)
    value = f"agreement: {va or 'not measured'} | entropy: {ve or 'not measured'}"
    spread = f"agreement: {sa or 'n/a'} | entropy: {se or 'n/a'}"
    n = f"agreement: {na or 0} | entropy: {ne or 0}"
    missing = [half for half, frame in (("agreement (human labels on ID train)", agree),
                                        ("entropy (CIFAR-10H-style labels on ID test)", entropy)) if frame.empty]
    if missing:
        return row("C9", text, statistic, threshold, value, spread, n, holds=None,
                   reason=f"the {missing[0]} half is not measured (no baseline group has it); the other half alone "
                          "does not decide")
    holds = bool(((agree.rho > C9_AGREEMENT_MIN) & (agree.rho_ci_lo > 0)).all()
                 and ((entropy.rho < C9_ENTROPY_MAX) & (entropy.rho_ci_hi < 0)).all())
    return row("C9", text, statistic, threshold, value, spread, n, holds=holds,
               reason=_chance_note(training, pd.concat([agree, entropy]).drop_duplicates(
                   ["model", "optimizer", "dataset", "mitigation"])))


def c10(classes: pd.DataFrame, default_wd: dict) -> dict:
    text = "Minority classes get smaller norms in imbalanced SSL"
    statistic = "per imbalanced baseline run: Spearman(class size, class mean norm of its ID-train images)"
    threshold = f"> {num(C10_MIN_RHO)} in every seed"
    runs = baseline(classes, default_wd, imbalanced=True)
    if runs.empty:
        return row("C10", text, statistic, threshold, holds=None, reason="no baseline run on an imbalanced dataset")
    per_run = {run_id: spearman(f.n_train, f.train_norm_mean) for run_id, f in runs.groupby("run_id", sort=False)}
    return row("C10", text, statistic, threshold,
               value="; ".join(f"{r}: {num(v)}" for r, v in per_run.items()),
               spread=f"min {num(min(per_run.values()))}, max {num(max(per_run.values()))}",
               n=f"{len(per_run)} runs, {runs['class'].nunique()} classes each",
               holds=all(v > C10_MIN_RHO for v in per_run.values()))


def sweeps_by_model(sweep: pd.DataFrame) -> dict[str, list[str]]:
    """The sweeps C13 reads, by model: those with >= C13_MIN_VALUES distinct weight decays."""
    if sweep.empty:
        return {}
    sizes = sweep.groupby(["model", "sweep"], sort=False).weight_decay.nunique()
    kept = sizes[sizes >= C13_MIN_VALUES].reset_index()
    return {m: f.sweep.tolist() for m, f in kept.groupby("model", sort=False)}


def c13(sweep: pd.DataFrame, models: list[str]) -> dict:
    """`models`: the models the config trains; the rule reads the sweep of each (§7.1 C13)."""
    text = "Weight decay limits norm growth"
    statistic = "per weight-decay sweep (runs equal but for weight decay): Spearman(weight decay, final mean " \
                "projector norm)"
    threshold = f"= {num(C13_RHO)} (strictly decreasing) in every sweep of >= {C13_MIN_VALUES} weight decays, " \
                "for each model"
    read = sweeps_by_model(sweep)
    if not read:
        return row("C13", text, statistic, threshold, holds=None,
                   reason=f"no weight-decay sweep of >= {C13_MIN_VALUES} values (runs that differ only in weight "
                          "decay) in this config")
    parts, ok = [], True
    for label, f in sweep[sweep.sweep.isin([s for ss in read.values() for s in ss])].groupby("sweep", sort=False):
        f = f.sort_values("weight_decay")
        strictly = bool((np.diff(f.final_projector_norm.to_numpy()) < 0).all())
        ok &= strictly
        parts.append(f"{label}: rho {num(spearman(f.weight_decay, f.final_projector_norm))} ("
                     + ", ".join(f"wd {num(w)} -> {num(v)}" for w, v in zip(f.weight_decay, f.final_projector_norm))
                     + ")")
    n = f"{sum(map(len, read.values()))} sweep(s) ({', '.join(f'{m} {len(s)}' for m, s in read.items())})"
    missing = sorted(set(models) - set(read))
    if missing and ok:  # a failing sweep refutes the claim; a model without a sweep leaves it unmeasured
        return row("C13", text, statistic, threshold, value="; ".join(parts), n=n, holds=None,
                   reason=f"no weight-decay sweep of >= {C13_MIN_VALUES} values for {', '.join(missing)}")
    return row("C13", text, statistic, threshold, value="; ".join(parts), n=n, holds=ok)
