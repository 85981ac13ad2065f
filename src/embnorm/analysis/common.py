"""Loading helpers shared by the analyses: a run's embeddings by role, its factor columns, and run groups.

The ID-train role holds the samples the run was trained on: for an imbalanced run, the embeddings of the parent's full
train split are restricted to the `trained_on` rows (the imbalanced subset), so that "ID train" means the same thing
for every run.
"""

from __future__ import annotations

import numpy as np

from embnorm import io, paths
from embnorm.config import role_datasets

ROLES = ("id_train", "id_test", "ood_train", "ood_test")

# Columns that identify a run in every analysis table, and the ones that identify its group (all seeds of one setting).
RUN_COLUMNS = ("run_id", "model", "optimizer", "mitigation", "dataset", "seed", "weight_decay", "cut", "gradscale",
               "lr", "imbalanced", "source")
GROUP_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in ("run_id", "seed"))


def embeddings_path(run_id: str, dataset: str, split: str) -> str:
    return paths.fmt(paths.RUN_EMBEDDINGS, run=run_id, dataset=dataset, split=split)


def load_embeddings(params: dict, role: str) -> dict:
    """A role's arrays (features, `<layer>_norm`, labels, original_index, trained_on); ID train keeps only the rows
    the run was trained on."""
    dataset, split = role_datasets(params)[role]
    arrays = io.read_npz(embeddings_path(params["run_id"], dataset, split))
    if role == "id_train" and "trained_on" in arrays and not arrays["trained_on"].all():
        keep = arrays["trained_on"].astype(bool)
        arrays = {k: v[keep] if getattr(v, "ndim", 0) >= 1 and len(v) == len(keep) else v for k, v in arrays.items()}
    return arrays


def norms(arrays: dict, layer: str) -> np.ndarray:
    """The layer's norms (computed in fp32 from unrounded features at embedding time), as float64."""
    if f"{layer}_norm" not in arrays:
        layers = sorted(k[:-5] for k in arrays if k.endswith("_norm"))
        raise io.ArtifactError(f"embeddings have no '{layer}' layer (analysis.layer); they have {layers} "
                               "(a predictor layer exists only for methods with a predictor)")
    return arrays[f"{layer}_norm"].astype(np.float64)


def load_params(run_ids) -> list[dict]:
    return [io.read_json(paths.fmt(paths.RUN_PARAMS, run=r)) for r in run_ids]


def run_columns(params: dict) -> dict:
    return {c: params[c] for c in RUN_COLUMNS}

