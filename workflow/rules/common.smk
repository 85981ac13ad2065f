# Configuration: validation (schema first, then cross-references), the run table, and input functions; and, first of
# all, whether another run holds this folder.
import glob
import json
import os
import shlex
import sys

from embnorm import paths
from embnorm.analysis.registry import (
    ANALYSES,
    CLAIM_TABLES,
    OPTIONAL_CLAIM_TABLES,
    analysis_runs,
    flag,
    init_encoder_runs,
    option_args,
    option_values,
)
from embnorm.config import ConfigError, role_datasets, source_datasets_of, workflow_runs
from embnorm.data.sources import LOCAL, needs_download
from embnorm.provenance import code_digest

# Where Snakemake's default (file) persistence keeps the lock of a run in progress, relative to the working directory.
SNAKEMAKE_LOCKS = os.path.join(".snakemake", "locks", "*.lock")


def _announce_other_run():
    """Say first that another `snakemake` holds this folder. Snakemake plans its jobs before it looks at the lock, so a
    second run is often told instead that the files the first is still writing are incomplete (use
    --rerun-incomplete). One line, not an exit: Snakemake refuses a run that overlaps the lock by itself, a dry run
    may read a locked folder, and `snakemake --unlock` must still run after a killed run left its lock. Job processes
    that a running workflow starts (on a cluster) parse this file too, under its lock: they say nothing."""
    if workflow.is_main_process and glob.glob(SNAKEMAKE_LOCKS):
        print(
            f"embnorm: this folder is in use by another snakemake run (its lock is in {os.path.dirname(SNAKEMAKE_LOCKS)}/):"
            " wait for it to finish; files it is still writing may be reported below as incomplete. If no snakemake "
            "runs in this folder, a killed run left the lock: remove it with `snakemake --unlock`.",
            file=sys.stderr,
        )


_announce_other_run()


def _config_error(message):
    """One line naming the key and what is allowed, no traceback, before any job is planned."""
    print(f"embnorm: config error: {message}", file=sys.stderr)
    sys.exit(1)


def _validate_config(config):
    """Every config check, in embnorm.config.workflow_runs (the schema through validate_config, the one place config
    checks live: finite numbers, integers that are ints, seeds in range, `~` in dataset paths expanded; then what a
    schema cannot see, and the local datasets' paths): the run table, or one error line."""
    try:
        return workflow_runs(config, workflow.source_path("../schemas/config.schema.yaml"))
    except ConfigError as e:
        _config_error(str(e))


RUNS = _validate_config(config)
DATASETS = config["datasets"]
ANALYSIS = config["analysis"]


# A hash of the analysis code (each module's syntax tree without docstrings, `embnorm.provenance.code_digest`). Analysis
# rules carry it as a param, so that editing analysis code re-runs the analyses (Snakemake's `code` trigger only sees
# run:/script: blocks) and nothing upstream of them, while a docstring, comment or formatting edit re-runs nothing:
# the audit judges staleness with the same per-module digests, so the two agree on what counts as a code change.
ANALYSIS_CODE = code_digest("analysis", "present", "evaluation")


def source_datasets():
    """Datasets that are prepared from a source (not derived), and that some run reads."""
    return source_datasets_of(RUNS.values())


def json_arg(obj):
    """A JSON value quoted for the shell (rule params that carry a spec)."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def dataset_files(dataset, split):
    """The three files of one prepared split (data/format.py); commands take the split as their folder, `split_dir`."""
    return [
        paths.fmt(t, dataset=dataset, split=split)
        for t in (paths.DATASET_IMAGES, paths.DATASET_LABELS, paths.DATASET_META)
    ]


def folders(files):
    """The folders that hold these files, in the order they first appear: what a command is given where the rule
    lists the files (the three of each prepared split, the embeddings of each run)."""
    return list(dict.fromkeys(os.path.dirname(f) for f in files))


def split_dir(files):
    """The folder of the one prepared split whose files these are."""
    (folder,) = folders(files)
    return folder


def indices_arg(wildcards, input):
    """`--indices <file>` for a job that has the input `indices` (a run on, or a check of, an imbalanced subset)."""
    return f"--indices {input.indices}" if "indices" in input.keys() else ""


def raw_inputs(wildcards):
    """What a dataset is made from: its downloads.json record, its local `path`, or nothing (synthetic)."""
    spec = DATASETS[wildcards.dataset]
    if needs_download(spec):
        return [paths.fmt(paths.DATASET_DOWNLOADS, dataset=wildcards.dataset)]
    return [spec["path"]] if spec.get("source") in LOCAL else []


def check_inputs(wildcards):
    """What check_dataset verifies: the source's prepared splits, and a derived dataset's split indices."""
    spec = DATASETS[wildcards.dataset]
    source = spec.get("parent", wildcards.dataset)
    inputs = {"train": dataset_files(source, "train"), "test": dataset_files(source, "test")}
    if "parent" in spec:
        inputs["indices"] = paths.fmt(paths.SPLIT_INDICES, dataset=wildcards.dataset)
    return inputs


def imbalanced_indices(run):
    """The split indices of a run on an imbalanced subset: the rows of its source's train split it trains on."""
    return paths.fmt(paths.SPLIT_INDICES, dataset=run["dataset"])


def train_priority(wildcards):
    """Training jobs start longest first (by the images each one processes: steps, or epochs where a run has no step
    budget, times batch and accumulation), so that a local run does not end on one long training while the other
    cores wait; all of them above the simulations (priority 0), as the data jobs (10) are."""
    run = RUNS[wildcards.run]
    images = (run["steps"] or run["epochs"]) * run["batch_size"] * run["accumulate"]
    return 10 + images // 10_000


def train_inputs(wildcards):
    """The run's parameters, its source's prepared splits, and an imbalanced subset's indices."""
    run = RUNS[wildcards.run]
    inputs = {
        "params": paths.fmt(paths.RUN_PARAMS, run=wildcards.run),
        "train": dataset_files(run["source"], "train"),
        "test": dataset_files(run["source"], "test"),
    }
    if run["imbalanced"]:
        inputs["indices"] = imbalanced_indices(run)
    return inputs


def embed_inputs(wildcards):
    """The parameters, the checkpoint, and the prepared train and test files of the one dataset an embed job embeds:
    the run's source or its OOD partner (config.role_datasets); for the source of an imbalanced run, the subset's
    indices, which mark the rows it trained on."""
    run = RUNS[wildcards.run]
    embedded = sorted({dataset for dataset, _ in role_datasets(run).values()})
    if wildcards.dataset not in embedded:
        raise ValueError(f"run {wildcards.run} is embedded on {', '.join(embedded)}, not on {wildcards.dataset}")
    inputs = {
        "params": paths.fmt(paths.RUN_PARAMS, run=wildcards.run),
        "checkpoint": paths.fmt(paths.RUN_CHECKPOINT, run=wildcards.run),
        "data": dataset_files(wildcards.dataset, "train") + dataset_files(wildcards.dataset, "test"),
    }
    if run["imbalanced"] and wildcards.dataset == run["source"]:
        inputs["indices"] = imbalanced_indices(run)
    return inputs


def embed_init_inputs(wildcards):
    """embed_inputs, and the source's train split: the initial encoder's BatchNorm statistics are re-estimated on the
    run's probe images, drawn from the images it trains on (of an imbalanced run, through its indices)."""
    run = RUNS[wildcards.run]
    inputs = {**embed_inputs(wildcards), "probe": dataset_files(run["source"], "train")}
    if run["imbalanced"]:
        inputs["indices"] = imbalanced_indices(run)
    return inputs


def embed_checked(wildcards):
    """The check_dataset records of the datasets a run is embedded on (its dataset and its OOD partner)."""
    run = RUNS[wildcards.run]
    return [paths.fmt(paths.DATASET_CHECK, dataset=d) for d in (run["dataset"], run["ood"]) if d]


def embed_outputs(template):
    """An embed job's outputs: the train and test files of its dataset in its run's folder (`template`:
    paths.RUN_EMBEDDINGS or RUN_EMBEDDINGS_INIT), so that a deleted one is made again by the next run."""
    return {split: paths.fmt(template, run="{run}", dataset="{dataset}", split=split) for split in ("train", "test")}


def embedding_files(template, runs):
    """The embedding files of `runs`, run by run, one per role (config.role_datasets): what the analysis rules read.
    Their commands are given each run's folder (`embedding_folders`)."""
    return [paths.fmt(template, run=r, dataset=d, split=s) for r in runs for d, s in role_datasets(RUNS[r]).values()]


def all_embeddings():
    """Every run's embedding files (written by one embed job per run and dataset)."""
    return embedding_files(paths.RUN_EMBEDDINGS, RUNS)


def init_embeddings(runs):
    """The embedding files of the runs' encoders at initialisation (one embed_init job per run and dataset)."""
    return embedding_files(paths.RUN_EMBEDDINGS_INIT, runs)


def embedding_folders(wildcards, input):
    """An analysis rule's `--embeddings`: the runs' embeddings folders, in run order, from its input files."""
    return folders(input.embeddings)


def output_patterns(rule):
    """A rule's outputs as regexes that match the files it writes; a directory output matches every file in it."""
    return [
        f.regex().pattern.removesuffix("$") + "(?:/.+)?$" if f.is_directory else f.regex().pattern for f in rule.output
    ]


def all_params(runs=RUNS):
    return [paths.fmt(paths.RUN_PARAMS, run=r) for r in runs]


def final_outputs():
    outputs = [paths.RUNS_TABLE]
    outputs += [paths.fmt(paths.RUN_CHECKPOINT, run=r) for r in RUNS]
    outputs += all_embeddings() + init_embeddings(INIT_RUNS)
    outputs += [paths.fmt(t, name=n) for n in ("norm_vs_ood", "training") for t in (paths.TABLE, paths.TABLE_MD)]
    outputs += [
        paths.fmt(t, name=n) for n in ("norm_vs_ood", "norm_growth") for t in (paths.FIGURE_PNG, paths.FIGURE_PDF)
    ]
    outputs += [f for f in ANALYSIS_OUTPUTS if f not in outputs]  # rules/analysis.smk: every table and figure
    outputs += [paths.MANIFEST]  # last: workflow/rules/audit.smk builds it from everything above
    return outputs


# ---- where the workflow's source is: it may run as a module of another project, from another directory ----


def package_source(basedir):
    """Where pip finds the embnorm package for the jobs' conda env (envs/embnorm.yaml installs `-e ${EMBNORM_SOURCE}`):
    the checkout the Snakefile is read from, or the repository and tag that a module's `github(...)` names. A path
    relative to the env file cannot say it: Snakemake copies env files to .snakemake/conda/ and conda runs pip there."""
    from snakemake.sourcecache import HostingProviderFile

    if isinstance(basedir, HostingProviderFile):  # github("owner/embnorm", path="Snakefile", tag="v0.1.0")
        return f"git+https://{basedir.host}/{basedir.repo}@{basedir.ref}#egg=embnorm"
    return basedir.get_path_or_uri(secret_free=True)


# ---- analyses: each rule's outputs, options and command line from its declaration (embnorm.analysis.registry) ----

# Source datasets of the runs that come with human label files, and those files (in the same order).
HUMAN_SOURCES = sorted(
    {r["source"] for r in RUNS.values() if DATASETS[r["source"]].get("human_labels", "none") != "none"}
)
# The option values the workflow derives from the config rather than reads from one key.
DERIVED_OPTIONS = {
    "default_weight_decay": {model: spec["weight_decay"] for model, spec in config["models"].items()},
    "human_datasets": HUMAN_SOURCES,
}
# The runs whose encoder at initialisation is embedded too: those an analysis of such embeddings reads (the baseline
# runs, which the confidence claims read; embnorm.analysis.registry.init_encoder_runs).
INIT_RUNS = init_encoder_runs(list(RUNS.values()), DERIVED_OPTIONS["default_weight_decay"])


def analysis_run_ids(rule):
    """The runs whose files an analysis rule reads (its declaration's `runs`)."""
    return analysis_runs(ANALYSES[rule], list(RUNS.values()), DERIVED_OPTIONS["default_weight_decay"])


def analysis_outputs(rule):
    """The rule's declared outputs, by the command's argument names; those with a caption go into the report."""
    outputs = {}
    for key, o in ANALYSES[rule].outputs.items():
        extra = {"subcategory": o.subcategory} if o.subcategory else {}
        caption = f"../report/{o.caption}.rst"
        outputs[key] = report(o.path, caption=caption, category=o.category, **extra) if o.caption else o.path
    return outputs


def analysis_options(rule):
    """The command's options, as one string, from the declaration and the config: a changed setting changes the params
    of exactly the rules that use it (Snakemake's params trigger)."""
    return option_args(ANALYSES[rule], option_values(ANALYSES[rule], config, DERIVED_OPTIONS))


def analysis_shell(rule):
    """`embnorm <command> --<input> {input.<input>} ... {params.options} --<output> {output.<output>} ...`: every path
    comes from the rule's input and output; an input of folders (`Input.folders`, the runs' embeddings) is given as the
    rule's `{params.<input>}`, the folders of its input files (`embedding_folders`)."""
    analysis = ANALYSES[rule]
    words = [f"embnorm {analysis.command}"]
    words += [f"{flag(i.name)} {{{'params' if i.folders else 'input'}.{i.name}}}" for i in analysis.inputs]
    words += ["{params.options}"] if analysis.options else []
    words += [f"{flag(key)} {{output.{key}}}" for key in analysis.outputs]
    return " ".join(words) + " > {log} 2>&1"
