"""Constructed runs for the analyses: their params, and their embeddings where the workflow puts them."""

from __future__ import annotations

import numpy as np

from embnorm import io, paths
from embnorm.analysis.common import Run


def params(run_id, **kw):
    p = {"run_id": run_id, "model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "toy", "seed": 0,
         "weight_decay": 1e-6, "cut": 1.0, "gradscale": 0.0, "lr": 0.1, "imbalanced": False, "source": "toy",
         "ood": None, "knn_k": 5, "knn_temperature": 0.1}
    return {**p, **kw}


def as_run(p: dict) -> Run:
    """A run as the analyses take it: its params and its embeddings folder (here where the workflow puts it)."""
    return Run(p, embeddings=paths.fmt(paths.RUN_EMBEDDINGS_DIR, run=p["run_id"]))


def write_embeddings(p, split, feats, labels, trained_on=None, dataset="toy"):
    feats = np.asarray(feats, np.float32)
    io.write_npz(paths.fmt(paths.RUN_EMBEDDINGS, run=p["run_id"], dataset=dataset, split=split),
                 backbone=feats, backbone_norm=np.linalg.norm(feats, axis=1), projector=feats,
                 projector_norm=np.linalg.norm(feats, axis=1), labels=np.asarray(labels, np.int64),
                 original_index=np.arange(len(labels)),
                 trained_on=np.ones(len(labels), bool) if trained_on is None else trained_on)
