"""The analysis commands: each reads the files it is given, writes tables (TSV + Markdown) and a figure (PNG + PDF).
cli.py registers them through `add_subcommands`; every analysis rule calls one of them. Their arguments (input
files, options, output files) come from the declarations in `embnorm.analysis.registry`."""

from __future__ import annotations

import argparse
import copy
import json

from embnorm import io
from embnorm.analysis.registry import ANALYSES, Analysis, Option, flag
from embnorm.errors import EmbnormError


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


def cmd_norm_vs_ood(args):
    from embnorm.analysis.common import load_runs
    from embnorm.analysis.ood import norm_vs_ood
    from embnorm.present import figures
    from embnorm.present.tables import write_table

    table = norm_vs_ood(load_runs(args.params, args.embeddings), args.layer)
    write_table(table, args.tsv, args.md)
    figures.norm_vs_ood(table, args.png, args.pdf)


def cmd_norm_growth(args):
    from embnorm.analysis.common import load_runs
    from embnorm.analysis.growth import metrics_long, training_summary
    from embnorm.present import figures
    from embnorm.present.tables import write_table

    metrics = metrics_long(load_runs(args.params, metrics=args.metrics))
    write_table(training_summary(metrics), args.tsv, args.md)
    figures.norm_growth(metrics, args.png, args.pdf)


def cmd_knn_buckets(args):
    from embnorm.analysis.buckets import knn_buckets
    from embnorm.analysis.common import load_runs
    from embnorm.present import figures_confidence
    from embnorm.present.tables import write_table

    _set_threads()
    buckets, stats = knn_buckets(load_runs(args.params, args.embeddings), args.layer, args.buckets, args.k,
                                 args.min_count, args.resamples, args.seed)
    write_table(buckets, args.buckets_tsv, args.buckets_md)
    write_table(stats, args.stats_tsv, args.stats_md)
    figures_confidence.knn_buckets(buckets, stats, args.normalization, args.png, args.pdf)


def human_files(datasets: list[str], labels: list[str], probs: list[str]) -> dict[str, tuple[str, str]]:
    """{dataset: (CIFAR-N labels file, CIFAR-10H probabilities file)} from three lists in the same order."""
    if not len(datasets) == len(labels) == len(probs):
        raise EmbnormError(f"--human-datasets has {len(datasets)} names, --human-labels {len(labels)} files, "
                           f"--human-probs {len(probs)} files; give one file of each per dataset, in the same order")
    return {d: (n, h) for d, n, h in zip(datasets, labels, probs)}


def cmd_human_agreement(args):
    from embnorm.analysis.common import load_runs
    from embnorm.analysis.human import human_agreement
    from embnorm.present import figures_confidence
    from embnorm.present.tables import write_table

    _set_threads()
    human = human_files(args.human_datasets, args.human_labels, args.human_probs)
    buckets, stats = human_agreement(load_runs(args.params, args.embeddings), human, args.layer, args.buckets,
                                     args.min_count_human, args.min_count, args.resamples, args.seed)
    write_table(buckets, args.buckets_tsv, args.buckets_md)
    write_table(stats, args.stats_tsv, args.stats_md)
    figures_confidence.human_agreement(buckets, stats, args.normalization, args.png, args.pdf)


def cmd_mitigation(args):
    from embnorm.analysis import mitigation
    from embnorm.analysis.common import load_runs
    from embnorm.analysis.growth import metrics_long
    from embnorm.present import figures_mitigation
    from embnorm.present.tables import write_table

    _set_threads()
    runs = load_runs(args.params, args.embeddings, args.metrics)
    epochs = mitigation.epoch_table(metrics_long(runs), args.default_weight_decay)
    classes = mitigation.class_table(runs, args.layer)
    write_table(epochs, args.epochs_tsv, args.epochs_md)
    write_table(classes, args.classes_tsv, args.classes_md)
    write_table(mitigation.minority_majority(classes), args.imbalance_tsv, args.imbalance_md)
    figures_mitigation.epochs(epochs, args.epochs_png, args.epochs_pdf)
    figures_mitigation.classes(classes, args.classes_png, args.classes_pdf)


def cmd_confidence_init(args):
    """norm_vs_ood, knn_buckets' and human_agreement's Spearman tables and mitigation's class table, computed as those
    commands compute them, on the runs' embeddings of their encoders at initialisation."""
    from embnorm.analysis import mitigation
    from embnorm.analysis.buckets import knn_buckets
    from embnorm.analysis.common import load_runs
    from embnorm.analysis.human import human_agreement
    from embnorm.analysis.ood import norm_vs_ood
    from embnorm.present.tables import write_table

    _set_threads()
    runs = load_runs(args.params, args.embeddings)
    human = human_files(args.human_datasets, args.human_labels, args.human_probs)
    _, knn = knn_buckets(runs, args.layer, args.buckets, args.k, args.min_count, args.resamples, args.seed)
    _, agreement = human_agreement(runs, human, args.layer, args.buckets, args.min_count_human, args.min_count,
                                   args.resamples, args.seed)
    write_table(norm_vs_ood(runs, args.layer), args.ood_tsv, args.ood_md)
    write_table(knn, args.knn_tsv, args.knn_md)
    write_table(agreement, args.human_tsv, args.human_md)
    write_table(mitigation.class_table(runs, args.layer), args.classes_tsv, args.classes_md)


def cmd_weight_decay(args):
    from embnorm.analysis.growth import weight_decay_sweep
    from embnorm.present import figures_mitigation
    from embnorm.present.tables import write_table

    sweep = weight_decay_sweep(io.read_tsv(args.training))
    write_table(sweep, args.tsv, args.md)
    figures_mitigation.weight_decay(sweep, args.png, args.pdf)


def cmd_claims(args):
    from embnorm.analysis.claims import TABLES, UNTRAINED_TABLES, check_claims
    from embnorm.analysis.claims.plan import needs_line, undecided_claims
    from embnorm.present.claims_table import HEADERS, READINGS_LINE, TITLE, VERDICT_COLUMNS
    from embnorm.present.tables import write_table

    # the untrained encoders' tables are optional: read where the command was given them
    tables = {key: read_table(path) for key in dict.fromkeys((*TABLES, *UNTRAINED_TABLES))
              if (path := getattr(args, key, None))}
    claims = check_claims(tables, args.default_weight_decay, args.resamples, args.seed)
    notes = [READINGS_LINE]
    if args.runs:  # one line: the claims this config cannot decide (missing runs or seeds), from its run table
        notes.append(needs_line(undecided_claims(read_table(args.runs), args.default_weight_decay,
                                                 args.human_datasets)))
    write_table(claims, args.tsv, args.md, args.html, title=TITLE, note=notes, headers=HEADERS,
                verdict_columns=VERDICT_COLUMNS)


def read_table(path):
    """A TSV written by an analysis; a header-only table (nothing to analyse in this config) reads as empty."""
    import pandas as pd

    try:
        return io.read_tsv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None


COMMANDS = {
    "simulate_gradients": cmd_simulate_gradients, "simulate_convergence": cmd_simulate_convergence,
    "simulate_imbalance": cmd_simulate_imbalance, "norm_vs_ood": cmd_norm_vs_ood, "norm_growth": cmd_norm_growth,
    "weight_decay": cmd_weight_decay, "knn_buckets": cmd_knn_buckets, "human_agreement": cmd_human_agreement,
    "mitigation": cmd_mitigation, "confidence_init": cmd_confidence_init, "claims": cmd_claims,
}  # analysis rule -> the function its command runs
TYPES = {"integer": int, "number": float, "string": str, "object": _json}


def add_option(p, option: Option) -> None:
    """An option's argument, from its schema rule: type or choices, default (none: required), help."""
    rule = option.schema
    kwargs = {"dest": option.name, "help": rule.get("description")}
    if option.derived_from:
        kwargs["help"] += f" (the workflow derives it from {option.derived_from})"
    if "enum" in rule:
        kwargs["choices"] = rule["enum"]
    elif rule.get("type") == "array":
        kwargs["nargs"] = "*"
    else:
        kwargs["type"] = TYPES[rule["type"]]
    if "default" in rule:
        kwargs["default"] = copy.deepcopy(rule["default"])
    else:
        kwargs["required"] = True
    p.add_argument(flag(option.name), **kwargs)


def add_arguments(p, analysis: Analysis) -> None:
    """A command's arguments, all from its declaration (analysis/registry.py): the files it reads, its options, the
    files it writes."""
    for i in analysis.inputs:
        p.add_argument(flag(i.name), dest=i.name, nargs=i.nargs, required=i.required, help=i.help)
    for option in analysis.options:
        add_option(p, option)
    for key, output in analysis.outputs.items():
        p.add_argument(flag(key), dest=key, required=True, help=f"output file (the workflow writes {output.path})")


def add_subcommands(sub) -> None:
    """Register the analysis commands on cli.py's subparsers; `analyze <what>` groups those named `analyze ...`."""
    analyze = sub.add_parser("analyze", help="an aggregate analysis over runs: table + figure")
    analyze_sub = analyze.add_subparsers(dest="what", required=True)
    for analysis in ANALYSES.values():
        group, _, name = analysis.command.rpartition(" ")
        parent = {"": sub, "analyze": analyze_sub}[group]
        p = parent.add_parser(name, help=analysis.help, description=analysis.help)
        add_arguments(p, analysis)
        p.set_defaults(func=COMMANDS[analysis.rule])
