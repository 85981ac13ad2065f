"""Fig. 4: per-bucket curves of kNN correctness and human confidence against the normalised norm, one column per
training dataset, with the per-sample Spearman statistics in the legend (the curve alone can mislead; see
analysis/stats.py), and the sample count of every bucket below each curve."""

from __future__ import annotations

import pandas as pd
from matplotlib import pyplot as plt

from embnorm.present.style import no_data, save, set_style

NORMALIZATION_LABEL = {"max": "norm ÷ max norm", "minmax": "(norm − min) ÷ (max − min)"}
KNN = (("knn_correct", 100.0, "leave-one-out kNN accuracy (%)", "ID-train"),)
HUMAN = (("human_agreement", 100.0, "human label = clean label (%)", "ID-train"),
         ("human_entropy", 1.0, "mean human label entropy (bits)", "ID-test"))


def _label(frame: pd.DataFrame) -> pd.Series:
    return frame.model + " " + frame.optimizer + " " + frame.mitigation


def _legend_label(group: str, dataset: str, stats: pd.DataFrame) -> str:
    match = stats[(stats.label == group) & (stats.dataset == dataset)] if not stats.empty else stats
    if match.empty:
        return group
    r = match.iloc[0]
    within = "n/a" if r.rho_within != r.rho_within else f"{r.rho_within:.2f}"
    return f"{group}: ρ {r.rho:.2f} [{r.rho_ci_lo:.2f}, {r.rho_ci_hi:.2f}], within-class {within}"


def _curves(ax_value, ax_count, buckets: pd.DataFrame, stats: pd.DataFrame, scale: float, colours: dict) -> None:
    """One line per run group (mean over seeds of the drawn buckets); bars of the mean sample count per bucket."""
    width = float((buckets.hi - buckets.lo).iloc[0])
    groups = list(dict.fromkeys(buckets.label))
    for i, (group, frame) in enumerate(buckets.groupby("label", sort=False)):
        drawn = frame[frame.plotted].groupby("centre").value.mean()
        ax_value.plot(drawn.index, scale * drawn.values, "o-", ms=3, color=colours[group],
                      label=_legend_label(group, frame.dataset.iloc[0], stats))
        counts = frame.groupby("centre")["count"].mean()
        step = width / len(groups)
        ax_count.bar(counts.index + (i - (len(groups) - 1) / 2) * step, counts.values, width=step,
                     color=colours[group], alpha=0.7)
    ax_value.legend(fontsize=7, loc="best")
    ax_count.set(yscale="log")


def bucket_grid(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, measures, png, pdf) -> None:
    """Rows: for each measure, its per-bucket curve and the bucket counts; columns: training datasets."""
    set_style()
    chosen = buckets[buckets.normalization == normalization] if not buckets.empty else buckets
    datasets = list(dict.fromkeys(chosen.dataset)) if not chosen.empty else [""]
    fig, axes = plt.subplots(2 * len(measures), len(datasets), figsize=(6.5 * len(datasets), 5.6 * len(measures)),
                             squeeze=False, sharex=True, height_ratios=[3, 1] * len(measures))
    if not chosen.empty:
        chosen = chosen.assign(label=_label(chosen), centre=(chosen.lo + chosen.hi) / 2)
    stats = stats.assign(label=_label(stats)) if not stats.empty else stats
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {g: palette[i % len(palette)] for i, g in enumerate(dict.fromkeys(chosen.label))} \
        if not chosen.empty else {}
    for m, (measure, scale, ylabel, split) in enumerate(measures):
        for col, dataset in enumerate(datasets):
            ax, ax_n = axes[2 * m, col], axes[2 * m + 1, col]
            part = chosen[(chosen.measure == measure) & (chosen.dataset == dataset)] if not chosen.empty else chosen
            if part.empty:
                no_data(ax, "no runs with this measure (for human labels: no dataset of these runs has them)")
            else:
                _curves(ax, ax_n, part, stats[stats.measure == measure] if not stats.empty else stats, scale,
                        colours)
                ax.set_title(f"trained on {dataset}" + (" (imbalanced)" if part.imbalanced.astype(bool).any()
                                                         else ""))
            ax.set(ylabel=ylabel if col == 0 else None)
            ax_n.set(ylabel="samples per bucket" if col == 0 else None, xlim=(0, 1),
                     xlabel=f"bucket of the normalised {split} norm ({NORMALIZATION_LABEL[normalization]})")
    save(fig, png, pdf)


def knn_buckets(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, png, pdf) -> None:
    bucket_grid(buckets, stats, normalization, KNN, png, pdf)


def human_agreement(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, png, pdf) -> None:
    bucket_grid(buckets, stats, normalization, HUMAN, png, pdf)
