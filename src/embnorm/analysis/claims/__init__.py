"""The claims check: one row per claim C1-C14 of paper-reference §7, each judged by its pre-registered rule (§7.1
and its amendment of 2026-11-30).

`check_claims` reads only the tables the other analyses wrote, so the verdict logic is testable on constructed tables
and never retrains or re-embeds anything. A claim whose runs are absent from the config is `not measured`, with the
reason; one the runs cannot decide is `inconclusive`, with the reason; it never raises. The confidence claims C7-C10
pass their read-gate (`gate.py`) first. `plan.undecided_claims` answers from the run table alone, before training,
which claims a config can decide.
"""

from __future__ import annotations

import pandas as pd

from embnorm.analysis.claims import mitigations, runs, theory
from embnorm.analysis.claims.gate import gated
from embnorm.analysis.registry import CLAIM_TABLES
from embnorm.analysis.claims.verdict import COLUMNS, INCONCLUSIVE, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED

__all__ = ["check_claims", "TABLES", "COLUMNS", "SUPPORTED", "NOT_SUPPORTED", "NOT_MEASURED", "INCONCLUSIVE"]

# The tables check_claims reads, by key: the analysis outputs declared `claims=True` (analysis/registry.py).
TABLES = tuple(CLAIM_TABLES)


def check_claims(tables: dict[str, pd.DataFrame], default_weight_decay: dict[str, float], resamples: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """The claims table. `default_weight_decay` maps each model to its configured default weight decay."""
    missing = sorted(set(TABLES) - set(tables))
    if missing:
        raise KeyError(f"check_claims: missing tables {missing}")
    t, wd = tables, default_weight_decay
    rows = [
        theory.c1(t["gradients"]),
        theory.c2(t["gd_norms"]),
        theory.c3(t["convergence_norm"]),
        theory.c4(t["convergence_angle"]),
        runs.c5(t["training"], wd),
        theory.c6(t["imbalance_norms"], t["imbalance_density"], resamples, seed),
        runs.c7(t["norm_vs_ood"], wd),
        runs.c8(t["knn_spearman"], wd),
        runs.c9(t["human_spearman"], t["training"], wd),
        runs.c10(t["class_metrics"], wd),
        mitigations.c11(t["training"], wd, resamples, seed),
        mitigations.c12(t["training"], wd, resamples, seed),
        runs.c13(t["weight_decay"], sorted(t["training"].model.unique())),
        mitigations.c14(t["training"], wd, resamples, seed),
    ]
    return pd.DataFrame([gated(r, t["training"], wd) for r in rows], columns=list(COLUMNS))
