"""Loading helpers shared by the analyses: the runs a command was given, a run's embeddings by role, its factor
columns, and run groups.

A command is given its files, never a run id: `--params` (each run's params.json) and, in the same order,
`--embeddings` (each run's embeddings folder, holding `paths.EMBEDDING_FILE` per split) and `--metrics`.
`load_runs(params, embeddings)` pairs them into `Run`s, and `load_embeddings(run, "id_test")` reads
`<embeddings folder>/<dataset>-test.npz`, wherever the folder is.

The ID-train role holds the samples the run was trained on: for an imbalanced run, the embeddings of the parent's full
train split are restricted to the `trained_on` rows (the imbalanced subset), so that "ID train" means the same thing
for every run. The analyses that classify by kNN use `load_bank` as the bank instead: the full train split of the
run's source dataset, for an imbalanced run too (its balanced parent's), as the training monitor does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from embnorm import io, paths
from embnorm.config import role_datasets

ROLES = ("id_train", "id_test", "ood_train", "ood_test")

# Columns that identify a run in every analysis table, and the ones that identify its group (all seeds of one setting).
RUN_COLUMNS = ("run_id", "model", "optimizer", "mitigation", "dataset", "seed", "weight_decay", "cut", "gradscale",
               "lr", "imbalanced", "source")
GROUP_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in ("run_id", "seed"))


@dataclass(frozen=True)
class Run:
    """One run as an analysis reads it: its resolved hyper-parameters and the files the command was given for it."""

    params: dict
    embeddings: str | None = None  # its embeddings folder
    metrics: str | None = None  # its metrics.tsv


def load_runs(params: list[str], embeddings: list[str] | None = None, metrics: list[str] | None = None) -> list[Run]:
    """The runs of params.json files, each with its embeddings folder and metrics file (lists in the same order)."""
    for name, files in (("--embeddings", embeddings), ("--metrics", metrics)):
        if files is not None and len(files) != len(params):
            raise io.ArtifactError(f"{name}: {len(files)} files for {len(params)} --params files; give one per run, "
                                   "in the same order")
    return [Run(io.read_json(p), embeddings[i] if embeddings else None, metrics[i] if metrics else None)
            for i, p in enumerate(params)]


def embeddings_file(run: Run, dataset: str, split: str) -> str:
    """A split's file inside the run's embeddings folder."""
    if run.embeddings is None:
        raise io.ArtifactError(f"run '{run.params['run_id']}': no embeddings folder given (--embeddings)")
    return os.path.join(run.embeddings, paths.fmt(paths.EMBEDDING_FILE, dataset=dataset, split=split))


def load_embeddings(run: Run, role: str) -> dict:
    """A role's arrays (features, `<layer>_norm`, labels, original_index, trained_on); ID train keeps only the rows
    the run was trained on."""
    dataset, split = role_datasets(run.params)[role]
    arrays = io.read_npz(embeddings_file(run, dataset, split))
    return trained_rows(arrays) if role == "id_train" else arrays


def load_bank(run: Run) -> dict:
    """The kNN bank of an analysis that classifies: every row of the run's source train split (for a run on a derived,
    imbalanced subset, its balanced parent's full train split; `trained_on` marks the rows the run trained on). A
    bank of the subset alone, whose rarest class may hold a dozen images, cannot recognise that class with k = 200."""
    dataset, split = role_datasets(run.params)["id_train"]
    return io.read_npz(embeddings_file(run, dataset, split))


def trained_rows(arrays: dict) -> dict:
    """The rows of a train split's arrays that the run trained on (every row when `trained_on` is absent or all)."""
    if "trained_on" not in arrays or arrays["trained_on"].all():
        return arrays
    keep = arrays["trained_on"].astype(bool)
    return {k: v[keep] if getattr(v, "ndim", 0) >= 1 and len(v) == len(keep) else v for k, v in arrays.items()}


def norms(arrays: dict, layer: str) -> np.ndarray:
    """The layer's norms (computed in fp32 from unrounded features at embedding time), as float64."""
    if f"{layer}_norm" not in arrays:
        layers = sorted(k[:-5] for k in arrays if k.endswith("_norm"))
        raise io.ArtifactError(f"embeddings have no '{layer}' layer (analysis.layer); they have {layers} "
                               "(a predictor layer exists only for methods with a predictor)")
    return arrays[f"{layer}_norm"].astype(np.float64)


def is_baseline(frame, default_weight_decay: dict[str, float]):
    """Rows (a DataFrame of runs or of their table rows) of runs trained without a mitigation: no cut, no GradScale,
    the model's default weight decay. The confidence claims read these runs."""
    default = frame.model.map(default_weight_decay)
    return (frame.cut == 1) & (frame.gradscale == 0) & np.isclose(frame.weight_decay.astype(float), default)


def run_columns(params: dict) -> dict:
    return {c: params[c] for c in RUN_COLUMNS}

