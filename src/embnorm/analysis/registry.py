"""Every analysis declared once: its command, the files it reads, its options, the files it writes, their report
captions, and which of them the claims check reads.

Everything else is derived from `ANALYSES`: the argparse arguments of each command (`present/commands.py`), the
rules' option params, outputs and report entries and the claims rule's inputs (`workflow/rules/analysis.smk`), the
tables `check_claims` reads (`analysis.claims.TABLES`) and those the claims rule passes beside them
(`OPTIONAL_CLAIM_TABLES`), the runs whose files a rule reads and whose initial encoder is embedded (`analysis_runs`,
`init_encoder_runs`; the workflow and the audit), the options the audit compares with the config
(`audit.AGGREGATE_OPTIONS`), and the schema's `analysis` block (`config_schema_block`, written into
`workflow/schemas/config.schema.yaml` by `make config-reference`; tests/test_analysis_registry.py fails when they
drift). docs/adding-an-analysis.md lists the steps to add one.

    >>> ANALYSES["knn_buckets"].command
    'knn-buckets'
    >>> [o.key for o in ANALYSES["knn_buckets"].options][:3]
    [('analysis', 'layer'), ('analysis', 'buckets'), ('analysis', 'knn_k')]
    >>> ANALYSES["knn_buckets"].outputs["stats_tsv"].path
    'results/tables/knn_spearman.tsv'
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from embnorm import paths

# Report categories are numbered because the report lists them alphabetically: the claims check comes first.
CLAIMS, THEORY, TRAINING, OOD, CONFIDENCE, MITIGATION = (
    "1 Claims check", "2 Theory simulations", "3 Training and norm growth", "4 Norm vs OOD (Fig. 3)",
    "5 Norm as confidence (Fig. 4)", "6 Mitigations",
)
TEMPLATES = {"tsv": paths.TABLE, "md": paths.TABLE_MD, "html": paths.TABLE_HTML, "png": paths.FIGURE_PNG,
             "pdf": paths.FIGURE_PDF, "sim": paths.SIMULATION}


def flag(name: str) -> str:
    """The command-line flag of an argparse destination: `min_count` -> `--min-count`."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Option:
    """A setting of an analysis command. `key` is the config key the workflow sets it from (None: a value the workflow
    derives from the config, `derived_from` says from what); `schema` is its JSON-schema rule (type, bounds, default,
    description), from which both the argparse argument and the schema's `analysis` block are made."""

    name: str
    key: tuple[str, ...] | None
    schema: dict
    derived_from: str = ""


@dataclass(frozen=True)
class Input:
    """Files an analysis command reads, given on its command line by the rule's `{input.<name>}`. An input of `folders`
    is one folder per run (its embeddings): the rule lists the files in them as its input, so that a deleted one is
    made again, and gives the command their folders, in run order (`{params.<name>}`)."""

    name: str
    help: str
    nargs: str | None = "+"  # "+": one file per run (in the order of --params); "*": possibly none; None: one file
    required: bool = True
    folders: bool = False


@dataclass(frozen=True)
class Output:
    """A file an analysis writes: `results/<kind's folder>/<name>.<ext>`. `caption` names its report caption
    (workflow/report/<caption>.rst; empty: not in the report); `claims`: the claims check reads it as `tables[name]`
    (it requires it); `claims_optional`: the claims rule passes it too, and the claims command hands it on as
    `tables[name]`, but the check does not require it (a table shown beside a claim, not one it is decided on)."""

    kind: str
    name: str
    caption: str = ""
    category: str = ""
    subcategory: str = ""
    claims: bool = False
    claims_optional: bool = False

    @property
    def path(self) -> str:
        return paths.fmt(TEMPLATES[self.kind], name=self.name)


@dataclass(frozen=True)
class Analysis:
    """One analysis rule and the `embnorm` command it runs; `outputs` maps the command's output argument (and the
    rule's output key) to the file. `runs`: whose files it reads, "all" runs of the config or the "baseline" ones
    (`analysis_runs`)."""

    rule: str
    command: str
    help: str
    inputs: tuple[Input, ...]
    options: tuple[Option, ...]
    outputs: dict[str, Output] = field(default_factory=dict)
    runs: str = "all"


# ---- the options (the schema's `analysis` block is generated from these, in this order) ----

BUCKETS = Option("buckets", ("analysis", "buckets"), {
    "description": "Number of equal-width norm buckets.", "type": "integer", "minimum": 2, "default": 20})
NORMALIZATION = Option("normalization", ("analysis", "bucket_normalization"), {
    "description": "`max` (norm / max, the paper text) or `minmax` (the authors' notebook).",
    "enum": ["max", "minmax"], "default": "max"})
KNN_K = Option("k", ("analysis", "knn_k"), {
    "description": "k of the per-bucket kNN classifier (cosine).", "type": "integer", "minimum": 1, "default": 200})
MIN_COUNT = Option("min_count", ("analysis", "min_bucket_count"), {
    "description": "Fewest samples for a norm bucket to be drawn (kNN correctness; human entropy on the test split).",
    "type": "integer", "minimum": 1, "default": 10})
MIN_COUNT_HUMAN = Option("min_count_human", ("analysis", "min_bucket_count_human"), {
    "description": "Fewest samples for a norm bucket of human agreement (train split) to be drawn; 50 as in the "
                   "authors' notebook.", "type": "integer", "minimum": 1, "default": 50})
RESAMPLES = Option("resamples", ("analysis", "bootstrap"), {
    "description": "Bootstrap resamples for confidence intervals.", "type": "integer", "minimum": 100,
    "default": 1000})
LAYER = Option("layer", ("analysis", "layer"), {
    "description": "Embedding layer the norm analyses read.", "enum": ["projector", "backbone", "predictor"],
    "default": "projector"})
SIM_EPOCHS = Option("epochs", ("analysis", "simulation_epochs"), {
    "description": "Epochs of the class-imbalance simulation (the authors' notebook: 100).", "type": "integer",
    "minimum": 1, "default": 100})
SIM_RUNS = Option("sim_runs", ("analysis", "simulation_runs"), {
    "description": "Independent runs of the class-imbalance simulation (the notebook: 5).", "type": "integer",
    "minimum": 1, "default": 5})
# The top-level seed: its schema entry is written by hand (it also seeds the runs); the test checks they agree.
SEED = Option("seed", ("seed",), {"description": "Seed of the simulations and the bootstrap.", "type": "integer",
                                  "default": 0})
DEFAULT_WEIGHT_DECAY = Option("default_weight_decay", None, {
    "description": "JSON {model: its default weight decay}: a baseline run uses it.", "type": "object"},
    derived_from="models.<name>.weight_decay")
HUMAN_DATASETS = Option("human_datasets", None, {
    "description": "the source datasets that have human label files (in the order of the label files)",
    "type": "array", "default": []}, derived_from="datasets.<name>.human_labels")

ANALYSIS_OPTIONS = (BUCKETS, NORMALIZATION, KNN_K, MIN_COUNT, MIN_COUNT_HUMAN, RESAMPLES, LAYER, SIM_EPOCHS, SIM_RUNS)

# ---- the inputs ----

PARAMS = Input("params", "the runs' params.json files")
EMBEDDINGS = Input("embeddings", "the runs' embeddings folders, in the order of --params "
                                 f"(each holds {paths.EMBEDDING_FILE})", folders=True)
METRICS = Input("metrics", "the runs' metrics.tsv files, in the order of --params")
EMBEDDINGS_INIT = Input("embeddings", "the runs' embeddings folders of their encoders at initialisation, in the order "
                                      f"of --params (each holds {paths.EMBEDDING_FILE})", nargs="*", folders=True)
HUMAN_LABELS = Input("human_labels", "CIFAR-N layout label files, one per --human-datasets entry", nargs="*")
HUMAN_PROBS = Input("human_probs", "CIFAR-10H layout probability files, one per --human-datasets entry", nargs="*")


def _figure(name: str, caption: str = "", category: str = "", subcategory: str = "", prefix: str = "") -> dict:
    """A figure's PNG (in the report when it has a caption) and PDF, keyed `<prefix>png` and `<prefix>pdf`."""
    return {f"{prefix}png": Output("png", name, caption, category, subcategory), f"{prefix}pdf": Output("pdf", name)}


def _table(name: str, caption: str = "", category: str = "", subcategory: str = "", prefix: str = "",
           claims: bool = False, claims_optional: bool = False) -> dict:
    """A table's TSV (in the report when it has a caption; read by the claims check if `claims`, passed to it if
    `claims_optional`) and Markdown, keyed `<prefix>tsv` and `<prefix>md`."""
    return {f"{prefix}tsv": Output("tsv", name, caption, category, subcategory, claims, claims_optional),
            f"{prefix}md": Output("md", name)}


_ANALYSES = (
    Analysis("simulate_gradients", "simulate-gradients",
             "C1/C2 simulations: gradient orthogonality, 1/||z||, norm growth", (), (SEED,),
             {"checks": Output("sim", "gradients", claims=True), "gd": Output("sim", "gd_norms", claims=True),
              **_figure("sim_gradients", "sim_gradients", THEORY)}),
    Analysis("simulate_convergence", "simulate-convergence",
             "C3/C4 simulations: steps to converge vs norm and vs angle", (), (SEED,),
             {"norms": Output("sim", "convergence_norm", claims=True),
              "angles": Output("sim", "convergence_angle", claims=True),
              **_figure("sim_convergence", "sim_convergence", THEORY)}),
    Analysis("simulate_imbalance", "simulate-imbalance",
             "C6 simulations: class-imbalance norms and density vs norm", (), (SEED, SIM_EPOCHS, SIM_RUNS),
             {"trajectories": Output("sim", "imbalance_norms", claims=True),
              "density": Output("sim", "imbalance_density", claims=True),
              **_figure("sim_imbalance", "sim_imbalance", THEORY)}),
    Analysis("norm_vs_ood", "analyze ood", "Fig. 3: norms of ID and OOD splits relative to ID train",
             (PARAMS, EMBEDDINGS), (LAYER,),
             {**_table("norm_vs_ood", "norm_vs_ood_table", OOD, claims=True),
              **_figure("norm_vs_ood", "norm_vs_ood", OOD)}),
    Analysis("norm_growth", "analyze growth", "norm growth over training and the training summary",
             (PARAMS, METRICS), (),
             {**_table("training", "training", TRAINING, claims=True),
              **_figure("norm_growth", "norm_growth", TRAINING)}),
    Analysis("weight_decay", "weight-decay", "the weight-decay sweep's final norms, from the training summary",
             (Input("training", "the training summary (tables/training.tsv)", nargs=None),), (),
             {**_table("weight_decay", claims=True), **_figure("weight_decay", "weight_decay", TRAINING)}),
    Analysis("knn_buckets", "knn-buckets", "Fig. 4 left: kNN correctness per norm bucket",
             (PARAMS, EMBEDDINGS), (LAYER, BUCKETS, KNN_K, MIN_COUNT, NORMALIZATION, RESAMPLES, SEED),
             {**_table("knn_buckets", prefix="buckets_"),
              **_table("knn_spearman", "knn_spearman", CONFIDENCE, "kNN correctness", prefix="stats_", claims=True),
              **_figure("knn_buckets", "knn_buckets", CONFIDENCE, "kNN correctness")}),
    Analysis("human_agreement", "human-agreement", "Fig. 4: human confidence per norm bucket",
             (PARAMS, EMBEDDINGS, HUMAN_LABELS, HUMAN_PROBS),
             (LAYER, BUCKETS, MIN_COUNT, MIN_COUNT_HUMAN, NORMALIZATION, RESAMPLES, SEED, HUMAN_DATASETS),
             {**_table("human_buckets", prefix="buckets_"),
              **_table("human_spearman", "human_spearman", CONFIDENCE, "Human labels", prefix="stats_", claims=True),
              **_figure("human_agreement", "human_agreement", CONFIDENCE, "Human labels")}),
    Analysis("mitigation", "mitigation", "mitigation tables: kNN accuracy and norms per setting, epoch and class",
             (PARAMS, METRICS, EMBEDDINGS), (LAYER, DEFAULT_WEIGHT_DECAY),
             {**_table("mitigation", "mitigation_table", MITIGATION, prefix="epochs_"),
              **_table("class_metrics", prefix="classes_", claims=True),
              **_table("minority_majority", "minority_majority", MITIGATION, prefix="imbalance_"),
              **_figure("mitigation", "mitigation", MITIGATION, prefix="epochs_"),
              **_figure("class_metrics", "class_metrics", MITIGATION, prefix="classes_")}),
    # The confidence claims' (C7-C10) tables of the four analyses above, from each run's encoder at initialisation
    # (its `embeddings_init` folder): same functions, options and columns, `_init` names, no figures. Beside the
    # trained values they show whether training made a statistic or found it there.
    Analysis("confidence_init", "analyze confidence-init",
             "the confidence claims' tables (norm_vs_ood, knn_spearman, human_spearman, class_metrics) of the runs' "
             "encoders at initialisation",
             (Input("params", "the baseline runs' params.json files (possibly none)", nargs="*"), EMBEDDINGS_INIT,
              HUMAN_LABELS, HUMAN_PROBS),
             (LAYER, BUCKETS, KNN_K, MIN_COUNT, MIN_COUNT_HUMAN, RESAMPLES, SEED, HUMAN_DATASETS),
             {**_table("norm_vs_ood_init", prefix="ood_", claims_optional=True),
              **_table("knn_spearman_init", prefix="knn_", claims_optional=True),
              **_table("human_spearman_init", prefix="human_", claims_optional=True),
              **_table("class_metrics_init", prefix="classes_", claims_optional=True)}, runs="baseline"),
)

# The tables the claims check reads, by key (the output's name), and their files; and those the claims rule passes
# as well, which the check may read but does not require.
CLAIM_TABLES = {o.name: o.path for a in _ANALYSES for o in a.outputs.values() if o.claims}
OPTIONAL_CLAIM_TABLES = {o.name: o.path for a in _ANALYSES for o in a.outputs.values() if o.claims_optional}

ANALYSES = {a.rule: a for a in (*_ANALYSES, Analysis(
    "claims", "claims", "the claims check C1-C14 (pre-registered rules) from the analysis tables",
    (*(Input(name, f"the {name} table", nargs=None) for name in CLAIM_TABLES),
     *(Input(name, f"the {name} table (optional)", nargs=None, required=False) for name in OPTIONAL_CLAIM_TABLES),
     Input("runs", "the run table (results/runs.tsv): the tables then say which claims this config cannot decide",
           nargs=None, required=False)),
    (DEFAULT_WEIGHT_DECAY, RESAMPLES, SEED, HUMAN_DATASETS),
    {"tsv": Output("tsv", "claims"), "md": Output("md", "claims"),
     "html": Output("html", "claims", "claims", CLAIMS)}))}


# ---- derived views ----

def analysis_runs(analysis: Analysis, runs: list[dict], default_weight_decay: dict[str, float]) -> list[str]:
    """The ids of the runs (resolved params, in run-table order) whose files `analysis` reads: all, or the baseline
    runs (no cut, no GradScale, the model's default weight decay: those the confidence claims read)."""
    if analysis.runs not in ("all", "baseline"):
        raise ValueError(f"analysis {analysis.rule}: runs must be 'all' or 'baseline', not {analysis.runs!r}")
    ids = [run["run_id"] for run in runs]
    if analysis.runs == "all" or not runs:
        return ids
    import pandas as pd

    from embnorm.analysis.common import is_baseline

    return [i for i, keep in zip(ids, is_baseline(pd.DataFrame(runs), default_weight_decay)) if keep]


def init_encoder_runs(runs: list[dict], default_weight_decay: dict[str, float]) -> list[str]:
    """The runs whose encoder at initialisation is embedded (`embeddings_init`): those an analysis that reads such
    embeddings reads, in run-table order."""
    wanted = {i for a in ANALYSES.values() if EMBEDDINGS_INIT in a.inputs
              for i in analysis_runs(a, runs, default_weight_decay)}
    return [run["run_id"] for run in runs if run["run_id"] in wanted]


def config_options() -> dict[str, tuple[str, ...]]:
    """argparse name -> config key of every option the workflow sets from a config key (the audit's list)."""
    return {o.name: o.key for a in ANALYSES.values() for o in a.options if o.key is not None}


def option_values(analysis: Analysis, config: dict, derived: dict) -> dict:
    """The analysis's option values under `config` (a validated config, defaults filled in); `derived` holds the values
    of the options without a config key."""
    values = {}
    for option in analysis.options:
        if option.key is None:
            values[option.name] = derived[option.name]
            continue
        value = config
        for part in option.key:
            value = value[part]
        values[option.name] = value
    return values


def option_args(analysis: Analysis, values: dict) -> str:
    """The options as one shell-quoted command-line string: `--k 200 --normalization max ...`."""
    words = []
    for option in analysis.options:
        value = values[option.name]
        if isinstance(value, (list, tuple)):
            words += [flag(option.name), *(shlex.quote(str(v)) for v in value)]
        elif isinstance(value, dict):
            words += [flag(option.name), shlex.quote(json.dumps(value, sort_keys=True))]
        else:
            words += [flag(option.name), shlex.quote(str(value))]
    return " ".join(words)


def config_schema_block() -> dict:
    """The schema's `analysis` properties, from the declared options."""
    return {o.key[1]: dict(o.schema) for o in ANALYSIS_OPTIONS}
