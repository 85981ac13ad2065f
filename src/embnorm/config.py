"""From a validated config to the run table: one function, one source of truth for run ids and hyper-parameters.

The JSON schema (workflow/schemas/config.schema.yaml) checks types, ranges and defaults; this module checks what a
schema cannot see (names that refer to other sections, overrides that name no run) and resolves every run's
hyper-parameters.

The run table is the product of the `grid` factors, minus the runs that an `exclude` entry matches, plus the
`include` runs (as in a CI matrix: excludes filter the product, includes are explicit and always kept). A run id is
derived from its factors only, `<model>-<optimizer>-<mitigation>-<dataset>-<backbone>-s<seed>` (for example
`simclr-sgd-cut-cifar10imb-r18-s0`), so it stays the same when a hyper-parameter changes: the workflow then re-runs
that run (its resolved parameters are a rule parameter) instead of starting a new one.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

from embnorm.data.splits import KNOWN_SIZES, law_problem, subset_sizes
from embnorm.data.synthetic import SyntheticSpec
from embnorm.errors import EmbnormError
from embnorm.models.methods import METHODS

FACTORS = ("model", "optimizer", "mitigation", "dataset", "seed")
MITIGATION_KEYS = ("cut", "cut_scope", "gradscale", "weight_decay", "lr_scale", "warmup_epochs", "warmup_steps")
# Keys that identify a run or are derived from other keys: an override cannot set them.
DERIVED = ("run_id", "source", "ood", "imbalanced", "base_seed", "lr")
BACKBONE_ABBREVIATIONS = {"small": "small", "resnet18": "r18", "resnet50": "r50"}
PATTERN_CHARS = "*?["
# Optimizer keys that set the learning rate rather than becoming `<optimizer>_<key>` hyper-parameters.
OPTIMIZER_LR_KEYS = ("lr_per_256", "lr_scale", "warmup_epochs", "warmup_steps")
# A model's own training budget: set under `models.<model>`, it replaces `train.steps` and the optimizer's warm-up for
# that model's runs (each method's CPU budget is set on its own learnability; docs/training.md).
MODEL_BUDGET_KEYS = ("steps", "warmup_steps")


class ConfigError(EmbnormError, ValueError):
    """A config problem; the message names the key and what is allowed."""


def complete_models(config: dict) -> dict:
    """`config["models"]` completed in place from the model table: every method of METHODS, each key it leaves out at
    the method's default. A model that is not in the table, or a key its method does not read, is an error naming
    it. Idempotent; the workflow calls it right after schema validation, and `run_table` calls it too."""
    models = config.setdefault("models", {})
    for name, given in models.items():
        if name not in METHODS:
            raise ConfigError(f"models.{name}: not a method of the model table; known: {sorted(METHODS)}")
        unknown = sorted(set(given) - set(METHODS[name].defaults) - set(MODEL_BUDGET_KEYS))
        if unknown:
            raise ConfigError(f"models.{name}: {unknown} are not settings of {name}; its settings: "
                              f"{sorted(METHODS[name].defaults)}, and its budget {list(MODEL_BUDGET_KEYS)}")
    for name, row in METHODS.items():
        models[name] = {**row.defaults, **models.get(name, {})}
    return models


def check_references(config: dict) -> None:
    """Every name used in one section is defined in the section it refers to (models: in the model table)."""
    datasets = config["datasets"]
    for name, spec in datasets.items():
        for key in ("parent", "ood"):
            if key in spec and spec[key] not in datasets:
                raise ConfigError(f"datasets.{name}.{key}: '{spec[key]}' is not a dataset; defined: {sorted(datasets)}")
        if "parent" in spec and "parent" in datasets[spec["parent"]]:
            raise ConfigError(f"datasets.{name}.parent: '{spec['parent']}' is itself derived; give a source dataset")
        if spec.get("source") in ("imagefolder", "npz", "imagenet100") and "path" not in spec:
            raise ConfigError(f"datasets.{name}.path: required for source '{spec['source']}'")
    defined = {"model": METHODS, "dataset": datasets, "mitigation": config["mitigations"]}
    places = [(f"grid.{factor}", value) for factor in defined for value in config["grid"][factor]]
    places += [(f"mitigations.{name}.per_model.{model}", model)
               for name, spec in config["mitigations"].items() for model in spec.get("per_model", {})]
    for section in ("include", "exclude"):
        places += [(f"{section}[{i}].{factor}", entry[factor])
                   for i, entry in enumerate(config[section]) for factor in defined if factor in entry]
    for where, value in places:
        factor = "model" if ".per_model." in where else where.rsplit(".", 1)[1]
        if value not in defined[factor]:
            raise ConfigError(f"{where}: '{value}' is not defined under {factor}s; defined: {sorted(defined[factor])}")


def _source_sizes(spec: dict) -> tuple[int, int | None] | None:
    """(classes, smallest class's train images) of a source dataset's source when the config fixes them (before any
    class subset or cap), else None."""
    if spec.get("source") == "synthetic":
        synthetic = SyntheticSpec(**spec.get("synthetic", {}))
        return synthetic.classes, synthetic.n_train // synthetic.classes
    return KNOWN_SIZES.get(spec.get("source"))


def _parent_sizes(spec: dict) -> tuple[int, int | None] | None:
    """(classes, smallest class's train images) of a source dataset when the config fixes them (after its class
    subset and train cap), else None."""
    sizes = _source_sizes(spec)
    return None if sizes is None else subset_sizes(spec, *sizes)


def check_imbalance_laws(config: dict) -> None:
    """Every imbalanced dataset's law leaves each class of its parent at least its minimum of training images
    (`imbalance.min_class_size`; embnorm.data.splits.law_problem), checked before planning wherever the parent's class
    count (and, for an unset n_max, its smallest class) is known; the split stage checks the rest on the prepared
    labels (embnorm.data.splits)."""
    for name, spec in config["datasets"].items():
        sizes = _parent_sizes(config["datasets"][spec["parent"]]) if "parent" in spec else None
        if sizes is None:
            continue
        classes, smallest = sizes
        n_max = spec["imbalance"].get("n_max", smallest)
        problem = (law_problem(name, n_max, spec["imbalance"]["base"], classes, spec["imbalance"].get("min_class_size"))
                   if n_max is not None else None)
        if problem:
            raise ConfigError(problem)


def source_of(config: dict, dataset: str) -> str:
    """The prepared (source) dataset whose files a dataset reads: itself, or its parent for a derived one."""
    return config["datasets"][dataset].get("parent", dataset)


def ood_of(config: dict, dataset: str) -> str | None:
    spec = config["datasets"][dataset]
    return spec.get("ood") or config["datasets"][source_of(config, dataset)].get("ood")


def role_datasets(params: dict) -> dict[str, tuple[str, str]]:
    """(dataset, split) of each embedding role of a run: its source dataset's splits and its OOD partner's. The embed
    stage writes exactly these, and the analyses read them by role."""
    roles = {"id_train": (params["source"], "train"), "id_test": (params["source"], "test")}
    if params.get("ood"):
        roles.update({"ood_train": (params["ood"], "train"), "ood_test": (params["ood"], "test")})
    return roles


# ---- what the config alone says about the data: checked before planning, no data needed ----

def check_subset_config(name: str, spec: dict) -> None:
    """A class subset or cap (data/subsets.py) names labels the source has, and comes without human labels, whose
    rows and label values follow the whole source."""
    from embnorm.data import subsets  # it brings the dataset format, which a job that reads the config need not load

    given = [key for key in subsets.KEYS if key in spec]
    if not given:
        return
    if spec.get("human_labels", "none") != "none":
        raise ConfigError(f"datasets.{name}: human_labels '{spec['human_labels']}' follow every class and image of the "
                          f"source, so they cannot be joined to a dataset with {', '.join(given)}; drop one of them")
    sizes = _source_sizes(spec)
    k = None if sizes is None else sizes[0]
    unknown = [c for c in spec.get("classes", []) if k is not None and c >= k]
    if unknown:
        raise ConfigError(f"datasets.{name}.classes: {unknown} are not labels of {spec['source']}, whose {k} classes "
                          f"are 0..{k - 1}")


def shared_classes(spec: dict, ood_spec: dict) -> str:
    """The labels two source datasets both keep when they read the same real images (same source and path), as
    text ('every class' when neither sets `classes`); '' when their images cannot overlap. Synthetic datasets are
    told apart by their family, not by this."""
    if spec.get("source") != ood_spec.get("source") or spec.get("source") == "synthetic" or \
            spec.get("path") != ood_spec.get("path"):
        return ""
    if "classes" not in spec and "classes" not in ood_spec:
        return "every class"
    if "classes" not in spec or "classes" not in ood_spec:
        return f"labels {sorted(spec.get('classes', ood_spec.get('classes')))}"
    both = sorted(set(spec["classes"]) & set(ood_spec["classes"]))
    return f"labels {both}" if both else ""


def check_config(config: dict, runs: list[dict]) -> None:
    """Config checks that need no data, run before planning: class subsets name existing labels and come without
    human labels; a dataset is not its own OOD partner (directly, through its parent, or as another dataset of the
    same real images sharing classes with it); an OOD partner is a source dataset (a derived one has no splits of its
    own: name its parent); and a kNN k fits the bank where the bank's size follows from the config (a balanced
    synthetic dataset's n_train)."""
    datasets = config["datasets"]
    for name, spec in datasets.items():
        check_subset_config(name, spec)
    for name, spec in datasets.items():
        ood = spec.get("ood")
        if ood is None:
            continue
        if "parent" in datasets[ood]:
            raise ConfigError(f"datasets.{name}.ood: '{ood}' is a derived dataset (a subset of '{datasets[ood]['parent']}'"
                              f"'s train split); an OOD partner needs train and test splits of its own: name its "
                              f"parent, ood: {datasets[ood]['parent']}")
        if source_of(config, ood) == source_of(config, name):
            raise ConfigError(f"datasets.{name}.ood: '{ood}' is {name}'s own data, so the OOD AUROC would be 0.5 by "
                              f"construction; name another dataset as its out-of-distribution partner")
        shared = shared_classes(datasets[source_of(config, name)], datasets[ood])
        if shared:
            raise ConfigError(f"datasets.{name}.ood: '{ood}' reads the same {datasets[ood]['source']} images as "
                              f"{source_of(config, name)} and keeps {shared} of its classes, so those OOD images are "
                              f"in-distribution; give the two datasets disjoint `classes`")
    for run in runs:
        spec = datasets[run["dataset"]]
        if spec.get("source") == "synthetic":
            n_train = spec.get("synthetic", {}).get("n_train")  # filled in by the schema's default
            if n_train is not None and run["knn_k"] > n_train:
                raise ConfigError(f"train.knn_k: {run['knn_k']} is larger than the kNN bank of run {run['run_id']} "
                                  f"({n_train} train images of {run['dataset']}); use at most {n_train}")


def run_id(model: str, optimizer: str, mitigation: str, dataset: str, backbone: str, seed: int) -> str:
    """The readable id of a run; the backbone is abbreviated (resnet18 -> r18)."""
    return f"{model}-{optimizer}-{mitigation}-{dataset}-{BACKBONE_ABBREVIATIONS.get(backbone, backbone)}-s{seed}"


def _matches(factors: dict, entry: dict) -> bool:
    return all(factors[key] == value for key, value in entry.items())


def _factor_combinations(config: dict) -> list[dict]:
    """The grid's product minus the excluded runs, then the included ones; an exclude that drops nothing is an error
    (it is almost always a typo, which would otherwise silently keep runs)."""
    grid = config["grid"]
    product = [dict(zip(FACTORS, values)) for values in itertools.product(*(grid[f] for f in FACTORS))]
    for i, entry in enumerate(config["exclude"]):
        if not any(_matches(c, entry) for c in product):
            raise ConfigError(f"exclude[{i}]: {entry} matches no run of the grid")
    kept = [c for c in product if not any(_matches(c, entry) for entry in config["exclude"])]
    return kept + [{f: extra[f] for f in FACTORS} for extra in config["include"]]


def _check_keys(where: str, overrides: dict, params: dict) -> None:
    """Overrides may set any resolved hyper-parameter, but not a factor (it is in the run id) or a derived value."""
    fixed = sorted(set(overrides) & set(FACTORS + DERIVED))
    if fixed:
        raise ConfigError(f"{where}: {fixed} cannot be overridden (factors and derived values; for the learning rate "
                          "set lr_per_256 or lr_scale)")
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ConfigError(f"{where}: unknown hyper-parameter(s) {unknown}; known: "
                          f"{sorted(set(params) - set(FACTORS + DERIVED))}")


def _override_sources(config: dict, run: str) -> list[tuple[str, dict]]:
    """The overrides that apply to a run: matching patterns (in config order), then the run's own entry."""
    found = [(f"overrides.{key}", value) for key, value in config["overrides"].items()
             if any(ch in key for ch in PATTERN_CHARS) and fnmatch.fnmatchcase(run, key)]
    if run in config["overrides"]:
        found.append((f"overrides.{run}", config["overrides"][run]))
    return found


def mitigation_lr_scale(scale: float | dict, optimizer: str) -> float:
    """A mitigation's learning-rate factor under `optimizer`: a number applies under every optimizer, a mapping
    ({sgd: 0.1667, adam: 1.0}) per optimizer, 1 for one it leaves out. GradScale's lr / 6 offsets the larger
    per-sample gradients under SGD; Adam normalises the gradient scale away, so the presets do not compound it there
    (docs/training.md)."""
    if isinstance(scale, dict):
        return float(scale.get(optimizer, 1.0))
    return float(scale)


def warmup_replaced(values: dict) -> dict:
    """What setting `values` on top of resolved parameters clears: a warm-up given in epochs alone replaces a warm-up
    in steps set below it (`warmup_steps`, when set, takes precedence over `warmup_epochs` at train time)."""
    return {"warmup_steps": None} if "warmup_epochs" in values and "warmup_steps" not in values else {}


def resolve_run(config: dict, factors: dict) -> dict[str, Any]:
    """All hyper-parameters of one run, in the order they are applied: model, optimizer, train, the model's own
    budget, mitigation (with its per-model values), overrides (patterns first, then the run's own)."""
    model, optimizer, mitigation = factors["model"], factors["optimizer"], factors["mitigation"]
    params: dict[str, Any] = dict(factors)
    params.update(config["models"][model])
    opt = config["optimizers"][optimizer]
    params.update({f"{optimizer}_{k}": v for k, v in opt.items() if k not in OPTIMIZER_LR_KEYS})
    if opt.get("lr_per_256") is not None:  # the optimizer's own base rate (Adam's conventional 1e-3) replaces SGD's
        params["lr_per_256"] = opt["lr_per_256"]
    params["lr_scale"] = opt["lr_scale"]
    params["warmup_epochs"], params["warmup_steps"] = opt["warmup_epochs"], opt.get("warmup_steps")
    params.update(config["train"])
    params.update({key: value for key, value in config["models"][model].items()
                   if key in MODEL_BUDGET_KEYS and value is not None})
    params.update({"cut": 1.0, "cut_scope": "all", "gradscale": 0.0})

    spec = config["mitigations"][mitigation]
    params.update(warmup_replaced(spec))
    for key in MITIGATION_KEYS:
        if key == "lr_scale" and key in spec:
            params["lr_scale"] *= mitigation_lr_scale(spec[key], optimizer)
        elif key in spec:
            params[key] = spec[key]
    per_model = spec.get("per_model", {}).get(model, {})
    _check_keys(f"mitigations.{mitigation}.per_model.{model}", per_model, params)
    params.update({**warmup_replaced(per_model), **per_model})

    params["source"] = source_of(config, factors["dataset"])
    params["ood"] = ood_of(config, factors["dataset"])
    params["imbalanced"] = "parent" in config["datasets"][factors["dataset"]]
    params["base_seed"] = config["seed"]
    params["run_id"] = run_id(model, optimizer, mitigation, factors["dataset"], params["backbone"], factors["seed"])

    for where, overrides in _override_sources(config, params["run_id"]):
        _check_keys(where, overrides, params)
        params.update({**warmup_replaced(overrides), **overrides})
    params["lr"] = params["lr_per_256"] * params["batch_size"] * params["accumulate"] / 256 * params["lr_scale"]
    return params


def run_table(config: dict) -> list[dict[str, Any]]:
    """Every run of the config, with its resolved hyper-parameters, in a stable order (grid order, then includes)."""
    complete_models(config)
    check_references(config)
    check_imbalance_laws(config)
    runs = [resolve_run(config, f) for f in _factor_combinations(config)]
    if not runs:
        raise ConfigError("grid/exclude/include: the config defines no run (every grid run is excluded)")
    seen: dict[str, dict] = {}
    for run in runs:
        if run["run_id"] in seen:
            raise ConfigError(f"include: run '{run['run_id']}' is listed twice (in the grid and in include, "
                              "or twice in include)")
        seen[run["run_id"]] = run
    for key in config["overrides"]:
        is_pattern = any(ch in key for ch in PATTERN_CHARS)
        if not (any(fnmatch.fnmatchcase(r, key) for r in seen) if is_pattern else key in seen):
            raise ConfigError(f"overrides.{key}: names no run of this config; runs: {sorted(seen)}")
    return list(seen.values())


def source_datasets_of(runs) -> list[str]:
    """The datasets that runs read from a source (not derived): each run's source and its OOD partner, sorted."""
    return sorted({dataset for run in runs for dataset in (run["source"], run["ood"]) if dataset})


def workflow_runs(config: dict, schema_path: Path) -> dict[str, dict]:
    """What the workflow checks in its config before it plans any job, in its order, then the run table it plans, by
    run id: the schema (validate_config), what a schema cannot see (complete_models, run_table, check_config), and
    that every local dataset a run reads exists. A ConfigError's message names the key; the workflow prints it as its
    one error line (workflow/rules/common.smk)."""
    # imported here: a command that reads the config would otherwise load every data source, and record it as its code
    from embnorm.data.sources import missing_path

    validate_config(config, schema_path)
    complete_models(config)  # config["models"]: every method of the model table, at its defaults where unset
    runs = run_table(config)
    check_config(config, runs)
    for dataset in source_datasets_of(runs):
        problem = missing_path(dataset, config["datasets"][dataset])
        if problem:
            raise ConfigError(problem)
    return {run["run_id"]: run for run in runs}


def params_hash(params: dict) -> str:
    """A short stable hash of resolved hyper-parameters (checkpoints and provenance record it)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


# ---- validation against the workflow's schema (the standalone commands and the audit; the workflow uses
# snakemake.utils.validate, which this reproduces) ----

def find_schema(root: Path) -> Path:
    """The workflow's config schema: in the checkout the package was imported from, else under the project root."""
    for base in (Path(__file__).resolve().parents[2], Path(root)):
        candidate = base / "workflow" / "schemas" / "config.schema.yaml"
        if candidate.is_file():
            return candidate
    raise EmbnormError(f"config.schema.yaml not found beside the package or under {root}; pass --schema")


# The largest seed: a run id carries its seed (`-s<seed>`), and NumPy's and PyTorch's generators take 32-bit seeds
# derived from it; the schema's `maximum` on every seed is the same number.
MAX_SEED = 2**31 - 1
# Dataset keys that name a local file or folder; a leading `~` in them is expanded to the user's home folder.
PATH_KEYS = ("path", "data_dir")


def _yaml_number(value: float) -> str:
    """A non-finite float as the YAML that wrote it (.nan, .inf, -.inf)."""
    return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")


def check_finite(value: Any, where: str = "") -> None:
    """No NaN or infinity anywhere in the config. A NaN never violates a schema bound (every comparison with it is
    false), so a `knn_temperature: .nan` would otherwise train and report a kNN accuracy read from NaN weights."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where or '(top level)'}: {_yaml_number(value)} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, f"{where}.{i}" if where else str(i))


def expand_paths(config: dict) -> None:
    """`~` at the start of a dataset's `path` or `data_dir` is the user's home folder, as in a shell; expanded in
    place, so every later check and job sees (and an error shows) the path actually tried."""
    for spec in (config.get("datasets") or {}).values():
        if isinstance(spec, dict):
            for key in PATH_KEYS:
                if isinstance(spec.get(key), str):
                    spec[key] = os.path.expanduser(spec[key])


def _is_integer(checker, instance) -> bool:
    """An integer is an int: 2.0 is refused where the schema asks for an integer (Draft 2020-12 would accept it, and
    the float then reaches range() or a tensor shape as a TypeError deep in a job)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _key(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _required_keys(schema) -> list[str]:
    """The keys a schema requires, directly or through anyOf/oneOf/allOf: what a `not` of it forbids."""
    if not isinstance(schema, dict):
        return []
    keys = list(schema.get("required", []))
    for combinator in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(combinator, []):
            keys += _required_keys(sub)
    return keys


def _reason(error) -> str:
    """What is wrong, naming the key: a `not: {required: [...]}` (a key that one form of an entry may not have) says
    which of its keys the entry has, instead of jsonschema's "<the whole entry> should not be valid under <schema>"."""
    if error.validator == "not" and isinstance(error.instance, dict):
        keys = [key for key in dict.fromkeys(_required_keys(error.validator_value)) if key in error.instance]
        if keys:
            return ", ".join(f"'{key}'" for key in keys) + (" is" if len(keys) == 1 else " are") + " not allowed"
    return error.message


def describe_error(error) -> str:
    """One line for a schema error, naming the key. For oneOf/anyOf, whose own message ("is not valid under any of the
    given schemas") names neither the key that is missing nor the value that is wrong, each alternative's reason."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        reasons: dict[int, list[str]] = {}
        for sub in error.context:
            reasons.setdefault(sub.schema_path[0], []).append(_reason(sub))
        alternatives = "; or ".join(", ".join(dict.fromkeys(messages)) for _, messages in sorted(reasons.items()))
        return f"{_key(error)}: matches none of the allowed forms: {alternatives}"
    return f"{_key(error)}: {_reason(error)}"


def validate_config(config: dict, schema_path: Path) -> dict:
    """Validate and fill defaults as snakemake.utils.validate does (Draft 2020-12, defaults set on the way), with
    stricter numbers: no NaN or infinity anywhere, and an integer key takes an int, not 2.0. Then `~` in dataset
    paths is expanded. The workflow, the standalone commands and the audit all validate through here."""
    import yaml
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import best_match

    check_finite(config)
    schema = yaml.safe_load(Path(schema_path).read_text())
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    strict = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    validator = validators.extend(Draft202012Validator, {"properties": properties_with_defaults},
                                  type_checker=strict)(schema)
    error = best_match(validator.iter_errors(config))  # consumes every error, so every default is set
    if error is not None:
        raise ConfigError(describe_error(error))
    expand_paths(config)
    return config


# ---- a config file is code: Snakemake loads config files through YTE, which evaluates the Python expressions of a
# document that sets `__use_yte__: true`. The make targets refuse such a file; `snakemake` run directly takes it. ----

YTE_KEY = "__use_yte__"


def yte_problem(path: str | Path) -> str | None:
    """Why `make` refuses a config file that asks Snakemake to evaluate it as a YTE template (its `?`-expressions and
    `?if`/`?for` blocks are Python, run while the config is loaded, even by `snakemake -n`); None for plain data. A file
    that safe_load cannot read but that names the key is refused too (Snakemake reads it with a fuller loader)."""
    import yaml

    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        document = yaml.safe_load(text)
        asks = isinstance(document, dict) and bool(document.get(YTE_KEY))
    except yaml.YAMLError:
        asks = YTE_KEY in text
    if not asks:
        return None
    return (f"{path}: sets {YTE_KEY}, so Snakemake would run its YTE expressions (Python code) while loading it; make "
            f"refuses it. If you trust this file like a script, run snakemake directly: "
            f"snakemake --cores 2 --configfile {path}")


def main(argv: list[str] | None = None) -> int:
    """`python -m embnorm.config --plain FILE...`: exit 1 with one line per config file that would run code."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m embnorm.config",
                                     description="Refuse config files that Snakemake would evaluate as code (YTE).")
    parser.add_argument("--plain", nargs="+", required=True, metavar="FILE", help="config files that must be data")
    problems = [p for p in map(yte_problem, parser.parse_args(argv).plain) if p]
    for problem in problems:
        print(f"embnorm: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
