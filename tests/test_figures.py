"""The report's figures stay legible at any study size: on a study of 12 run groups (one facet of 8 mitigations) and
on one of the default study's size, every panel draws at most MAX_SERIES series, no legend lies over an axes that
holds data, and no two labels overlap; a mitigation has one colour in every figure; norm growth is drawn over
optimizer steps."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from embnorm.analysis.growth import training_summary, weight_decay_sweep
from embnorm.analysis.mitigation import epoch_table
from embnorm.present import figures, figures_confidence, figures_mitigation, figures_sim
from embnorm.present.style import MAX_SERIES, facets

# (model, optimizer, dataset, mitigation, weight decay); 12 groups, 8 of them in one facet
STUDY = ([("simclr", "sgd", "synth", m, wd) for m, wd in
          [("none", 1e-6), ("cut", 1e-6), ("gradscale", 1e-6), ("wd_e01", 4.85e-4), ("wd_e1", 4.85e-3),
           ("wd_e3", 1.45e-2), ("gradscale_then_cut", 1e-6), ("cut_half", 1e-6)]]
         + [("simclr", "adam", "synth", "none", 1e-6), ("simclr", "adam", "synth", "cut", 1e-6),
            ("simsiam", "sgd", "synthimb", "none", 5e-4), ("simsiam", "sgd", "synthimb", "cut", 5e-4)])
SMALL = [g for g in STUDY if g[:2] == ("simclr", "sgd") and g[3] in ("none", "cut", "gradscale")] + \
        [("simclr", "sgd", "synthimb", "none", 1e-6)]
SEEDS = (0, 1, 2)
STEPS_PER_EPOCH = 19


def runs(study) -> pd.DataFrame:
    rows = [{"run_id": f"{m}-{o}-{mit}-{d}-s{s}", "model": m, "optimizer": o, "mitigation": mit, "dataset": d,
             "seed": s, "weight_decay": wd, "cut": 3.0 if "cut" in mit else 1.0,
             "gradscale": 1.0 if "gradscale" in mit else 0.0, "lr": 0.1, "imbalanced": d.endswith("imb"),
             "source": "synth"}
            for (m, o, d, mit, wd), s in itertools.product(study, SEEDS)]
    return pd.DataFrame(rows)


def metrics(study) -> pd.DataFrame:
    """metrics.tsv rows of every run: a growing norm every epoch, the kNN accuracy every third epoch."""
    rng = np.random.default_rng(0)
    frames = []
    for run in runs(study).itertuples(index=False):
        epoch = np.arange(13)
        norm = 1 + 3 * (1 - np.exp(-epoch / 4)) + rng.normal(0, 0.1, epoch.size)
        frames.append(pd.DataFrame({
            **run._asdict(), "epoch": epoch, "step": STEPS_PER_EPOCH * epoch, "projector_norm_mean": norm,
            "projector_norm_p10": 0.7 * norm, "projector_norm_p90": 1.4 * norm,
            "knn_acc": np.where(epoch % 3 == 0, 0.4 + 0.02 * epoch + rng.normal(0, 0.01, epoch.size), np.nan),
            "total_steps": STEPS_PER_EPOCH * 12, "warmup_steps": 38, "knn_protocol": "k=200"}))
    return pd.concat(frames, ignore_index=True)


def ood_table(study) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{**run, "train_dataset": run["dataset"], "role": role, "layer": "projector",
             "ratio_to_id_train": 1.0 if role == "id_train" else 0.9 + 0.1 * rng.random()}
            for run in runs(study).to_dict("records") for role in figures.ROLE_LABELS]
    return pd.DataFrame(rows).drop(columns="dataset")


def bucket_tables(study, measures) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(2)
    edges = np.linspace(0, 1, 21)
    buckets = pd.concat([pd.DataFrame({
        **run, "lo": edges[:-1], "hi": edges[1:], "count": rng.integers(0, 800, 20), "value": rng.random(20),
        "plotted": np.arange(20) > 2, "normalization": "max", "measure": measure})
        for run in runs(study).to_dict("records") for measure in measures], ignore_index=True)
    groups = runs(study).drop_duplicates(["model", "optimizer", "mitigation", "dataset"])
    stats = pd.concat([groups.assign(measure=measure, rho=0.1, rho_ci_lo=0.05, rho_ci_hi=0.15, rho_within=0.02)
                       for measure in measures], ignore_index=True)
    return buckets, stats


def class_table(study) -> pd.DataFrame:
    sizes = (500, 300, 180, 110, 65, 40, 24, 15, 9, 5)
    rows = [{**run, "class": c, "n_train": n, "n_test": 100, "train_norm_mean": 3 + n / 500,
             "test_knn_acc": 0.3 + n / 1000, "run_test_knn_acc": 0.5, "layer": "projector"}
            for run in runs(study).to_dict("records") for c, n in enumerate(sizes)]
    return pd.DataFrame(rows)


def draw(study, tmp_path) -> dict:
    """Every figure over runs of `study`, and the simulation figures, each drawn to PNG + PDF; {name: figure}."""
    out = lambda name: (tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")  # noqa: E731
    grown = metrics(study)
    knn, knn_stats = bucket_tables(study, ["knn_correct"])
    human, human_stats = bucket_tables(study, ["human_agreement", "human_entropy"])
    steps = np.arange(1, 201)
    return {
        "norm_growth": figures.norm_growth(grown, *out("norm_growth")),
        "norm_vs_ood": figures.norm_vs_ood(ood_table(study), *out("norm_vs_ood")),
        "knn_buckets": figures_confidence.knn_buckets(knn, knn_stats, "max", *out("knn_buckets")),
        "human_agreement": figures_confidence.human_agreement(human, human_stats, "max", *out("human_agreement")),
        "mitigation": figures_mitigation.epochs(epoch_table(grown, {"simclr": 1e-6, "simsiam": 5e-4}),
                                                *out("mitigation")),
        "class_metrics": figures_mitigation.classes(class_table(study), *out("class_metrics")),
        "weight_decay": figures_mitigation.weight_decay(weight_decay_sweep(training_summary(grown)),
                                                        *out("weight_decay")),
        "sim_gradients": figures_sim.gradients(
            pd.DataFrame({"statistic": ["max_abs_cos_z_grad", "max_rel_err_formula_vs_autograd"],
                          "loss": ["cos-sim", "infonce"], "value": [1e-16, 0.0]}),
            pd.DataFrame({"loss": "cos-sim", "step": steps, "mean_norm": 1 + 0.01 * (1 - np.exp(-steps / 10)),
                          "frac_not_decreased": 1.0}), *out("sim_gradients")),
        "sim_convergence": figures_sim.convergence(
            pd.DataFrame({"norm": [0.5, 1, 2, 5, 10], "steps": [24, 96, 384, 2400, 9600]}),
            pd.DataFrame({"initial_mean_angle": np.linspace(0.1, 3.0, 20), "steps": np.arange(20) * 10}),
            *out("sim_convergence")),
        "sim_imbalance": figures_sim.imbalance(*imbalance_tables(), *out("sim_imbalance")),
    }


def imbalance_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The imbalance simulation's tables: per-class norms over epochs, and per-point neighbour distances, of 2 runs."""
    rng = np.random.default_rng(3)
    trajectories = pd.DataFrame([{"run": r, "class": c, "epoch": e, "count": 2 ** c * 10, "mean_norm": 5 + c + e / 50
                                  + rng.normal(0, 0.1)} for r in range(2) for c in range(4) for e in range(50)])
    density = pd.DataFrame({"run": np.repeat([0, 1], 200), "class": np.tile(np.arange(4), 100),
                            "knn_distance": rng.random(400), "norm": rng.random(400) * 10, "k": 10})
    return trajectories, density


def layout_problems(fig) -> list[str]:
    """What makes a drawn figure hard to read: a legend over an axes that holds data, and two labels (tick labels,
    axis labels, titles, legends) that overlap."""
    canvas = FigureCanvasAgg(fig)  # a closed figure has lost its canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    data_axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison]
    legends = [ax.get_legend() for ax in fig.get_axes() if ax.get_legend()] + list(fig.legends)
    problems = [f"legend {[t.get_text() for t in legend.get_texts()][:2]} over an axes titled '{ax.get_title()}'"
                for legend in legends for ax in data_axes
                if _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))]
    texts = [(t.get_text(), t.get_window_extent(renderer)) for ax in data_axes
             for t in [*drawn_tick_labels(ax), ax.xaxis.label, ax.yaxis.label, ax.title]
             if t.get_visible() and t.get_text()]
    texts += [(f"legend {legend.get_texts()[0].get_text()}", legend.get_window_extent(renderer)) for legend in legends]
    problems += [f"'{a}' overlaps '{b}'" for (a, box_a), (b, box_b) in itertools.combinations(texts, 2)
                 if _overlap(box_a, box_b)]
    return problems


def drawn_tick_labels(ax) -> list:
    """The tick labels an axes draws: those of ticks inside its view limits."""
    labels = []
    for ticks, texts, (lo, hi) in ((ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()),
                                   (ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim())):
        lo, hi = min(lo, hi), max(lo, hi)
        slack = 1e-9 * (hi - lo)
        labels += [text for tick, text in zip(ticks, texts) if lo - slack <= tick <= hi + slack]
    return labels


def _overlap(a, b, tolerance: float = 1.0) -> bool:
    """Whether two display boxes share more than a `tolerance`-pixel rim."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)


GUIDES = {"#4c4c4c", "#424242", "#999999"}  # the colours of dashed reference lines and of seaborn's error bars


def series_drawn(ax) -> int:
    """The series an axes draws: its lines and bars of distinct colours, guides and error bars aside."""
    colours = {to_hex(line.get_color()) for line in ax.lines} | {to_hex(bar.get_facecolor()) for bar in ax.patches}
    return len(colours - GUIDES)


def test_a_facet_of_many_groups_is_split_and_every_part_keeps_the_baseline():
    panels = facets(runs(STUDY))
    series = [list(dict.fromkeys(frame.mitigation)) for _, frame in panels]
    assert [title for title, _ in panels] == ["simclr sgd · synth (1/2)", "simclr sgd · synth (2/2)",
                                              "simclr adam · synth", "simsiam sgd · synthimb\n(imbalanced)"]
    assert all(len(s) <= MAX_SERIES for s in series)
    assert series[0][0] == series[1][0] == "none"
    assert {m for s in series[:2] for m in s} == {g[3] for g in STUDY if g[:3] == ("simclr", "sgd", "synth")}


@pytest.fixture(scope="module", params=[STUDY, SMALL], ids=["12 groups", "default-sized"])
def drawn(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    return folder, request.param, draw(request.param, folder)


def test_every_figure_is_legible(drawn):
    folder, _, figs = drawn
    for name, fig in figs.items():
        assert (folder / f"{name}.png").stat().st_size > 5000 and (folder / f"{name}.pdf").stat().st_size > 1000
        assert layout_problems(fig) == [], name
        series = [series_drawn(ax) for ax in fig.get_axes() if ax.get_visible() and ax.axison]
        if name == "norm_vs_ood":  # a group of bars (one colour per split) per mitigation
            series = [len(ax.get_xticklabels()) for ax in fig.get_axes() if ax.get_visible()]
        assert max(series) <= MAX_SERIES, (name, series)


def test_a_mitigation_has_one_colour_in_every_figure(drawn):
    _, study, figs = drawn

    def colours(fig) -> dict:
        legends = [ax.get_legend() for ax in fig.get_axes() if ax.get_legend()] + list(fig.legends)
        return {text.get_text().split(":")[0]: to_hex(handle.get_color())
                for legend in legends for text, handle in zip(legend.get_texts(), legend.legend_handles)}

    shared = colours(figs["norm_growth"])
    assert len(set(shared.values())) == len(shared) == len({g[3] for g in study})
    for name in ("knn_buckets", "human_agreement", "mitigation", "class_metrics"):
        assert {m: c for m, c in colours(figs[name]).items() if m in shared} == \
            {m: c for m, c in shared.items() if m in colours(figs[name])}, name


def test_norm_growth_is_drawn_over_optimizer_steps(tmp_path):
    fig = figures.norm_growth(metrics(SMALL), tmp_path / "g.png", tmp_path / "g.pdf")
    bottom = [ax for ax in fig.get_axes() if ax.get_xlabel()]
    assert bottom and all(ax.get_xlabel() == "optimizer step" for ax in bottom)
    assert max(line.get_xdata().max() for ax in bottom for line in ax.lines) == 12 * STEPS_PER_EPOCH
