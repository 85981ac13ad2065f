"""The report's figures. Each function takes a table produced by an analysis and draws one figure."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from embnorm.present.style import save, set_style

ROLE_LABELS = {"id_train": "ID train", "id_test": "ID test", "ood_train": "OOD train", "ood_test": "OOD test"}


def _run_label(frame: pd.DataFrame) -> pd.Series:
    return frame.model + " " + frame.mitigation + " / " + frame.train_dataset


def norm_vs_ood(table: pd.DataFrame, png, pdf) -> None:
    """Fig. 3: mean norm of each split divided by the ID-train mean, one group of bars per trained model."""
    set_style()
    frame = table.assign(split=table.role.map(ROLE_LABELS), run=_run_label(table))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * frame.run.nunique() + 3), 3.6))
    sns.barplot(frame, x="run", y="ratio_to_id_train", hue="split", hue_order=list(ROLE_LABELS.values()),
                errorbar=("pi", 100) if frame.seed.nunique() > 1 else None, ax=ax)
    ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
    ax.set(xlabel="trained model / training data", ylabel=f"mean {frame.layer.iloc[0]} norm\n÷ ID-train mean")
    ax.legend(title=None, ncols=4, loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
    save(fig, png, pdf)


def norm_growth(metrics: pd.DataFrame, png, pdf) -> None:
    """Projector norm (mean, with the 10th-90th percentile band) and kNN accuracy over epochs, per run."""
    set_style()
    fig, (ax_norm, ax_knn) = plt.subplots(1, 2, figsize=(10, 3.8))
    for run_id, frame in metrics.groupby("run_id", sort=False):
        frame = frame.sort_values("epoch")
        line = ax_norm.plot(frame.epoch, frame.projector_norm_mean, label=run_id)[0]
        ax_norm.fill_between(frame.epoch, frame.projector_norm_p10, frame.projector_norm_p90, alpha=0.15,
                             color=line.get_color())
        knn = frame.dropna(subset=["knn_acc"])
        ax_knn.plot(knn.epoch, 100 * knn.knn_acc, marker="o", ms=3, color=line.get_color(), label=run_id)
    ax_norm.set(xlabel="epoch", ylabel="projector norm (probe batch)")
    ax_knn.set(xlabel="epoch", ylabel="test kNN accuracy (%)")
    ax_knn.legend(fontsize=7, loc="lower right")
    save(fig, png, pdf)
