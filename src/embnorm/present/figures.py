"""The report's figures over runs. Each function takes a table produced by an analysis and draws one figure: a panel
per model + optimizer and training dataset (style.facets), one colour per mitigation (style.series_colours)."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from embnorm.present.style import (facets, legend_right, no_data, panel_grid, rotate_crowded_labels, save,
                                   series_colours, set_style)

ROLE_LABELS = {"id_train": "ID train", "id_test": "ID test", "ood_train": "OOD train", "ood_test": "OOD test"}
NORM_LABEL = "mean projector norm\n(probe batch)"
KNN_LABEL = "test kNN accuracy (%)"
MIN_GROUPS = 3  # a bar panel is as wide as this many groups of bars, however few it draws


def mitigation_legend(fig, colours: dict, shown) -> None:
    """The shared legend of a figure coloured by mitigation: the mitigations it draws, in the colours' order."""
    names = [m for m in colours if m in set(shown)]
    legend_right(fig, [Line2D([], [], color=colours[m], marker="o", ms=4) for m in names], names, title="mitigation")


def training_curves(frame: pd.DataFrame, x: str, xlabel: str, png, pdf, band: tuple[str, str] | None = None):
    """Per panel, the mean projector norm (`projector_norm`, with a band between the `band` columns) over `x` and,
    below it, the test kNN accuracy (`knn_acc`, a fraction) at the evaluated points; one line per mitigation. The
    frame holds one row per group and `x` (means over seeds)."""
    set_style()
    colours = series_colours(frame.mitigation)
    panels = facets(frame)
    fig, (cells,) = panel_grid(len(panels), height_ratios=(1.0, 1.0))
    for (title, part), ((ax_norm, ax_knn), _, col) in zip(panels, cells):
        for mitigation, curve in part.groupby("mitigation", sort=False):
            curve = curve.sort_values(x)
            colour = colours[mitigation]
            ax_norm.plot(curve[x], curve.projector_norm, color=colour)
            if band:
                ax_norm.fill_between(curve[x], curve[band[0]], curve[band[1]], color=colour, alpha=0.12, lw=0)
            knn = curve.dropna(subset=["knn_acc"])
            ax_knn.plot(knn[x], 100 * knn.knn_acc, "o-", ms=3, color=colour)
        ax_norm.set_title(title)
        ax_norm.set(ylabel=NORM_LABEL if col == 0 else None)
        ax_knn.set(ylabel=KNN_LABEL if col == 0 else None, xlabel=xlabel)
        ax_knn.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    mitigation_legend(fig, colours, frame.mitigation)
    return save(fig, png, pdf)


def norm_growth(metrics: pd.DataFrame, png, pdf):
    """Projector norm of the probe batch (mean over seeds of its mean, band: of its 10th and 90th percentiles) and
    test kNN accuracy over optimizer steps (epochs for metrics that do not record steps)."""
    x = "step" if "step" in metrics and metrics.step.notna().all() else "epoch"
    keys = ["model", "optimizer", "mitigation", "dataset", "imbalanced", x]
    means = (metrics.groupby(keys, sort=False, dropna=False)
             .agg(projector_norm=("projector_norm_mean", "mean"), lo=("projector_norm_p10", "mean"),
                  hi=("projector_norm_p90", "mean"), knn_acc=("knn_acc", "mean"))
             .reset_index())
    return training_curves(means, x, {"step": "optimizer step", "epoch": "epoch"}[x], png, pdf, band=("lo", "hi"))


def norm_vs_ood(table: pd.DataFrame, png, pdf):
    """Fig. 3: mean norm of each split divided by the ID-train mean, one group of bars per mitigation of a panel."""
    set_style()
    frame = table.assign(split=table.role.map(ROLE_LABELS))
    panels = facets(frame, dataset="train_dataset") if not frame.empty else []
    fig, (cells,) = panel_grid(len(panels))
    if not panels:
        no_data(cells[0][0][0], "no trained runs")
        return save(fig, png, pdf)
    errorbar = ("pi", 100) if frame.seed.nunique() > 1 else None
    splits = list(ROLE_LABELS.values())
    for i, ((title, part), ((ax,), _, col)) in enumerate(zip(panels, cells)):
        groups = list(dict.fromkeys(part.mitigation))
        sns.barplot(part, x="mitigation", y="ratio_to_id_train", hue="split", hue_order=splits, errorbar=errorbar,
                    order=groups, legend=i == 0, ax=ax)
        ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
        pad = max(0, MIN_GROUPS - len(groups)) / 2  # a panel of few groups keeps bars of the usual width
        ax.set(title=title, xlim=(-0.5 - pad, len(groups) - 0.5 + pad), xlabel="mitigation",
               ylabel=f"mean {frame.layer.iloc[0]} norm\n÷ ID-train mean" if col == 0 else None)
    axes = [ax for (ax,), _, _ in cells]
    top = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(0, top)
    first = cells[0][0][0]
    legend_right(fig, *first.get_legend_handles_labels(), title="split")
    first.get_legend().remove()
    rotate_crowded_labels(axes)  # last: the legend takes its width from the panels
    return save(fig, png, pdf)
