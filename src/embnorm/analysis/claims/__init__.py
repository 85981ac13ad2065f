"""The claims check: one row per claim C1-C14 of paper-reference §7, each read twice: by its pre-registered rule
(§7.1 as of 2026-11-30; columns `verdict`, `reason`) and by its rule in the post-hoc amended reading of 2026-12-02
(columns `amended_verdict`, `amended_reason`), shown beside it.

Each claim is declared once in `declarations.py`; `check_claims` iterates over the declarations. It reads only the
tables the other analyses wrote, so the verdict logic is testable on constructed tables and never retrains or
re-embeds anything. A claim whose runs are absent from the config is `not measured`, with the reason; one the runs
cannot decide is `inconclusive`, with the reason; it never raises. The confidence claims C7-C10 pass their read-gate
(`gate.py`) first, and show their statistic on the untrained encoders when those tables are given.
`plan.undecided_claims` answers from the run table alone, before training, which claims a config can decide.
"""

from __future__ import annotations

import pandas as pd

from embnorm.analysis.claims.declarations import CLAIMS, REQUIRED_TABLES, UNTRAINED_TABLES, claim_row
from embnorm.analysis.claims.inputs import Inputs
from embnorm.analysis.claims.verdict import COLUMNS, INCONCLUSIVE, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED
from embnorm.analysis.registry import CLAIM_TABLES

__all__ = ["check_claims", "CLAIMS", "TABLES", "REQUIRED_TABLES", "UNTRAINED_TABLES", "COLUMNS", "SUPPORTED",
           "NOT_SUPPORTED", "NOT_MEASURED", "INCONCLUSIVE"]

# The tables the claims rule passes, by key: the analysis outputs declared `claims=True` (analysis/registry.py).
# They include every table a declared rule needs; the untrained encoders' tables are optional.
TABLES = tuple(CLAIM_TABLES)
if missing_outputs := sorted(set(REQUIRED_TABLES) - set(TABLES)):
    raise ImportError(f"claims read tables no analysis declares with claims=True: {missing_outputs}")


def check_claims(tables: dict[str, pd.DataFrame], default_weight_decay: dict[str, float], resamples: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """The claims table. `default_weight_decay` maps each model to its configured default weight decay; `tables`
    holds every key of REQUIRED_TABLES, and any of UNTRAINED_TABLES that were computed."""
    if missing := sorted(set(REQUIRED_TABLES) - set(tables)):
        raise KeyError(f"check_claims: missing tables {missing}")
    inp = Inputs(tables, default_weight_decay, resamples, seed)
    return pd.DataFrame([claim_row(claim, inp) for claim in CLAIMS], columns=list(COLUMNS))
