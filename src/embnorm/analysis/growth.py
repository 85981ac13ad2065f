"""Norm growth over training, the training summary (kNN accuracy and norms per run), and the weight-decay sweep.

Norms here are those of the fixed probe batch of ID-train images that training logs after every epoch (the same
images at every epoch, each evaluation with BatchNorm statistics re-estimated on them), so initial and final norms
are directly comparable.
"""

from __future__ import annotations

import pandas as pd

from embnorm import io
from embnorm.analysis.common import RUN_COLUMNS, Run, run_columns

FACTOR_COLUMNS = [c for c in RUN_COLUMNS if c != "run_id"]
# What must be equal for runs to belong to one weight-decay sweep: everything but the weight decay itself.
SWEEP_KEY = ["model", "optimizer", "dataset", "seed", "cut", "gradscale", "lr"]


def metrics_long(runs: list[Run]) -> pd.DataFrame:
    """All runs' metrics.tsv rows, with the run's factors attached; a metrics file of another run is refused."""
    frames = []
    for run in runs:
        frame, run_id = io.read_tsv(run.metrics), run.params["run_id"]
        others = sorted(set(frame.run_id) - {run_id})
        if others:
            raise io.ArtifactError(f"{run.metrics}: rows of run(s) {others}, but its --params file is run '{run_id}' "
                                   "(give --metrics in the order of --params)")
        frames.append(frame.assign(**{c: v for c, v in run_columns(run.params).items() if c != "run_id"}))
    return pd.concat(frames, ignore_index=True)


EARLY_FRACTION = 0.25  # "early" = the first kNN evaluation at or after this fraction of the run's optimizer steps


def early_evaluation(knn: pd.DataFrame) -> pd.Series | None:
    """The "early" kNN evaluation of one run's evaluated rows (sorted by epoch), or None if there is none.

    With the schedule recorded in metrics.tsv (`total_steps`, `warmup_steps`): the first evaluation after epoch 0 at
    or after 25 % of the run's optimizer steps and at or after the end of the warm-up, so that runs of different
    lengths, datasets and warm-ups are compared at the same point of their schedules. Metrics without those columns
    (runs trained before they were recorded): the first evaluation after epoch 0."""
    after = knn[knn.epoch > 0]
    if {"total_steps", "warmup_steps"} <= set(knn.columns) and after.total_steps.notna().all():
        after = after[(after.step >= EARLY_FRACTION * after.total_steps) & (after.step >= after.warmup_steps)]
    return after.iloc[0] if len(after) else None


# Norms reported beside C5's projector norm (NaN where a method has no such tensor): the predictor output, the tensor
# the loss differentiates in SimSiam and BYOL, and the affine parameters of a BatchNorm that ends the projector, whose
# scale weight decay shrinks whatever the data do.
BESIDE_NORMS = {"predictor": "predictor_norm_mean", "last_bn_affine": "last_bn_affine_norm"}


def beside_norms(first: pd.Series, last: pd.Series) -> dict:
    """Initial and final values of the BESIDE_NORMS columns of one run's first and last metrics rows."""
    out = {}
    for name, column in BESIDE_NORMS.items():
        out[f"init_{name}_norm"] = first.get(column, float("nan"))
        out[f"final_{name}_norm"] = last.get(column, float("nan"))
    return out


def training_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per run: initial and final projector norm, their ratio, the initial and final BESIDE_NORMS, initial, early and
    final kNN accuracy (early: see `early_evaluation`; its epoch and optimizer step are columns), and the run's
    optimizer steps."""
    rows = []
    for run_id, frame in metrics.groupby("run_id", sort=False):
        frame = frame.sort_values("epoch")
        knn = frame.dropna(subset=["knn_acc"])
        early = early_evaluation(knn)
        first, last = frame.iloc[0], frame.iloc[-1]
        total_steps = last.total_steps if "total_steps" in frame and pd.notna(last.total_steps) else last.get("step")
        rows.append({
            "run_id": run_id, **{c: last[c] for c in FACTOR_COLUMNS}, "epochs": int(last.epoch),
            "total_steps": float("nan") if total_steps is None or pd.isna(total_steps) else int(total_steps),
            "init_projector_norm": first.projector_norm_mean, "final_projector_norm": last.projector_norm_mean,
            "norm_growth": last.projector_norm_mean / first.projector_norm_mean,
            **beside_norms(first, last),
            "init_knn_acc": knn.iloc[0].knn_acc if len(knn) and knn.iloc[0].epoch == 0 else float("nan"),
            "early_epoch": int(early.epoch) if early is not None else -1,
            "early_step": int(early.step) if early is not None and "step" in early and pd.notna(early.step) else -1,
            "early_knn_acc": early.knn_acc if early is not None else float("nan"),
            "final_knn_acc": knn.iloc[-1].knn_acc if len(knn) else float("nan"),
            "knn_protocol": last.knn_protocol,
        })
    return pd.DataFrame(rows)


def weight_decay_sweep(summary: pd.DataFrame) -> pd.DataFrame:
    """Runs that form a weight-decay sweep: same model, optimizer, data, seed, cut, GradScale power and learning rate,
    at least two distinct weight decays. One row per run, with its final norm and accuracy; empty if none."""
    columns = ["sweep", *SWEEP_KEY, "weight_decay", "mitigation", "run_id", "init_projector_norm",
               "final_projector_norm", "norm_growth", "final_knn_acc"]
    rows = []
    for key, frame in summary.groupby(SWEEP_KEY, sort=False, dropna=False):
        if frame.weight_decay.nunique() >= 2:
            label = f"{key[0]} {key[1]} / {key[2]} s{key[3]}"
            rows.append(frame.sort_values("weight_decay").assign(sweep=label))
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
