"""Claims C5, C7-C10 and C13: what the trained runs show, checked with the rules of §7.1.

Section 5's claims (C7-C9) concern models trained the usual way on balanced data, so they read the *baseline* runs
(no cut, no GradScale, the model's default weight decay) of balanced datasets; C10 reads baseline runs of imbalanced
datasets. A rule must hold in every run group (model x optimizer x dataset) it reads. The thresholds are the rules'
constants (paper-reference §7.1), fixed before any result; never adjust them to results.

Each claim has its rule (`cN`, taking the claims' `Inputs`), an amended rule where the amended reading of 2026-12-02 changes
the statistic (`cN_amended`: C8 and C9 read two-level bootstrap CIs, C13 the seed-mean norms), and a planner
(`cN_plan`) that applies the rule's own run selection to a run table before anything is trained and says why the
config cannot decide the claim ('' if it can). A rule and its planner share the selection and the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.inputs import Inputs
from embnorm.analysis.claims.verdict import Outcome, ci, ci_outcome, judge, note, num, result, sample_ci
from embnorm.analysis.growth import SWEEP_KEY, weight_decay_sweep
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


C5_NO_RUNS = "no unmitigated run (no cut, no GradScale) uses its model's default weight decay"
C7_NO_RUNS = "no baseline run on a balanced dataset with an OOD partner"
C8_NO_RUNS = "no baseline run on a balanced dataset"
C9_NO_RUNS = "no baseline run on a balanced dataset with human labels (datasets.<name>.human_labels)"
C10_NO_RUNS = "no baseline run on an imbalanced dataset"


def c5_runs(frame: pd.DataFrame, default_wd: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(read, beside): unmitigated runs with the model's default weight decay, and the mitigated ones with it."""
    if frame.empty:
        return frame, frame
    default = frame[np.isclose(frame.weight_decay.astype(float), frame.model.map(default_wd))]
    unmitigated = is_baseline(default, default_wd).to_numpy(bool)
    return default[unmitigated], default[~unmitigated]


def head_norms(runs: pd.DataFrame) -> str:
    """Beside C5, not in its verdict: the initial -> final predictor-output norm (the tensor the loss differentiates
    in SimSiam and BYOL) and the norm of the affine parameters of a BatchNorm that ends the projector, per run that
    has them."""
    parts = []
    for name, label in (("predictor", "predictor output"), ("last_bn_affine", "projector's last BN affine")):
        init, final = f"init_{name}_norm", f"final_{name}_norm"
        if init not in runs:
            continue
        have = runs[runs[init].notna() & runs[final].notna()]
        if len(have):
            parts.append(f"{label} norm, not in the verdict: " + "; ".join(
                f"{r.run_id}: {num(getattr(r, init))} -> {num(getattr(r, final))}" for r in have.itertuples()))
    return " | ".join(parts)


def c5(inp: Inputs) -> dict:
    """Read on standard training (§7.1 amendment): unmitigated runs (no cut, no GradScale) with the model's default
    weight decay decide; mitigated runs with the default weight decay are listed beside them, outside the verdict."""
    threshold = f"> {num(C5_MIN_GROWTH)} in every unmitigated run with the model's default weight decay"
    runs, mitigated = c5_runs(inp.training, inp.default_wd)
    beside = ("mitigated, not in the verdict: " + "; ".join(f"{r.run_id}: {num(r.norm_growth)}"
                                                           for r in mitigated.itertuples())) if len(mitigated) else ""
    if runs.empty:
        return result(threshold, value=beside, holds=None, reason=C5_NO_RUNS)
    value = "; ".join(f"{r.run_id}: {num(r.norm_growth)}" for r in runs.itertuples())
    heads = head_norms(runs)
    return result(threshold, value=value + (f" | {beside}" if beside else "") + (f" | {heads}" if heads else ""),
                  spread=f"min {num(runs.norm_growth.min())}, max {num(runs.norm_growth.max())}",
                  n=f"{len(runs)} unmitigated runs ({', '.join(sorted(runs.model.unique()))})",
                  holds=bool((runs.norm_growth > C5_MIN_GROWTH).all()))


def c5_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    return C5_NO_RUNS if c5_runs(training, default_wd)[0].empty else ""


def missing_directions(directions: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The reverse OOD directions (B trained, A as OOD) not trained for each trained (A, B); §5.1 trains both."""
    return sorted({(b, a) for a, b in directions} - set(directions))


def reverse_missing(directions: set[tuple[str, str]]) -> str:
    """C7's reason when a trained direction's reverse is not trained ('' if none is missing)."""
    if missing := missing_directions(directions):
        return "the reverse direction is not trained: " + ", ".join(f"{a} -> {b}" for a, b in missing)
    return ""


def c7(inp: Inputs) -> dict:
    threshold = f"both OOD ratios < {num(C7_MAX_RATIO)} and below the ID-test ratio, in every seed, for both " \
                "directions (A -> B and B -> A)"
    runs = baseline(inp["norm_vs_ood"], inp.default_wd, imbalanced=False)
    runs = runs[runs.run_id.isin(runs[runs.role == "ood_test"].run_id)] if not runs.empty else runs
    if runs.empty:
        return result(threshold, holds=None, reason=C7_NO_RUNS)
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
    missing = reverse_missing(directions)
    if missing and ok:  # a failed direction refutes the claim; a missing one leaves it unmeasured
        return result(threshold, value="; ".join(parts), n=n, holds=None, reason=missing)
    return result(threshold, value="; ".join(parts), n=n, holds=ok)


def c7_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    balanced = baseline(training, default_wd, imbalanced=False)
    with_ood = balanced[balanced.ood.notna()] if not balanced.empty else balanced
    if with_ood.empty:
        return C7_NO_RUNS
    return reverse_missing(set(zip(with_ood.source, with_ood.ood)))


def _correlation_parts(stats: pd.DataFrame, columns=("rho", "rho_within"), kind: str = "ci") -> tuple[str, str, str]:
    value, spread, n = [], [], []
    for r in stats.itertuples():
        label = f"{r.model} {r.optimizer} / {r.dataset}"
        value.append(f"{label}: " + ", ".join(
            f"{c} {num(getattr(r, c))} {ci(getattr(r, f'{c}_{kind}_lo'), getattr(r, f'{c}_{kind}_hi'))}"
            for c in columns))
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


def correlation_outcomes(stats: pd.DataFrame, column: str, threshold: float, above: bool,
                         kind: str = "ci") -> list[Outcome]:
    """Per group: the statistic's CI above (or below) the threshold; a CI containing 0 and the threshold is undecided.
    `kind`: `ci` (samples pooled across seeds) or `ci2` (two-level bootstrap)."""
    return [ci_outcome(f"{r.model} {r.optimizer} / {r.dataset} {column}", getattr(r, f"{column}_{kind}_lo"),
                       getattr(r, f"{column}_{kind}_hi"), threshold, above) for r in stats.itertuples()]


def _c8(inp: Inputs, two_level: bool) -> dict:
    stats = baseline(inp["knn_spearman"], inp.default_wd, imbalanced=False)
    kind, fallback = sample_ci(stats.columns, two_level)
    threshold = f"both > {num(C8_MIN_RHO)} with {'two-level ' if kind == 'ci2' else ''}CI above {num(C8_MIN_RHO)} " \
                "in every baseline group; the bucket curve is shown but does not decide"
    if stats.empty:
        return result(threshold, holds=None, reason=C8_NO_RUNS)
    value, spread, n = _correlation_parts(stats, kind=kind)
    holds, undecided = judge(correlation_outcomes(stats, "rho", C8_MIN_RHO, True, kind)
                             + correlation_outcomes(stats, "rho_within", C8_MIN_RHO, True, kind))
    return note(result(threshold, value, spread, n, holds, inconclusive=undecided), fallback)


def c8(inp: Inputs) -> dict:
    """Per-sample and within-class Spearman(norm, kNN correct) with CIs over samples pooled across seeds."""
    return _c8(inp, two_level=False)


def c8_amended(inp: Inputs) -> dict:
    """As `c8`, with the two-level bootstrap CIs (seed spread inside the interval)."""
    return _c8(inp, two_level=True)


def c8_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    return C8_NO_RUNS if baseline(training, default_wd, imbalanced=False).empty else ""


def _c9(inp: Inputs, two_level: bool) -> dict:
    """Two halves, each needed (§7.1 amendment): agreement with human labels on ID train, and CIFAR-10H-style label
    entropy on ID test. A half with no baseline group is `not measured`, and the reason names it; an empty half
    never passes vacuously."""
    stats = baseline(inp["human_spearman"], inp.default_wd, imbalanced=False)
    kind, fallback = sample_ci(stats.columns, two_level)
    threshold = f"the first > {num(C9_AGREEMENT_MIN)} and the second < {num(C9_ENTROPY_MAX)}, each with its " \
                f"{'two-level ' if kind == 'ci2' else ''}CI excluding 0, in every baseline group that has them; both " \
                "halves measured"
    agree = stats[stats.measure == "human_agreement"] if not stats.empty else stats
    entropy = stats[stats.measure == "human_entropy"] if not stats.empty else stats
    if agree.empty and entropy.empty:
        return result(threshold, holds=None, reason=C9_NO_RUNS)
    (va, sa, na), (ve, se, ne) = _correlation_parts(agree, kind=kind), _correlation_parts(entropy, kind=kind)
    value = f"agreement: {va or 'not measured'} | entropy: {ve or 'not measured'}"
    spread = f"agreement: {sa or 'n/a'} | entropy: {se or 'n/a'}"
    n = f"agreement: {na or 0} | entropy: {ne or 0}"
    missing = [half for half, frame in (("agreement (human labels on ID train)", agree),
                                        ("entropy (CIFAR-10H-style labels on ID test)", entropy)) if frame.empty]
    if missing:
        return result(threshold, value, spread, n, holds=None,
                      reason=f"the {missing[0]} half is not measured (no baseline group has it); the other half "
                             "alone does not decide")
    holds = bool(((agree.rho > C9_AGREEMENT_MIN) & (agree[f"rho_{kind}_lo"] > 0)).all()
                 and ((entropy.rho < C9_ENTROPY_MAX) & (entropy[f"rho_{kind}_hi"] < 0)).all())
    reading = result(threshold, value, spread, n, holds=holds,
                     reason=_chance_note(inp.training, pd.concat([agree, entropy]).drop_duplicates(
                         ["model", "optimizer", "dataset", "mitigation"])))
    return note(reading, fallback)


def c9(inp: Inputs) -> dict:
    """Agreement and entropy halves with CIs over samples pooled across seeds."""
    return _c9(inp, two_level=False)


def c9_amended(inp: Inputs) -> dict:
    """As `c9`, with the two-level bootstrap CIs (seed spread inside the interval)."""
    return _c9(inp, two_level=True)


def c9_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    balanced = baseline(training, default_wd, imbalanced=False)
    return "" if (not balanced.empty and balanced.source.isin(set(human_sources)).any()) else C9_NO_RUNS


def c10(inp: Inputs) -> dict:
    runs = baseline(inp["class_metrics"], inp.default_wd, imbalanced=True)
    threshold = f"> {num(C10_MIN_RHO)} in every seed"
    if runs.empty:
        return result(threshold, holds=None, reason=C10_NO_RUNS)
    per_run = {run_id: spearman(f.n_train, f.train_norm_mean) for run_id, f in runs.groupby("run_id", sort=False)}
    return result(threshold, value="; ".join(f"{r}: {num(v)}" for r, v in per_run.items()),
                  spread=f"min {num(min(per_run.values()))}, max {num(max(per_run.values()))}",
                  n=f"{len(per_run)} runs, {runs['class'].nunique()} classes each",
                  holds=all(v > C10_MIN_RHO for v in per_run.values()))


def c10_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    return C10_NO_RUNS if baseline(training, default_wd, imbalanced=True).empty else ""


def sweeps_by_model(sweep: pd.DataFrame) -> dict[str, list[str]]:
    """The sweeps C13 reads, by model: those with >= C13_MIN_VALUES distinct weight decays."""
    if sweep.empty:
        return {}
    sizes = sweep.groupby(["model", "sweep"], sort=False).weight_decay.nunique()
    kept = sizes[sizes >= C13_MIN_VALUES].reset_index()
    return {m: f.sweep.tolist() for m, f in kept.groupby("model", sort=False)}


def _c13_missing(read: dict, models) -> str:
    if missing := sorted(set(models) - set(read)):
        return f"no weight-decay sweep of >= {C13_MIN_VALUES} values for {', '.join(missing)}"
    return ""


C13_NONE = f"no weight-decay sweep of >= {C13_MIN_VALUES} values (runs that differ only in weight decay) in this config"


def _c13_read(inp: Inputs, threshold: str, parts: list[str], ok: bool, read: dict) -> dict:
    """The C13 reading once its sweeps are judged: a failing sweep refutes the claim; a model without a sweep leaves
    it unmeasured."""
    n = f"{sum(map(len, read.values()))} sweep(s) ({', '.join(f'{m} {len(s)}' for m, s in read.items())})"
    missing = _c13_missing(read, sorted(inp.training.model.unique()))
    if missing and ok:
        return result(threshold, value="; ".join(parts), n=n, holds=None, reason=missing)
    return result(threshold, value="; ".join(parts), n=n, holds=ok)


def c13(inp: Inputs) -> dict:
    """Per seed: every sweep strictly decreasing; the rule reads the sweep of each model the config trains."""
    sweep = inp["weight_decay"]
    threshold = f"= {num(C13_RHO)} (strictly decreasing) in every sweep of >= {C13_MIN_VALUES} weight decays, " \
                "for each model"
    read = sweeps_by_model(sweep)
    if not read:
        return result(threshold, holds=None, reason=C13_NONE)
    parts, ok = [], True
    for label, f in sweep[sweep.sweep.isin([s for ss in read.values() for s in ss])].groupby("sweep", sort=False):
        f = f.sort_values("weight_decay")
        strictly = bool((np.diff(f.final_projector_norm.to_numpy()) < 0).all())
        ok &= strictly
        parts.append(f"{label}: rho {num(spearman(f.weight_decay, f.final_projector_norm))} ("
                     + ", ".join(f"wd {num(w)} -> {num(v)}" for w, v in zip(f.weight_decay, f.final_projector_norm))
                     + ")")
    return _c13_read(inp, threshold, parts, ok, read)


SEED_MEAN_KEY = [k for k in SWEEP_KEY if k != "seed"]  # a sweep over seeds: runs equal but for weight decay and seed


def c13_amended(inp: Inputs) -> dict:
    """Spearman(weight decay, seed-mean final projector norm) = -1 for each model: a sweep's weight decays are chosen
    by decay exposure so that each step predicts a visible shrinkage, and the seed noise is averaged out."""
    sweep = inp["weight_decay"]
    threshold = f"Spearman(weight decay, seed-mean final projector norm) = {num(C13_RHO)} in every sweep of >= " \
                f"{C13_MIN_VALUES} weight decays, for each model"
    read = sweeps_by_model(sweep)
    if not read:
        return result(threshold, holds=None, reason=C13_NONE)
    used = sweep[sweep.sweep.isin([s for ss in read.values() for s in ss])]
    parts, ok = [], True
    for key, f in used.groupby(SEED_MEAN_KEY, sort=False, dropna=False):
        means = f.groupby("weight_decay").final_projector_norm.mean().sort_index()
        rho = spearman(means.index.to_numpy(float), means.to_numpy())
        ok &= bool(len(means) >= C13_MIN_VALUES and np.isclose(rho, C13_RHO))
        parts.append(f"{key[0]} {key[1]} / {key[2]} ({f.seed.nunique()} seed(s)): rho {num(rho)} ("
                     + ", ".join(f"wd {num(w)} -> {num(v)}" for w, v in means.items()) + ")")
    return _c13_read(inp, threshold, parts, ok, read)


def c13_plan(training: pd.DataFrame, default_wd: dict, human_sources) -> str:
    return _c13_missing(sweeps_by_model(weight_decay_sweep(training)), sorted(set(training.model)))
