"""Norm growth over training and the training summary (final kNN accuracy and norms per run)."""

from __future__ import annotations

import pandas as pd

from embnorm import io, paths

FACTOR_COLUMNS = ["model", "optimizer", "mitigation", "dataset", "seed", "weight_decay", "cut", "gradscale"]


def metrics_long(runs: list[dict]) -> pd.DataFrame:
    """All runs' metrics.tsv rows, with the run's factors attached."""
    frames = []
    for params in runs:
        frame = io.read_tsv(paths.fmt(paths.RUN_METRICS, run=params["run_id"]))
        for col in FACTOR_COLUMNS:
            frame[col] = params[col]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def training_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per run: initial and final projector norm, their ratio, final and first-evaluated kNN accuracy."""
    rows = []
    for run_id, frame in metrics.groupby("run_id", sort=False):
        frame = frame.sort_values("epoch")
        knn = frame.dropna(subset=["knn_acc"])
        knn_after = knn[knn.epoch > 0]
        first, last = frame.iloc[0], frame.iloc[-1]
        rows.append({
            "run_id": run_id, **{c: last[c] for c in FACTOR_COLUMNS}, "epochs": int(last.epoch),
            "init_projector_norm": first.projector_norm_mean, "final_projector_norm": last.projector_norm_mean,
            "norm_growth": last.projector_norm_mean / first.projector_norm_mean,
            "init_knn_acc": knn.iloc[0].knn_acc if len(knn) and knn.iloc[0].epoch == 0 else float("nan"),
            "early_epoch": int(knn_after.iloc[0].epoch) if len(knn_after) else -1,
            "early_knn_acc": knn_after.iloc[0].knn_acc if len(knn_after) else float("nan"),
            "final_knn_acc": knn.iloc[-1].knn_acc if len(knn) else float("nan"),
            "knn_protocol": last.knn_protocol,
        })
    return pd.DataFrame(rows)
