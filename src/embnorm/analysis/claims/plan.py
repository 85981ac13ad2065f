"""Which claims can a config decide? Answered from the run table alone, before anything is trained.

The claims check (`check_claims`) reads results; this module hands the *planned* training table (the run table's
factors, results left empty) to each declared claim's planner (`Claim.plan`, next to its rule: the same run
selection, pairing and seed count, the same reason) and names every claim that the config cannot decide: its rule
would be `not measured` (the runs it reads are absent) or `inconclusive` by construction (a rule that needs >= 3
seeds gets fewer). The default study's report says in one line which claims need `config/claims.yaml`, and
tests/test_claims_preset.py checks that the claims preset leaves none.

    >>> default_wd = {model: spec["weight_decay"] for model, spec in config["models"].items()}  # doctest: +SKIP
    >>> undecided_claims(run_table(config), default_wd, human_sources={"synth"})  # doctest: +SKIP
    {'C7': 'the reverse direction is not trained: synth_ood -> synth', 'C11': '<model> sgd cut / synth: 1 seed(s), ...'}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.declarations import CLAIMS
from embnorm.analysis.claims.verdict import MIN_SEEDS
from embnorm.analysis.common import RUN_COLUMNS

RESULT_COLUMNS = ("init_projector_norm", "final_projector_norm", "norm_growth", "init_knn_acc", "early_knn_acc",
                  "final_knn_acc")


def planned_training(runs: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The training table (`analysis.growth.training_summary`) a run table will produce, results left empty. When
    the early evaluation falls is known only once a run has trained (a step budget's epochs depend on the dataset's
    size), so every planned run gets the same placeholder and the planners pair runs as if their early evaluations
    matched; `mitigations.group_results` names any pair whose evaluations differ once they exist."""
    frame = pd.DataFrame(runs)
    planned = frame[list(RUN_COLUMNS)].assign(
        ood=frame.ood.where(frame.ood.notna(), None), epochs=frame.epochs, early_epoch=0)
    return planned.assign(**{c: np.nan for c in RESULT_COLUMNS})


def undecided_claims(runs: list[dict] | pd.DataFrame, default_wd: dict, human_sources) -> dict[str, str]:
    """{claim: why this config cannot decide it} for every claim whose runs or seeds are missing; the simulation
    claims (C1-C4, C6, no planner) run in every config. `human_sources`: the source datasets that come with human
    labels."""
    training = planned_training(runs)
    gaps = {claim.id: claim.plan(training, default_wd, human_sources) for claim in CLAIMS if claim.plan}
    return {claim: why for claim, why in gaps.items() if why}


def needs_line(gaps: dict[str, str], preset: str = "config/claims.yaml") -> str:
    """The report's one line: which claims this config cannot decide and the preset that can."""
    if not gaps:
        return "This configuration has the runs and seeds every claim's rule needs."
    return (f"Claims this configuration cannot decide (missing runs or fewer than {MIN_SEEDS} seeds; see each row's "
            f"reason), decided by `{preset}`: {', '.join(gaps)}.")
