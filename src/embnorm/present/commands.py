"""Subcommands of the analyses beyond `embnorm analyze`: each reads artifacts, writes tables (TSV + Markdown) and a
figure (PNG + PDF). cli.py registers them through `add_subcommands`; every analysis rule calls one of them."""

from __future__ import annotations

import argparse
import json

from embnorm import io


def _set_threads() -> None:
    import torch

    torch.set_num_threads(1)  # a rule holds one core (Snakemake's default); small tensors gain nothing from more


def cmd_simulate_gradients(args):
    from embnorm.analysis import simulations
    from embnorm.present import figures_sim

    _set_threads()
    checks = simulations.gradient_checks(seed=args.seed)
    gd = simulations.norm_growth_under_gd(seed=args.seed)
    io.write_tsv(args.checks, checks)
    io.write_tsv(args.gd, gd)
    figures_sim.gradients(checks, gd, args.png, args.pdf)


def cmd_simulate_convergence(args):
    from embnorm.analysis import simulations
    from embnorm.present import figures_sim

    _set_threads()
    norms = simulations.convergence_vs_norm(seed=args.seed)
    angles = simulations.convergence_vs_angle(seed=args.seed)
    io.write_tsv(args.norms, norms)
    io.write_tsv(args.angles, angles)
    figures_sim.convergence(norms, angles, args.png, args.pdf)


def cmd_simulate_imbalance(args):
    from embnorm.analysis.simulations_imbalance import imbalance_simulation
    from embnorm.present import figures_sim

    _set_threads()
    trajectories, density = imbalance_simulation(runs=args.sim_runs, epochs=args.epochs, seed=args.seed)
    io.write_tsv(args.trajectories, trajectories)
    io.write_tsv(args.density, density)
    figures_sim.imbalance(trajectories, density, args.png, args.pdf)


def cmd_knn_buckets(args):
    from embnorm.analysis.buckets import knn_buckets
    from embnorm.analysis.common import load_params
    from embnorm.present import figures_confidence
    from embnorm.present.tables import write_table

    _set_threads()
    buckets, stats = knn_buckets(load_params(args.runs), args.layer, args.buckets, args.k, args.min_count,
                                 args.resamples, args.seed)
    write_table(buckets, args.buckets_tsv, args.buckets_md)
    write_table(stats, args.stats_tsv, args.stats_md)
    figures_confidence.knn_buckets(buckets, stats, args.normalization, args.png, args.pdf)


def cmd_human_agreement(args):
    from embnorm.analysis.common import load_params
    from embnorm.analysis.human import human_agreement
    from embnorm.present import figures_confidence
    from embnorm.present.tables import write_table

    _set_threads()
    buckets, stats = human_agreement(load_params(args.runs), args.human_datasets, args.layer, args.buckets,
                                     args.min_count_human, args.min_count, args.resamples, args.seed)
    write_table(buckets, args.buckets_tsv, args.buckets_md)
    write_table(stats, args.stats_tsv, args.stats_md)
    figures_confidence.human_agreement(buckets, stats, args.normalization, args.png, args.pdf)


def cmd_mitigation(args):
    from embnorm.analysis import mitigation
    from embnorm.analysis.common import load_params
    from embnorm.analysis.growth import metrics_long
    from embnorm.present import figures_mitigation
    from embnorm.present.tables import write_table

    _set_threads()
    runs = load_params(args.runs)
    epochs = mitigation.epoch_table(metrics_long(runs), args.default_weight_decay)
    classes = mitigation.class_table(runs, args.layer)
    write_table(epochs, args.epochs_tsv, args.epochs_md)
    write_table(classes, args.classes_tsv, args.classes_md)
    write_table(mitigation.minority_majority(classes), args.imbalance_tsv, args.imbalance_md)
    figures_mitigation.epochs(epochs, args.epochs_png, args.epochs_pdf)
    figures_mitigation.classes(classes, args.classes_png, args.classes_pdf)


def cmd_weight_decay(args):
    from embnorm.analysis.growth import weight_decay_sweep
    from embnorm.present import figures_mitigation
    from embnorm.present.tables import write_table

    sweep = weight_decay_sweep(io.read_tsv(args.training))
    write_table(sweep, args.tsv, args.md)
    figures_mitigation.weight_decay(sweep, args.png, args.pdf)


def cmd_claims(args):
    from embnorm.analysis.claims import TABLES, check_claims
    from embnorm.analysis.claims.plan import needs_line, undecided_claims
    from embnorm.present.tables import write_table

    given = dict(args.table)
    unknown = sorted(set(given) - set(TABLES))
    if unknown:
        raise io.ArtifactError(f"claims: unknown table key(s) {unknown}; expected {list(TABLES)}")
    tables = {key: read_table(path) for key, path in given.items()}
    claims = check_claims(tables, args.default_weight_decay, args.resamples, args.seed)
    note = ""
    if args.runs:  # one line: the claims this config cannot decide (missing runs or seeds), from its run table
        note = needs_line(undecided_claims(read_table(args.runs), args.default_weight_decay, args.human_sources))
    write_table(claims, args.tsv, args.md, args.html, title="Claims check (pre-registered rules, paper-reference §7.1, "
                "amended 2026-11-30)", note=note)


def read_table(path):
    """A TSV written by an analysis; a header-only table (nothing to analyse in this config) reads as empty."""
    import pandas as pd

    try:
        return io.read_tsv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _key_path(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=PATH, got '{text}'")
    return key, path


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None


def _outputs(p, *names):
    for name in names:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, required=True)


def _run_options(p):
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--layer", default="projector")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")


def add_subcommands(sub) -> None:
    """Register the analysis subcommands on cli.py's subparsers."""
    p = sub.add_parser("simulate-gradients", help="C1/C2 simulations: gradient orthogonality, 1/||z||, norm growth")
    _outputs(p, "checks", "gd", "png", "pdf")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_simulate_gradients)

    p = sub.add_parser("simulate-convergence", help="C3/C4 simulations: steps to converge vs norm and vs angle")
    _outputs(p, "norms", "angles", "png", "pdf")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_simulate_convergence)

    p = sub.add_parser("simulate-imbalance", help="C6 simulations: class-imbalance norms and density vs norm")
    _outputs(p, "trajectories", "density", "png", "pdf")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--sim-runs", dest="sim_runs", type=int, default=5)
    p.set_defaults(func=cmd_simulate_imbalance)

    for name, func, help_text in (("knn-buckets", cmd_knn_buckets, "Fig. 4 left: kNN correctness per norm bucket"),
                                  ("human-agreement", cmd_human_agreement, "Fig. 4: human confidence per norm bucket")):
        p = sub.add_parser(name, help=help_text)
        _run_options(p)
        p.add_argument("--buckets", type=int, default=20)
        p.add_argument("--min-count", dest="min_count", type=int, default=10)
        p.add_argument("--normalization", choices=["max", "minmax"], default="max", help="the one drawn")
        _outputs(p, "buckets_tsv", "buckets_md", "stats_tsv", "stats_md", "png", "pdf")
        if name == "knn-buckets":
            p.add_argument("--k", type=int, default=200)
        else:
            p.add_argument("--min-count-human", dest="min_count_human", type=int, default=50)
            p.add_argument("--human-datasets", dest="human_datasets", nargs="*", default=[],
                           help="source datasets that have human label files")
        p.set_defaults(func=func)

    p = sub.add_parser("mitigation", help="mitigation tables: kNN accuracy and norms per setting, epoch and class")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--layer", default="projector")
    p.add_argument("--default-weight-decay", dest="default_weight_decay", type=_json, required=True,
                   help='JSON {model: weight decay}')
    _outputs(p, "epochs_tsv", "epochs_md", "classes_tsv", "classes_md", "imbalance_tsv", "imbalance_md",
             "epochs_png", "epochs_pdf", "classes_png", "classes_pdf")
    p.set_defaults(func=cmd_mitigation)

    p = sub.add_parser("weight-decay", help="the weight-decay sweep's final norms, from the training summary")
    _outputs(p, "training", "tsv", "md", "png", "pdf")
    p.set_defaults(func=cmd_weight_decay)

    p = sub.add_parser("claims", help="the claims check C1-C14 (pre-registered rules) from the analysis tables")
    p.add_argument("--table", type=_key_path, action="append", required=True, help="KEY=PATH, one per table")
    p.add_argument("--default-weight-decay", dest="default_weight_decay", type=_json, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--runs", help="the run table (results/runs.tsv): the tables then say which claims this config "
                                  "cannot decide")
    p.add_argument("--human-sources", dest="human_sources", type=_json, default=[],
                   help="JSON list of the source datasets with human labels")
    _outputs(p, "tsv", "md", "html")
    p.set_defaults(func=cmd_claims)
