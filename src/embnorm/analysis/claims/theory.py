"""Claims C1-C4 and C6: the theory simulations, checked with the rules of paper-reference §7.1.

The thresholds below are the rules' constants, fixed before any result; never adjust them to results. Each rule takes
the claims' `Inputs` and returns one reading (`verdict.result`); the claim's text and statistic are declared in
`declarations.py`. Only C6 has an amended rule: its imbalance half on class norms averaged over the runs, as the
paper's figure averages its runs, and its density half with a two-level bootstrap CI.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from embnorm.analysis.claims.inputs import Inputs
from embnorm.analysis.claims.verdict import Outcome, ci, ci_outcome, judge, note, num, result, sample_ci
from embnorm.analysis.simulations import CLAIM_NORMS, loglog_slope
from embnorm.analysis.stats import correlation_summary, spearman

# §7.1 C1: every value < 1e-8.
C1_STATISTICS = (("max_abs_cos_z_grad", "cos-sim"), ("max_abs_cos_z_grad", "infonce"),
                 ("max_rel_err_gradnorm_x_norm_vs_sin", "cos-sim"), ("max_rel_err_grad_at_2z_vs_half_grad", "infonce"))
C1_MAX = 1e-8
# §7.1 C2: the fraction of GD steps whose norm does not decrease = 1.0.
C2_FRACTION = 1.0
# §7.1 C3: log-log slope in [1.9, 2.1] and steps(r=1) within 3% of 96.
C3_SLOPE = (1.9, 2.1)
C3_STEPS_AT_1, C3_REL_TOL = 96, 0.03
# §7.1 C4: Spearman(initial mean angle, steps) >= 0.95, and the last angle takes more steps than the first.
C4_MIN_SPEARMAN = 0.95
# §7.1 C6: Spearman(class frequency, final class mean norm) = 1.0 in at least 4 of 5 runs (4/5 of the configured
# runs, rounded up, if another number is configured); Spearman(k-NN distance, norm) < 0 with its CI below 0.
C6_PERFECT_FRACTION = 4 / 5
# Amended C6 (2026-12-02): Spearman(class frequency, final class mean norm averaged over the runs) = 1.
C6_AVERAGED_RHO = 1.0


def c1(inp: Inputs) -> dict:
    gradients = inp["gradients"]
    values = {(s, loss): float(gradients[(gradients.statistic == s) & (gradients.loss == loss)].value.max())
              for s, loss in C1_STATISTICS}
    return result(f"every value < {num(C1_MAX)}",
                  value="; ".join(f"{s.replace('max_', '')} [{loss}] = {num(v)}" for (s, loss), v in values.items()),
                  n=f"{int(gradients.n_pairs.iloc[0])} random pairs, d = {int(gradients.dim.iloc[0])}",
                  holds=all(v < C1_MAX for v in values.values()))


def c2(inp: Inputs) -> dict:
    gd = inp["gd_norms"]
    per_loss = gd.groupby("loss").frac_not_decreased.min()
    return result(f"= {C2_FRACTION}",
                  value="; ".join(f"{loss}: {num(v, 6)}" for loss, v in per_loss.items()),
                  spread="largest decrease: " + "; ".join(
                      f"{loss} {num(v)} ulp" for loss, v in gd.groupby("loss").max_decrease_ulps.max().items()),
                  n=f"{gd.step.max()} steps per loss", holds=bool((per_loss >= C2_FRACTION).all()))


def c3(inp: Inputs) -> dict:
    convergence = inp["convergence_norm"]
    claim = convergence[convergence.norm.isin(CLAIM_NORMS)].groupby("norm").steps.mean()
    threshold = f"slope in [{C3_SLOPE[0]}, {C3_SLOPE[1]}] and steps(1) within {C3_REL_TOL:.0%} of {C3_STEPS_AT_1}"
    if set(claim.index) != set(map(float, CLAIM_NORMS)):
        return result(threshold, holds=None,
                      reason=f"the simulation lacks norms {sorted(set(map(float, CLAIM_NORMS)) - set(claim.index))}")
    slope = loglog_slope(claim.index, claim.values)
    at_1 = float(claim.loc[1.0])
    repeats = int(convergence.repeat.nunique())
    return result(threshold,
                  value=f"slope = {num(slope, 4)}; steps(1) = {num(at_1)}; steps: "
                        + ", ".join(f"r={num(r)}: {num(s)}" for r, s in claim.items()),
                  spread=f"{repeats} repeat(s) per norm" + (", mean shown" if repeats > 1 else ""),
                  n=f"{len(claim)} norms",
                  holds=C3_SLOPE[0] <= slope <= C3_SLOPE[1]
                  and abs(at_1 - C3_STEPS_AT_1) <= C3_REL_TOL * C3_STEPS_AT_1)


def c4(inp: Inputs) -> dict:
    angles = inp["convergence_angle"].sort_values("initial_mean_angle")
    rho = spearman(angles.initial_mean_angle, angles.steps)
    first, last = angles.iloc[0], angles.iloc[-1]
    return result(f">= {C4_MIN_SPEARMAN}, and steps(last angle) > steps(first angle)",
                  value=f"rho = {num(rho, 4)}; steps {num(first.steps)} at {num(first.initial_mean_angle)} rad -> "
                        f"{num(last.steps)} at {num(last.initial_mean_angle)} rad",
                  n=f"{len(angles)} angles", holds=rho >= C4_MIN_SPEARMAN and last.steps > first.steps)


def _final_class_norms(inp: Inputs) -> pd.DataFrame:
    """The imbalance simulation's last epoch: one row per (run, class) with its count and mean norm."""
    trajectories = inp["imbalance_norms"]
    return trajectories[trajectories.epoch == trajectories.epoch.max()]


def _density(inp: Inputs) -> dict:
    """Spearman(k-NN distance, norm) of the density simulation over its runs, with both kinds of CI."""
    return correlation_summary([{"x": f.knn_distance.to_numpy(), "y": f.norm.to_numpy(),
                                 "classes": f["class"].to_numpy()} for _, f in inp["imbalance_density"].groupby("run")],
                               inp.resamples, inp.seed)


def _density_outcome(summary: dict, kind: str) -> Outcome:
    return ci_outcome("density rho", summary[f"rho_{kind}_lo"], summary[f"rho_{kind}_hi"], 0.0, above=False)


def c6(inp: Inputs) -> dict:
    """Pre-registered: a perfect class order in >= 4 of 5 single runs; density rho < 0 with its CI below 0."""
    final = _final_class_norms(inp)
    per_run = np.array([spearman(f["count"], f.mean_norm) for _, f in final.groupby("run")])
    needed = math.ceil(C6_PERFECT_FRACTION * len(per_run))
    perfect = int(np.isclose(per_run, 1.0).sum())
    averaged = final.groupby("class").agg(count=("count", "mean"), norm=("mean_norm", "mean"))
    summary = _density(inp)
    holds, undecided = judge([Outcome(perfect >= needed), _density_outcome(summary, "ci")])
    return result(f"the first = 1 in >= {needed} of {len(per_run)} runs; the second < 0 with CI below 0",
                  value=f"runs with perfect order: {perfect} of {len(per_run)} (per-run rho: "
                        + ", ".join(num(v, 2) for v in per_run) + f"); density rho = {num(summary['rho'])}",
                  spread=f"density {ci(summary['rho_ci_lo'], summary['rho_ci_hi'])}, sd over runs "
                         f"{num(summary['rho_seed_sd'])}; run-averaged final class norms (rarest first): "
                         + ", ".join(num(v) for v in averaged.sort_values("count").norm),
                  n=f"{len(per_run)} runs x {int(final['count'].sum() / len(per_run))} points, "
                    f"{int(final.epoch.max())} epochs",
                  holds=holds, inconclusive=undecided)


def c6_amended(inp: Inputs) -> dict:
    """Amended: Spearman(class frequency, final class mean norm averaged over the runs) = 1, as the paper's figure
    averages its runs (single runs start with class norms that differ by as much as the effect); density rho < 0
    with its two-level bootstrap CI (seeds, then samples) below 0."""
    averaged = _final_class_norms(inp).groupby("class").agg(count=("count", "mean"), norm=("mean_norm", "mean"))
    rho = spearman(averaged["count"], averaged.norm)
    summary = _density(inp)
    kind, fallback = sample_ci(summary, two_level=True)
    holds, undecided = judge([Outcome(bool(np.isclose(rho, C6_AVERAGED_RHO))), _density_outcome(summary, kind)])
    reading = result(f"Spearman(class frequency, run-averaged final class norm) = {num(C6_AVERAGED_RHO)}; density "
                     f"rho < 0 with its {'two-level ' if kind == 'ci2' else ''}CI below 0",
                     value=f"run-averaged rho = {num(rho)} over {len(averaged)} classes; density rho = "
                           f"{num(summary['rho'])}, {ci(summary[f'rho_{kind}_lo'], summary[f'rho_{kind}_hi'])}",
                     holds=holds, inconclusive=undecided)
    return note(reading, fallback)
