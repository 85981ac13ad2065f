"""One figure style for the whole report: panels, colours, legends outside the data, and atomic saving of PNG + PDF.

A figure over runs draws one panel per model + optimizer and training dataset (`facets`), so that a study of any size
keeps each panel to a handful of series: at most `MAX_SERIES`, a facet with more is split over several panels. Panels
wrap `WRAP` to a row (`panel_grid`). A legend lies outside every axes that holds data: the figure's shared legend to
the right of the panels, a panel's own legend in an empty axes below it. The layout engine (constrained layout) makes
room for the legends and for every label, so that no legend covers data and no label overlaps another.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from embnorm.io import atomic_path  # noqa: E402

MAX_SERIES = 6  # the most series (lines, groups of bars) that one panel draws
WRAP = 3  # panels per row of a figure
PANEL_SIZE = (4.4, 3.0)  # inches of one panel with one axes; each further axes of a panel adds its height ratio
TITLE_WIDTH = 30  # characters of a panel title's line: a longer title wraps rather than reach past its panel
LEGEND_FONT = 8
# The colorblind palette in the order series take it: its light pink (6), close to its pink (4), and its yellow (8),
# faint on white, come last.
SERIES_ORDER = (0, 1, 2, 3, 4, 5, 7, 9, 8, 6)
LEGEND_LINE = 0.19  # inches of one line of a legend in LEGEND_FONT


def set_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.15)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "figure.constrained_layout.use": True, "pdf.fonttype": 42, "svg.fonttype": "none"})


def series_colours(names) -> dict:
    """One colour per name, taken from the palette in the order the names first come. Every table lists runs in the
    run table's order, so the figures of a study give a mitigation the same colour, and the config's first mitigation
    (the baseline in the presets) the palette's first."""
    names = list(dict.fromkeys(names))
    colorblind = sns.color_palette("colorblind")
    palette = [colorblind[i] for i in SERIES_ORDER] if len(names) <= 10 else sns.color_palette("husl", len(names))
    return {name: palette[i] for i, name in enumerate(names)}


def facets(frame: pd.DataFrame, dataset: str = "dataset", series: str = "mitigation") -> list[tuple[str, pd.DataFrame]]:
    """The panels of a figure over runs, each a title and its rows: one per model + optimizer and training dataset
    (both in the order they first come, settings outer), holding at most MAX_SERIES values of `series`. A facet with
    more is split into parts that each start with its first series, the baseline in the config's order, for
    reference."""
    frame = frame.assign(_setting=frame.model + " " + frame.optimizer)
    order = {"_setting": list(dict.fromkeys(frame._setting)), dataset: list(dict.fromkeys(frame[dataset]))}
    keys = sorted(frame[["_setting", dataset]].drop_duplicates().itertuples(index=False),
                  key=lambda k: (order["_setting"].index(k[0]), order[dataset].index(k[1])))
    panels = []
    for name, data in keys:
        part = frame[(frame._setting == name) & (frame[dataset] == data)].drop(columns="_setting")
        imbalanced = "imbalanced" in part and part.imbalanced.astype(bool).any()
        title = f"{name} · {data}" + (" (imbalanced)" if imbalanced else "")
        values = list(dict.fromkeys(part[series]))
        if len(values) <= MAX_SERIES:
            panels.append((textwrap.fill(title, TITLE_WIDTH), part))
            continue
        first, rest = values[0], values[1:]
        chunks = [rest[i:i + MAX_SERIES - 1] for i in range(0, len(rest), MAX_SERIES - 1)]
        for i, chunk in enumerate(chunks):
            panels.append((textwrap.fill(f"{title} ({i + 1}/{len(chunks)})", TITLE_WIDTH),
                           part[part[series].isin([first, *chunk])]))
    return panels


def panel_grid(panels: int, blocks: int = 1, height_ratios=(1.0,), legend_lines: int = 0, size=PANEL_SIZE,
               wrap: int = WRAP):
    """A figure of `blocks` blocks of `panels` panels, `wrap` to a row, each block starting a new row, all on one grid
    (so that the axes of a row line up). A panel stacks one axes per entry of `height_ratios`, sharing x, and below
    them, with `legend_lines`, an empty axes with room for a legend of that many lines (`legend_below`). Returns the
    figure and, per block, a list of panels: (data axes top to bottom, legend axes or None, column)."""
    panels = max(panels, 1)
    cols = min(panels, wrap)
    block_rows = math.ceil(panels / cols)
    width, height = size
    ratios = list(height_ratios) + ([(LEGEND_LINE * legend_lines + 0.1) / height] if legend_lines else [])
    fig = plt.figure(figsize=(width * cols, height * sum(ratios) * block_rows * blocks))
    grid = fig.subplots(block_rows * blocks * len(ratios), cols, squeeze=False,
                        height_ratios=ratios * block_rows * blocks)
    out = []
    for b in range(blocks):
        cells = []
        for i in range(block_rows * cols):
            row, col = b * block_rows + i // cols, i % cols
            stack = grid[row * len(ratios):(row + 1) * len(ratios), col]
            if i >= panels:
                for ax in stack:
                    ax.set_visible(False)
                continue
            data = list(stack[:len(height_ratios)])
            for ax in data[1:]:
                ax.sharex(data[0])
            for ax in data[:-1]:
                ax.tick_params(labelbottom=False)
            if legend_lines:
                stack[-1].axis("off")
            cells.append((data, stack[-1] if legend_lines else None, col))
        out.append(cells)
    return fig, out


def legend_right(fig, handles, labels, title: str | None = None) -> None:
    """The figure's shared legend, outside every axes, to the right of the panels."""
    fig.legend(handles, labels, title=title, loc="outside right upper", fontsize=LEGEND_FONT, frameon=False)


def legend_below(legend_ax, source_axes, ncols: int = 1, **kwargs) -> None:
    """A panel's own legend, of the labelled artists of `source_axes`, in the empty axes below them (panel_grid)."""
    handles, labels = source_axes.get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="upper center", ncols=ncols, fontsize=LEGEND_FONT, frameon=False,
                     borderaxespad=0, **kwargs)


def rotate_crowded_labels(axes, axis: str = "x") -> None:
    """Turn the tick labels of all these axes upright where, drawn level, neighbours on any of them would overlap: all
    alike, so that the panels of a row keep one height."""
    fig = axes[0].get_figure(root=True)
    fig.canvas.draw()  # lays the figure out, so that the labels have their final size and place
    renderer = fig.canvas.get_renderer()
    boxes = [[t.get_window_extent(renderer) for t in getattr(ax, f"get_{axis}ticklabels")() if t.get_text()]
             for ax in axes]
    if any(a.overlaps(b) for ax_boxes in boxes for a, b in zip(ax_boxes, ax_boxes[1:])):
        for ax in axes:
            ax.tick_params(axis=axis, labelrotation=90)


def no_data(ax, message: str) -> None:
    """An empty panel that says why it is empty (a figure is still written, so the report is complete)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig, png_path, pdf_path):
    """Write the figure as PNG and PDF (each atomically) and close it; returns it, so that a caller can inspect its
    layout."""
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata={"CreationDate": None} if fmt == "pdf" else None)
    plt.close(fig)
    return fig
