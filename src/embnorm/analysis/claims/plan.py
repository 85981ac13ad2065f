"""Which claims can a config decide? Answered from the run table alone, before anything is trained.

The claims check (`check_claims`) reads results; this module applies the same run selections to the *planned*
training table (the run table's factors, empty results) and names every claim that the config cannot decide: its
rule would be `not measured` (the runs it reads are absent) or `inconclusive` by construction (a rule that needs
>= 3 seeds gets fewer). The default study's report says in one line which claims need `config/claims.yaml`, and
tests/test_claims_preset.py checks that the claims preset leaves none.

    >>> default_wd = {model: spec["weight_decay"] for model, spec in config["models"].items()}  # doctest: +SKIP
    >>> undecided_claims(run_table(config), default_wd, human_sources={"synth"})  # doctest: +SKIP
    {'C7': 'the reverse direction is not trained: synth_ood -> synth', 'C11': '<model> sgd cut / synth: 1 seed(s), ...'}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.mitigations import GROUP, mitigation_pairs
from embnorm.analysis.claims.runs import C13_MIN_VALUES, baseline, missing_directions, sweeps_by_model
from embnorm.analysis.claims.verdict import MIN_SEEDS
from embnorm.analysis.common import RUN_COLUMNS
from embnorm.analysis.growth import weight_decay_sweep

OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}
RESULT_COLUMNS = ("init_projector_norm", "final_projector_norm", "norm_growth", "init_knn_acc", "early_knn_acc",
                  "final_knn_acc")


def planned_training(runs: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The training table (`analysis.growth.training_summary`) a run table will produce, results left empty. The
    first evaluated epoch after 0 is the training monitor's (`train.monitor`: every `knn_every` epochs and the
    last)."""
    frame = pd.DataFrame(runs)
    planned = frame[list(RUN_COLUMNS)].assign(
        ood=frame.ood.where(frame.ood.notna(), None), epochs=frame.epochs,
        early_epoch=np.minimum(frame.knn_every, frame.epochs))
    return planned.assign(**{c: np.nan for c in RESULT_COLUMNS})


def _too_few_seeds(pairs: pd.DataFrame) -> list[str]:
    sizes = pairs.groupby(GROUP, sort=False).size()
    return [f"{' '.join(map(str, key[:3]))} / {key[3]}: {n} seed(s), the rule needs >= {MIN_SEEDS}"
            for key, n in sizes.items() if n < MIN_SEEDS]


def _mitigation_gaps(training: pd.DataFrame, default_wd: dict, optimizer: str, kinds, what: str) -> str:
    pairs = mitigation_pairs(training, default_wd, optimizer, kinds)
    if pairs.empty:
        return f"no {OPTIMIZER_NAMES[optimizer]} {what} run paired with a " \
               "baseline run (same model, dataset, seed)"
    return "; ".join(_too_few_seeds(pairs))


def undecided_claims(runs: list[dict] | pd.DataFrame, default_wd: dict, human_sources) -> dict[str, str]:
    """{claim: why this config cannot decide it} for every claim whose runs or seeds are missing; the simulation
    claims (C1-C4, C6) run in every config. `human_sources`: the source datasets that come with human labels."""
    t = planned_training(runs)
    gaps: dict[str, str] = {}
    if baseline(t, default_wd).empty:
        gaps["C5"] = "no baseline run (no cut, no GradScale, the model's default weight decay)"
    balanced = baseline(t, default_wd, imbalanced=False)
    with_ood = balanced[balanced.ood.notna()]
    if with_ood.empty:
        gaps["C7"] = "no baseline run on a balanced dataset with an OOD partner"
    elif missing := missing_directions(set(zip(with_ood.source, with_ood.ood))):
        gaps["C7"] = "the reverse direction is not trained: " + ", ".join(f"{a} -> {b}" for a, b in missing)
    if balanced.empty:
        gaps["C8"] = "no baseline run on a balanced dataset"
    if not balanced.source.isin(set(human_sources)).any():
        gaps["C9"] = "no baseline run on a balanced dataset with human labels (datasets.<name>.human_labels)"
    if baseline(t, default_wd, imbalanced=True).empty:
        gaps["C10"] = "no baseline run on an imbalanced dataset"
    gaps["C11"] = _mitigation_gaps(t, default_wd, "sgd", ("cut",), "cut-init")
    gaps["C12"] = _mitigation_gaps(t, default_wd, "sgd", ("gradscale",), "GradScale") or _c12_balance(t, default_wd)
    read = sweeps_by_model(weight_decay_sweep(t))
    if missing_models := sorted(set(t.model) - set(read)):
        gaps["C13"] = f"no weight-decay sweep of >= {C13_MIN_VALUES} values for {', '.join(missing_models)}"
    gaps["C14"] = ("no Adam runs in this config" if not (t.optimizer == "adam").any()
                   else _mitigation_gaps(t, default_wd, "adam", ("cut", "gradscale"), "cut-init or GradScale"))
    return {claim: why for claim, why in gaps.items() if why}


def _c12_balance(training: pd.DataFrame, default_wd: dict) -> str:
    """C12's last condition needs GradScale pairs on an imbalanced dataset and on its balanced parent (same model and
    mitigation), paired by seed: as `mitigations.c12` matches them."""
    pairs = mitigation_pairs(training, default_wd, "sgd", ("gradscale",))
    imbalanced = pairs.imbalanced.astype(bool)
    per_seed = pairs[imbalanced].merge(pairs[~imbalanced], left_on=["model", "mitigation", "source", "seed"],
                                       right_on=["model", "mitigation", "dataset", "seed"], suffixes=("", "_bal"))
    if per_seed.empty:
        return "needs GradScale/baseline pairs on both an imbalanced dataset and its balanced parent"
    sizes = per_seed.groupby(["model", "mitigation", "dataset", "dataset_bal"], sort=False).size()
    return "; ".join(f"{m} {g} {d} vs {b}: {n} seed(s), the rule needs >= {MIN_SEEDS}"
                     for (m, g, d, b), n in sizes.items() if n < MIN_SEEDS)


def needs_line(gaps: dict[str, str], preset: str = "config/claims.yaml") -> str:
    """The report's one line: which claims this config cannot decide and the preset that can."""
    if not gaps:
        return "This configuration has the runs and seeds every claim's rule needs."
    return (f"Claims this configuration cannot decide (missing runs or fewer than {MIN_SEEDS} seeds; see each row's "
            f"reason), decided by `{preset}`: {', '.join(gaps)}.")
