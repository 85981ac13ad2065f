"""Figures of the theory simulations (C1-C4, C6). Each function draws one figure of two panels from the simulation
tables, each panel's legend below it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from embnorm.analysis.simulations import loglog_slope
from embnorm.analysis.stats import spearman
from embnorm.present.style import legend_below, panel_grid, save, set_style

SIZE = (5.0, 3.6)  # inches of each of a figure's two panels
FLOOR = 1e-20  # exact zeros drawn at this height on the log axis


def gradients(checks: pd.DataFrame, gd: pd.DataFrame, png, pdf):
    """C1: the autograd checks against float64 resolution; C2: mean norm under plain GD, relative to its start."""
    set_style()
    fig, (cells,) = panel_grid(2, legend_lines=2, size=SIZE)
    ((ax_c1,), _, _), ((ax_c2,), c2, _) = cells
    labels = checks.statistic.str.replace("max_", "").str.replace("_", " ") + "\n(" + checks.loss + ")"
    ax_c1.barh(labels, np.maximum(checks.value, FLOOR), color=sns.color_palette()[0])
    ax_c1.set_xscale("log")
    ax_c1.axvline(1e-8, color="0.3", ls="--", lw=0.8)
    ax_c1.axvline(np.finfo(float).eps, color="0.6", ls=":", lw=0.8)
    ax_c1.set(xlabel="max over 10,000 pairs (dimensionless; dashed: 1e-8, dotted: float64 eps)", ylabel=None)
    ax_c1.tick_params(axis="y", labelsize=7)
    for loss, frame in gd.groupby("loss"):
        ax_c2.plot(frame.step, frame.mean_norm / frame.mean_norm.iloc[0], label=f"{loss} (min. fraction not "
                   f"decreased {frame.frac_not_decreased.min():.3g})")
    ax_c2.set(xlabel="gradient-descent step", ylabel="mean norm ÷ mean norm after step 1")
    legend_below(c2, ax_c2)
    return save(fig, png, pdf)


def convergence(norms: pd.DataFrame, angles: pd.DataFrame, png, pdf):
    """C3: steps to convergence against the embedding norm, with 96 r^2; C4: against the initial angle."""
    set_style()
    fig, (cells,) = panel_grid(2, legend_lines=2, size=SIZE)
    ((ax_r,), left, _), ((ax_a,), right, _) = cells
    mean = norms.groupby("norm").steps.mean()
    r = np.linspace(0, mean.index.max(), 200)
    ax_r.plot(r, 96 * r ** 2, color="0.6", ls="--", lw=1, label="96 r² (derived, §1.3)")
    ax_r.plot(mean.index, mean.values, "o", label=f"simulation (log-log slope {loglog_slope(mean.index, mean):.3f})")
    ax_r.set(xlabel="embedding norm r (dimensionless)", ylabel="SGD steps until mean cos ≥ 0.999")
    legend_below(left, ax_r)
    ax_a.plot(angles.initial_mean_angle, angles.steps, "o-", ms=3,
              label=f"Spearman ρ = {spearman(angles.initial_mean_angle, angles.steps):.3f}")
    ax_a.set(xlabel="mean initial angle of the positive pairs (rad)", ylabel="SGD steps until mean cos ≥ 0.999",
             xticks=[0, np.pi / 2, np.pi], xticklabels=["0", "π/2", "π"])
    legend_below(right, ax_a)
    return save(fig, png, pdf)


def imbalance(trajectories: pd.DataFrame, density: pd.DataFrame, png, pdf):
    """C6: per-class mean norm over epochs (mean over runs, band: standard error); k-NN distance against norm."""
    set_style()
    fig, (cells,) = panel_grid(2, legend_lines=2, size=SIZE)
    ((ax_t,), left, _), ((ax_d,), right, _) = cells
    palette = sns.color_palette("Blues", n_colors=trajectories["class"].nunique() + 1)[1:]
    for color, (c, frame) in zip(palette, trajectories.groupby("class")):
        stats = frame.groupby("epoch").mean_norm.agg(["mean", "sem"])
        share = frame[frame.epoch == 0]["count"].sum() / trajectories[trajectories.epoch == 0]["count"].sum()
        ax_t.plot(stats.index, stats["mean"], color=color, label=f"class {c} ({share:.0%} of points)")
        ax_t.fill_between(stats.index, stats["mean"] - stats["sem"], stats["mean"] + stats["sem"], color=color,
                          alpha=0.12)
    ax_t.set(xlabel="epoch", ylabel="class mean embedding norm",
             title=f"mean over {trajectories.run.nunique()} runs (band: ± 1 standard error)")
    legend_below(left, ax_t, ncols=2)
    for color, (c, frame) in zip(palette, density.groupby("class")):
        ax_d.scatter(frame.knn_distance, frame.norm, s=4, alpha=0.4, color=color, label=f"class {c}")
    rho = np.mean([spearman(f.knn_distance, f.norm) for _, f in density.groupby("run")])
    ax_d.set(xlabel=f"distance to the {int(density.k.iloc[0])}th nearest neighbour (normalised embeddings)",
             ylabel="embedding norm", title=f"all runs; mean per-run Spearman ρ = {rho:.3f}")
    legend_below(right, ax_d, ncols=4, markerscale=3)
    return save(fig, png, pdf)
