"""Fig. 4: per-bucket curves of kNN correctness and human confidence against the normalised norm, a panel per model +
optimizer and training dataset, one colour per mitigation, with the per-sample Spearman statistics in each panel's
legend (the curve alone can mislead; see analysis/stats.py) and the sample count of every bucket below each curve."""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import NullFormatter

from embnorm.present.style import (PANEL_SIZE, facets, legend_below, no_data, panel_grid, save, series_colours,
                                   set_style)

NORMALIZATION_LABEL = {"max": "norm ÷ max norm", "minmax": "(norm − min) ÷ (max − min)"}
KNN = (("knn_correct", 100.0, "leave-one-out kNN\naccuracy (%)", "ID-train"),)
HUMAN = (("human_agreement", 100.0, "human label =\nclean label (%)", "ID-train"),
         ("human_entropy", 1.0, "mean human label\nentropy (bits)", "ID-test"))
SIZE = (PANEL_SIZE[0], 4.0)  # inches of a panel's curve and counts together: each tall enough for its axis label
GROUP = ["model", "optimizer", "mitigation", "dataset"]  # what names a run group in a panel and in the statistics


def _legend_label(mitigation: str, stats: pd.DataFrame) -> str:
    """The mitigation with its group's Spearman ρ, 95% CI and within-class ρ (`stats`: the group's rows)."""
    if stats.empty:
        return mitigation
    r = stats.iloc[0]
    within = "n/a" if r.rho_within != r.rho_within else f"{r.rho_within:.2f}"
    return f"{mitigation}: ρ {r.rho:.2f} [{r.rho_ci_lo:.2f}, {r.rho_ci_hi:.2f}], within-class {within}"


def _curves(ax_value, ax_count, buckets: pd.DataFrame, stats: pd.DataFrame, scale: float, colours: dict) -> None:
    """One line per mitigation (mean over seeds of the drawn buckets); bars of the mean sample count per bucket."""
    width = float((buckets.hi - buckets.lo).iloc[0])
    groups = list(dict.fromkeys(buckets.mitigation))
    step = width / len(groups)
    for i, (mitigation, frame) in enumerate(buckets.groupby("mitigation", sort=False)):
        key = frame.iloc[0][GROUP]
        own = stats[(stats[GROUP] == key).all(axis=1)] if not stats.empty else stats
        drawn = frame[frame.plotted].groupby("centre").value.mean()
        ax_value.plot(drawn.index, scale * drawn.values, "o-", ms=3, color=colours[mitigation],
                      label=_legend_label(mitigation, own))
        counts = frame.groupby("centre")["count"].mean()
        ax_count.bar(counts.index + (i - (len(groups) - 1) / 2) * step, counts.values, width=step,
                     color=colours[mitigation], alpha=0.7)
    ax_count.set(yscale="log")
    ax_count.yaxis.set_minor_formatter(NullFormatter())  # powers of ten only: a short axis has room for no more


def bucket_grid(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, measures, png, pdf):
    """For each measure a row of panels (wrapped), each its per-bucket curves over the bucket counts."""
    set_style()
    chosen = buckets[buckets.normalization == normalization] if not buckets.empty else buckets
    if not chosen.empty:
        chosen = chosen.assign(centre=(chosen.lo + chosen.hi) / 2)
    panels = facets(chosen) if not chosen.empty else [("", chosen)]
    colours = series_colours(chosen.mitigation) if not chosen.empty else {}
    lines = max(frame.mitigation.nunique() for _, frame in panels) if not chosen.empty else 0
    fig, blocks = panel_grid(len(panels), blocks=len(measures), height_ratios=(0.7, 0.3), legend_lines=lines,
                             size=SIZE)
    for (measure, scale, ylabel, split), cells in zip(measures, blocks):
        measured = stats[stats.measure == measure] if not stats.empty else stats
        for (title, frame), ((ax, ax_n), legend_ax, col) in zip(panels, cells):
            part = frame[frame.measure == measure] if not frame.empty else frame
            if part.empty:
                no_data(ax, "no runs with this measure\n(for human labels: no dataset\nof these runs has them)")
            else:
                _curves(ax, ax_n, part, measured, scale, colours)
                ax.set_title(title)
                legend_below(legend_ax, ax)
            ax.set(ylabel=ylabel if col == 0 else None)
            ax_n.set(ylabel="samples\nper bucket" if col == 0 else None, xlim=(0, 1),
                     xlabel=f"bucket of the normalised {split} norm\n({NORMALIZATION_LABEL[normalization]})")
    return save(fig, png, pdf)


def knn_buckets(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, png, pdf):
    return bucket_grid(buckets, stats, normalization, KNN, png, pdf)


def human_agreement(buckets: pd.DataFrame, stats: pd.DataFrame, normalization: str, png, pdf):
    return bucket_grid(buckets, stats, normalization, HUMAN, png, pdf)
