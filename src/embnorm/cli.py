"""`embnorm <stage> ...`: every workflow rule calls one of these, so every step also runs outside Snakemake."""

from __future__ import annotations

import argparse
import functools
import json
import sys

from embnorm import io, paths
from embnorm.errors import EmbnormError
from embnorm.provenance import recording, write_manifest


def _json_arg(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None


def dataset_spec(dataset: str, spec) -> dict:
    """A dataset's --spec checked against the workflow's own schema (its `datasets.<name>` entry, defaults filled in),
    so the standalone command refuses what the workflow would refuse, with the same one-line message."""
    from pathlib import Path

    from embnorm.config import ConfigError, find_schema, validate_config

    if not isinstance(spec, dict):
        raise ConfigError(f"datasets.{dataset}: --spec must be a JSON object (a dataset's config entry), got "
                          f"{type(spec).__name__}")

    from embnorm.data.sources import LOCAL

    config = {"datasets": {dataset: spec}, "grid": {"dataset": [dataset]}}
    spec = validate_config(config, find_schema(Path(".")))["datasets"][dataset]
    if spec.get("source") in LOCAL and "path" not in spec:
        raise ConfigError(f"datasets.{dataset}.path: required for source '{spec['source']}'; it should be "
                          f"{LOCAL[spec['source']]}")
    return spec


def cmd_prepare(args):
    from embnorm.data.prepare import prepare

    prepare(args.dataset, dataset_spec(args.dataset, args.spec), {"train": args.train, "test": args.test})


def cmd_check_dataset(args):
    from embnorm.config import ConfigError
    from embnorm.data.check import check_dataset

    spec = dataset_spec(args.dataset, args.spec)
    if args.parent_spec and "parent" not in spec:  # the workflow passes {} for a source dataset
        raise ConfigError(f"datasets.{args.dataset}: --parent-spec is given, but the dataset names no parent")
    parent = dataset_spec(spec["parent"], args.parent_spec) if args.parent_spec else None
    check_dataset(args.dataset, spec, args.train, args.test, args.out, parent, args.indices)


def cmd_human_labels(args):
    from embnorm.data.prepare import write_human_labels

    write_human_labels(args.dataset, dataset_spec(args.dataset, args.spec), args.train, args.test, args.cifarn,
                       args.counts, args.probs)


def cmd_download(args):
    from embnorm.data.sources import write_downloads

    write_downloads(args.dataset, dataset_spec(args.dataset, args.spec), args.out)


def cmd_split(args):
    from embnorm.data.prepare import write_imbalanced_split

    write_imbalanced_split(args.dataset, args.parent_train, args.base, args.n_max, args.indices, args.audit,
                           args.min_class_size)


def cmd_params(args):
    io.write_json(args.out, args.spec)


def cmd_runs_table(args):
    import pandas as pd

    frame = pd.DataFrame([io.read_json(p) for p in args.params])
    io.write_tsv(args.out, frame[["run_id"] + [c for c in frame.columns if c != "run_id"]])


def _run_indices(params: dict, indices_path):
    """The imbalanced subset's row indices for a run on one (`--indices`, required then), else None."""
    if not params["imbalanced"]:
        return None
    if indices_path is None:
        raise EmbnormError(f"{params['run_id']}: trains on the imbalanced subset {params['dataset']} of "
                           f"{params['source']}; give its indices (--indices)")
    return io.read_npy(indices_path)


def cmd_train(args):
    from embnorm import memory
    from embnorm.data.format import read_split
    from embnorm.data.validate import check_run
    from embnorm.train.loop import train

    memory.keep_freed_memory()  # the same numbers, without re-faulting every step's buffers (embnorm.memory)
    params = io.read_json(args.params)
    indices = _run_indices(params, args.indices)
    train_split, test_split = read_split(args.train), read_split(args.test)
    # the kNN bank is the whole train split, also for a run on a derived (imbalanced) subset of it
    check_run(params, train_split.meta, len(train_split.labels), train_split.image_size)
    train(params, train_split, test_split, indices, checkpoint_path=args.checkpoint, resume_path=args.resume,
          metrics_path=args.metrics, threads=args.threads, stop_after_epochs=args.stop_after_epochs)


def cmd_embed(args):
    from embnorm import memory
    from embnorm.embed import embed_run

    memory.keep_freed_memory()
    embed_run(args.params, args.checkpoint, args.splits, args.out, args.indices, threads=args.threads, init=args.init,
              probe_dir=args.probe)


def cmd_config_reference(args):
    import yaml

    from embnorm.present.schema_doc import reference_markdown

    with open(args.schema) as f:
        print(reference_markdown(yaml.safe_load(f)))


def cmd_manifest(args):
    write_manifest(args.out or paths.MANIFEST, args.rules)


def cmd_audit(args):
    from embnorm.audit import report

    report(args.results, args.config, args.config_json, args.schema, args.json, args.all)


def _split_folders(p: argparse.ArgumentParser, what: str) -> None:
    """`--train DIR --test DIR`: a dataset's two prepared split folders."""
    for split in ("train", "test"):
        p.add_argument(f"--{split}", required=True, help=what.format(split))


@functools.cache
def analysis_commands():
    """`add_subcommands` of present/commands.py, which declares the analysis commands (`analyze ood|growth`, ...,
    `claims`, from analysis/registry.py), and the modules that loading it added to this process: code of the analysis
    commands, and of no other (`provenance.Job`)."""
    loaded = set(sys.modules)
    from embnorm.present.commands import add_subcommands

    return add_subcommands, frozenset(sys.modules.keys() - loaded)


def build_parser() -> argparse.ArgumentParser:
    """The `embnorm` parser: every command, those below and the analysis commands."""
    from embnorm import __version__

    parser = argparse.ArgumentParser(prog="embnorm", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a source dataset into a train and a test split folder")
    p.add_argument("--dataset", required=True)
    p.add_argument("--spec", required=True, type=_json_arg, help="the dataset's config entry, as JSON")
    _split_folders(p, "the folders to write the prepared {} split to (images.npy, labels.npy, meta.json)")
    p.add_argument("--content", default=None, help="a hash of the local data's manifest; the workflow passes it so "
                   "that an edit there re-runs this job (kept in the provenance record, not used otherwise)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("check-dataset", help="verify a dataset's prepared files before training and embedding")
    p.add_argument("--dataset", required=True)
    p.add_argument("--spec", required=True, type=_json_arg, help="the dataset's config entry, as JSON")
    p.add_argument("--parent-spec", type=_json_arg, default=None, help="a derived dataset's parent's entry")
    _split_folders(p, "the prepared {} split to verify (a derived dataset's: its parent's)")
    p.add_argument("--indices", default=None, help="a derived dataset's split indices (indices.npy)")
    p.add_argument("--out", required=True, help="the record to write (resources/datasets/<dataset>/checked.json)")
    p.set_defaults(func=cmd_check_dataset)

    p = sub.add_parser("human-labels", help="write CIFAR-N / CIFAR-10H layout label files for a prepared dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--spec", required=True, type=_json_arg)
    _split_folders(p, "the prepared {} split the labels follow")
    p.add_argument("--cifarn", required=True, help="the CIFAR-N layout file to write (train order, .npz)")
    p.add_argument("--counts", required=True, help="the CIFAR-10H layout counts to write (test order, .npy)")
    p.add_argument("--probs", required=True, help="the CIFAR-10H layout probabilities to write (test order, .npy)")
    p.set_defaults(func=cmd_human_labels)

    p = sub.add_parser("download", help="fetch and md5-check a dataset's raw files (or verify those in place)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--spec", required=True, type=_json_arg)
    p.add_argument("--out", required=True, help="the downloads.json record to write")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("split", help="write an exponentially imbalanced train split (indices + audit)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--parent", required=True, help="the parent dataset's name (recorded; the audit compares it)")
    p.add_argument("--parent-train", required=True, help="the parent's prepared train split folder")
    p.add_argument("--base", required=True, type=float)
    p.add_argument("--n-max", type=int, default=None)
    p.add_argument("--min-class-size", type=int, default=None,
                   help="fewest train images a class may keep (default: 1%% of n_max, rounded up, at least 1)")
    p.add_argument("--indices", required=True, help="the subset's row indices to write (.npy)")
    p.add_argument("--audit", required=True, help="the per-class audit table to write (.tsv)")
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("params", help="write a run's resolved hyper-parameters")
    p.add_argument("--spec", required=True, type=_json_arg)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("runs-table", help="collect params.json files into results/runs.tsv")
    p.add_argument("--out", required=True)
    p.add_argument("params", nargs="+")
    p.set_defaults(func=cmd_runs_table)

    p = sub.add_parser("train", help="train (or resume) one run")
    p.add_argument("--params", required=True, help="the run's params.json")
    _split_folders(p, "the prepared {} split of the run's source dataset")
    p.add_argument("--indices", default=None, help="a run on an imbalanced subset: its indices.npy")
    p.add_argument("--checkpoint", required=True, help="the final checkpoint to write")
    p.add_argument("--metrics", required=True, help="the per-epoch metrics to write (.tsv)")
    p.add_argument("--resume", required=True, help="the resumable checkpoint: read if present, written on a signal "
                   "and every checkpoint_every epochs, deleted when the run ends")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--stop-after-epochs", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("embed", help="extract a run's features of its ID and OOD splits")
    p.add_argument("--params", required=True, help="the run's params.json")
    p.add_argument("--checkpoint", required=True, help="the run's final checkpoint")
    p.add_argument("--splits", nargs="+", required=True, help="the prepared split folders to embed: some or all of "
                   "the run's source and OOD train and test splits")
    p.add_argument("--indices", default=None, help="a run on an imbalanced subset: its indices.npy")
    p.add_argument("--out", required=True, help="the folder to write <dataset>-<split>.npz files to")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--init", action="store_true", help="embed with the run's encoder at initialisation (rebuilt from "
                   "its seed, checked against the checkpoint's digest, BatchNorm statistics of its probe images)")
    p.add_argument("--probe", default=None, help="with --init: the run's source train split, which its probe images "
                   "are drawn from, when it is not among --splits")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("config-reference", help="print the configuration reference (Markdown) from the schema")
    p.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    p.set_defaults(func=cmd_config_reference)

    p = sub.add_parser("manifest", help="collect the provenance records into results/manifest.tsv")
    p.add_argument("--out", default=None, help="default: results/manifest.tsv")
    p.add_argument("--rules", type=_json_arg, default={}, help="rule name -> output regexes, as JSON (from the workflow)")
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("audit", help="check every artifact against its provenance record and the current config")
    p.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    p.add_argument("--config", action="append", default=[], help="config file(s), merged in order "
                   "(default: config.yaml beside the results folder)")
    p.add_argument("--config-json", type=_json_arg, default=None, help="the config as JSON (the workflow passes its own)")
    p.add_argument("--schema", default=None, help="config schema (default: workflow/schemas/config.schema.yaml)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="list the artifacts that are ok too")
    p.set_defaults(func=cmd_audit)

    add_subcommands, _ = analysis_commands()
    add_subcommands(sub)
    return parser


def main(argv=None) -> int:
    """Run one command, inside a provenance recording: a record for every artifact it writes (embnorm.provenance)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    _, declaring = analysis_commands()
    try:
        with recording(args, argv, declaring=declaring):
            args.func(args)
    except EmbnormError as e:
        print(f"embnorm {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
