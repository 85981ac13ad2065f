"""Fig. 3: norms of in-distribution and out-of-distribution splits, each divided by the ID-train mean norm.

ID train is the set the run was trained on (for an imbalanced run, its imbalanced subset; see analysis/common.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from embnorm.analysis.common import ROLES, Run, load_embeddings, role_datasets, run_columns
from embnorm.analysis.common import norms as layer_norms  # `norms` names the per-role dict below


def norm_vs_ood(runs: list[Run], layer: str = "projector") -> pd.DataFrame:
    """One row per run and role: mean norm, ratio to the run's ID-train mean, and (OOD-test rows) the AUROC of the
    norm as an in-distribution score, ID test against OOD test."""
    rows = []
    for run in runs:
        params = run.params
        roles = role_datasets(params)
        norms = {role: layer_norms(load_embeddings(run, role), layer) for role in roles}
        reference = norms["id_train"].mean()
        for role in ROLES:
            if role not in norms:
                continue
            dataset, split = roles[role]
            row = {**{("train_dataset" if c == "dataset" else c): v for c, v in run_columns(params).items()},
                   "role": role, "dataset": dataset, "split": split, "layer": layer, "n": len(norms[role]),
                   "mean_norm": norms[role].mean(), "ratio_to_id_train": norms[role].mean() / reference,
                   "auroc_id_vs_ood": np.nan}
            if role == "ood_test":
                y = np.r_[np.ones(len(norms["id_test"])), np.zeros(len(norms["ood_test"]))]
                row["auroc_id_vs_ood"] = roc_auc_score(y, np.r_[norms["id_test"], norms["ood_test"]])
            rows.append(row)
    return pd.DataFrame(rows)
