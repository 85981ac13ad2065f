"""Figures of the mitigation study (paper §6): accuracy and norms over epochs, per class on imbalanced data, and the
weight-decay sweep."""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from matplotlib.ticker import MaxNLocator

from embnorm.present.style import no_data, save, set_style


def epochs(table: pd.DataFrame, png, pdf) -> None:
    """Test kNN accuracy and probe-batch projector norm over the evaluated epochs, one column per dataset."""
    set_style()
    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = plt.subplots(2, len(datasets), figsize=(4.6 * len(datasets) + 1, 6.2), squeeze=False, sharex="col")
    frame = table.assign(setting=table.model + " " + table.optimizer, acc=100 * table.knn_acc)
    order = {"hue_order": list(dict.fromkeys(frame.mitigation)), "style_order": list(dict.fromkeys(frame.setting))}
    for col, dataset in enumerate(datasets):
        part = frame[frame.dataset == dataset]
        for row, (y, label) in enumerate((("acc", "test kNN accuracy (%)"),
                                          ("projector_norm", "mean projector norm (probe batch)"))):
            ax = axes[row, col]
            sns.lineplot(part, x="epoch", y=y, hue="mitigation", style="setting", markers=True, dashes=True,
                         errorbar=None, ax=ax, legend=(row == 0 and col == len(datasets) - 1), **order)
            ax.set(ylabel=label if col == 0 else None, xlabel="epoch" if row == 1 else None)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0, col].set_title(f"{dataset}" + (" (imbalanced)" if part.imbalanced.astype(bool).any() else ""))
    legend = axes[0, -1].get_legend()
    if legend:
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    save(fig, png, pdf)


def classes(table: pd.DataFrame, png, pdf) -> None:
    """Per class of every imbalanced run: test kNN accuracy and mean ID-train norm against the class size."""
    set_style()
    fig, (ax_acc, ax_norm) = plt.subplots(1, 2, figsize=(10, 3.8))
    part = table[table.imbalanced.astype(bool)] if not table.empty else table
    if part.empty:
        for ax in (ax_acc, ax_norm):
            no_data(ax, "no imbalanced runs in this config")
    else:
        part = part.assign(acc=100 * part.test_knn_acc, setting=part.model + " " + part.optimizer + " / "
                           + part.dataset)
        for ax, y, label in ((ax_acc, "acc", "test kNN accuracy of the class (%)"),
                             (ax_norm, "train_norm_mean", f"class mean {part.layer.iloc[0]} norm (ID train)")):
            sns.lineplot(part, x="n_train", y=y, hue="mitigation", style="setting", markers=True, errorbar=None,
                         ax=ax, legend=ax is ax_norm, hue_order=list(dict.fromkeys(part.mitigation)))
            ax.set(xscale="log", xlabel="training images of the class (log scale)", ylabel=label)
        sns.move_legend(ax_norm, "upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    save(fig, png, pdf)


def weight_decay(sweep: pd.DataFrame, png, pdf) -> None:
    """Final mean projector norm against weight decay, one line per sweep (x: symmetric log, so 0 is drawn)."""
    set_style()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    if sweep.empty:
        no_data(ax, "no weight-decay sweep in this config\n(runs that differ only in weight decay)")
    else:
        for label, frame in sweep.groupby("sweep", sort=False):
            ax.plot(frame.weight_decay, frame.final_projector_norm, "o-", label=label)
        positive = sweep.weight_decay[sweep.weight_decay > 0]
        ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1e-8)
        ax.set(xlabel="weight decay (symmetric log scale)", ylabel="final mean projector norm (probe batch)")
        ax.legend(fontsize=8)
    save(fig, png, pdf)
