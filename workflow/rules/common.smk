# Configuration: validation (schema first, then cross-references), the run table, and input functions.
import json
import shlex
import sys

from snakemake.utils import validate

from embnorm import paths
from embnorm.config import ConfigError, run_table


def _config_error(message):
    """One line naming the key and what is allowed, no traceback, before any job is planned."""
    print(f"embnorm: config error: {message}", file=sys.stderr)
    sys.exit(1)


def _validate_config(config):
    try:
        validate(config, schema="../schemas/config.schema.yaml")
    except Exception as e:
        cause = e.__cause__ or e.__context__
        if cause is None or not hasattr(cause, "absolute_path"):
            _config_error(str(e).splitlines()[0])
        key = ".".join(str(p) for p in cause.absolute_path) or "(top level)"
        _config_error(f"{key}: {cause.message}")
    try:
        return {run["run_id"]: run for run in run_table(config)}
    except ConfigError as e:
        _config_error(str(e))


RUNS = _validate_config(config)
DATASETS = config["datasets"]
ANALYSIS = config["analysis"]


def code_version(*subpackages):
    """A hash of the source of embnorm sub-packages. Analysis rules carry it as a param, so that editing analysis code
    re-runs the analyses (Snakemake's `code` trigger only sees run:/script: blocks) and nothing upstream of them;
    being a content hash, a `touch` or a checkout of identical code triggers nothing."""
    import hashlib
    from pathlib import Path

    import embnorm

    root = Path(embnorm.__file__).parent
    digest = hashlib.sha256()
    for sub in subpackages:
        for f in sorted((root / sub).rglob("*.py")):
            for part in (f.relative_to(root).as_posix().encode(), b"\0", f.read_bytes(), b"\0"):
                digest.update(part)
    return digest.hexdigest()[:16]


ANALYSIS_CODE = code_version("analysis", "present")


def source_datasets():
    """Datasets that are prepared from a source (not derived), and that some run reads."""
    used = set()
    for run in RUNS.values():
        used.add(run["source"])
        if run["ood"]:
            used.add(run["ood"])
    return sorted(used)


def json_arg(obj):
    """A JSON value quoted for the shell (rule params that carry a spec)."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def dataset_files(dataset, split):
    return [paths.fmt(t, dataset=dataset, split=split) for t in (paths.DATASET_IMAGES, paths.DATASET_LABELS, paths.DATASET_META)]


def train_inputs(wildcards):
    run = RUNS[wildcards.run]
    inputs = {"params": paths.fmt(paths.RUN_PARAMS, run=wildcards.run),
              "data": dataset_files(run["source"], "train") + dataset_files(run["source"], "test")}
    if run["imbalanced"]:
        inputs["indices"] = paths.fmt(paths.SPLIT_INDICES, dataset=run["dataset"])
    return inputs


def run_embeddings(run_id):
    """Every embedding file of a run: ID train/test and its OOD partner's train/test."""
    run = RUNS[run_id]
    datasets = [run["source"]] + ([run["ood"]] if run["ood"] else [])
    return [paths.fmt(paths.RUN_EMBEDDINGS, run=run_id, dataset=d, split=s) for d in datasets for s in ("train", "test")]


def all_params():
    return [paths.fmt(paths.RUN_PARAMS, run=r) for r in RUNS]


def final_outputs():
    outputs = [paths.RUNS_TABLE]
    outputs += [paths.fmt(paths.RUN_CHECKPOINT, run=r) for r in RUNS]
    outputs += [f for r in RUNS for f in run_embeddings(r)]
    outputs += [paths.fmt(t, name=n) for n in ("norm_vs_ood", "training") for t in (paths.TABLE, paths.TABLE_MD)]
    outputs += [paths.fmt(t, name=n) for n in ("norm_vs_ood", "norm_growth") for t in (paths.FIGURE_PNG, paths.FIGURE_PDF)]
    outputs += [f for f in ANALYSIS_OUTPUTS if f not in outputs]  # rules/analysis.smk: every table and figure
    outputs += [paths.MANIFEST]  # last: workflow/rules/audit.smk builds it from everything above
    return outputs
