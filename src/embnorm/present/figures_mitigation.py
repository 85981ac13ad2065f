"""Figures of the mitigation study (paper §6): accuracy and norms over epochs, per class on imbalanced data, and the
weight-decay sweep. A panel per model + optimizer and training dataset, one colour per mitigation (or seed)."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from embnorm.present.figures import KNN_LABEL, mitigation_legend, training_curves
from embnorm.present.style import facets, legend_below, no_data, panel_grid, save, series_colours, set_style


def epochs(table: pd.DataFrame, png, pdf):
    """Probe-batch projector norm and test kNN accuracy over the evaluated epochs (means over seeds)."""
    return training_curves(table, "epoch", "epoch", png, pdf)


def log_ticks(axis) -> None:
    """A log axis labelled at 1, 2 and 5 times each power of ten, in plain numbers, and nowhere else."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def classes(table: pd.DataFrame, png, pdf):
    """Per class of every imbalanced run: test kNN accuracy and mean ID-train norm against the class size, one line
    per mitigation (mean over seeds)."""
    set_style()
    part = table[table.imbalanced.astype(bool)] if not table.empty else table
    panels = facets(part) if not part.empty else []
    fig, (cells,) = panel_grid(len(panels), height_ratios=(1.0, 1.0))
    if not panels:
        for ax in cells[0][0]:
            no_data(ax, "no imbalanced runs in this config")
        return save(fig, png, pdf)
    colours = series_colours(table.mitigation)  # of all runs, as in the study's other figures
    layer = part.layer.iloc[0]
    for (title, frame), ((ax_acc, ax_norm), _, col) in zip(panels, cells):
        for mitigation, lines in frame.groupby("mitigation", sort=False):
            mean = lines.groupby("n_train")[["test_knn_acc", "train_norm_mean"]].mean()
            ax_acc.plot(mean.index, 100 * mean.test_knn_acc, "o-", ms=3, color=colours[mitigation])
            ax_norm.plot(mean.index, mean.train_norm_mean, "o-", ms=3, color=colours[mitigation])
        ax_acc.set_title(title)
        ax_acc.set(xscale="log", ylabel="test kNN accuracy\nof the class (%)" if col == 0 else None)
        ax_norm.set(xlabel="training images of the class (log scale)",
                    ylabel=f"class mean {layer} norm\n(ID train)" if col == 0 else None)
        log_ticks(ax_norm.xaxis)
    mitigation_legend(fig, colours, part.mitigation)
    return save(fig, png, pdf)


def weight_decay(sweep: pd.DataFrame, png, pdf):
    """Final mean projector norm against weight decay, one line per sweep, coloured by seed (x: symmetric log, so 0
    is drawn)."""
    set_style()
    panels = facets(sweep, series="sweep") if not sweep.empty else []
    legend_lines = max((math.ceil(frame.sweep.nunique() / 2) for _, frame in panels), default=0)  # in two columns
    fig, (cells,) = panel_grid(len(panels), legend_lines=legend_lines)
    if not panels:
        no_data(cells[0][0][0], "no weight-decay sweep in this config\n(runs that differ only in weight decay)")
        return save(fig, png, pdf)
    colours = series_colours(sweep.seed)
    positive = sweep.weight_decay[sweep.weight_decay > 0]
    for (title, frame), ((ax,), legend_ax, col) in zip(panels, cells):
        for label, line in frame.groupby("sweep", sort=False):
            ax.plot(line.weight_decay, line.final_projector_norm, "o-", color=colours[line.seed.iloc[0]], label=label)
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1e-8)
        ax.set_title(title)
        ax.set(xlabel="weight decay (symmetric log scale)",
               ylabel="final mean projector norm\n(probe batch)" if col == 0 else None)
        legend_below(legend_ax, ax, ncols=2)
    return save(fig, png, pdf)
