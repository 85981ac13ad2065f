"""From a validated config to the run table: one function, one source of truth for run ids and hyper-parameters.

The JSON schema (workflow/schemas/config.schema.yaml) checks types, ranges and defaults; this module checks what a
schema cannot see (names that refer to other sections) and resolves every run's hyper-parameters.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from embnorm.errors import EmbnormError

FACTORS = ("model", "optimizer", "mitigation", "dataset", "seed")
MITIGATION_KEYS = ("cut", "cut_scope", "gradscale", "weight_decay", "lr_scale", "warmup_epochs")


class ConfigError(EmbnormError, ValueError):
    """A config problem; the message names the key and what is allowed."""


def check_references(config: dict) -> None:
    datasets = config["datasets"]
    for name, spec in datasets.items():
        for key in ("parent", "ood"):
            if key in spec and spec[key] not in datasets:
                raise ConfigError(f"datasets.{name}.{key}: '{spec[key]}' is not a dataset; defined: {sorted(datasets)}")
        if "parent" in spec and "parent" in datasets[spec["parent"]]:
            raise ConfigError(f"datasets.{name}.parent: '{spec['parent']}' is itself derived; give a source dataset")
        if spec.get("source") in ("imagefolder", "npz", "imagenet100") and "path" not in spec:
            raise ConfigError(f"datasets.{name}.path: required for source '{spec['source']}'")
    for value in config["grid"]["dataset"]:
        if value not in datasets:
            raise ConfigError(f"grid.dataset: '{value}' is not defined under datasets; defined: {sorted(datasets)}")
    for value in config["grid"]["mitigation"]:
        if value not in config["mitigations"]:
            raise ConfigError(
                f"grid.mitigation: '{value}' is not defined under mitigations; defined: {sorted(config['mitigations'])}"
            )
    for i, extra in enumerate(config["include"]):
        if extra["dataset"] not in datasets:
            raise ConfigError(f"include[{i}].dataset: '{extra['dataset']}' is not defined under datasets")
        if extra["mitigation"] not in config["mitigations"]:
            raise ConfigError(f"include[{i}].mitigation: '{extra['mitigation']}' is not defined under mitigations")


def source_of(config: dict, dataset: str) -> str:
    """The prepared (source) dataset whose files a dataset reads: itself, or its parent for a derived one."""
    return config["datasets"][dataset].get("parent", dataset)


def ood_of(config: dict, dataset: str) -> str | None:
    spec = config["datasets"][dataset]
    return spec.get("ood") or config["datasets"][source_of(config, dataset)].get("ood")


def run_id(model: str, optimizer: str, mitigation: str, dataset: str, backbone: str, seed: int) -> str:
    return f"{model}-{optimizer}-{mitigation}-{dataset}-{backbone}-s{seed}"


def _factor_combinations(config: dict) -> list[dict]:
    grid = config["grid"]
    combos = [dict(zip(FACTORS, values)) for values in itertools.product(*(grid[f] for f in FACTORS))]
    combos += [dict(extra) for extra in config["include"]]
    kept = [c for c in combos if not any(all(c[k] == v for k, v in ex.items()) for ex in config["exclude"])]
    return kept


def resolve_run(config: dict, factors: dict) -> dict[str, Any]:
    """All hyper-parameters of one run, in the order they are applied: model, optimizer, train, mitigation, overrides."""
    model, optimizer, mitigation = factors["model"], factors["optimizer"], factors["mitigation"]
    params: dict[str, Any] = dict(factors)
    params.update(config["models"][model])
    params.update({f"{optimizer}_{k}": v for k, v in config["optimizers"][optimizer].items()
                   if k not in ("lr_scale", "warmup_epochs")})
    params["lr_scale"] = config["optimizers"][optimizer]["lr_scale"]
    params["warmup_epochs"] = config["optimizers"][optimizer]["warmup_epochs"]
    params.update(config["train"])
    params.update({"cut": 1.0, "cut_scope": "all", "gradscale": 0.0})

    spec = config["mitigations"][mitigation]
    for key in MITIGATION_KEYS:
        if key == "lr_scale" and key in spec:
            params["lr_scale"] *= spec[key]
        elif key in spec:
            params[key] = spec[key]
    params.update(spec.get("per_model", {}).get(model, {}))

    params["source"] = source_of(config, factors["dataset"])
    params["ood"] = ood_of(config, factors["dataset"])
    params["imbalanced"] = "parent" in config["datasets"][factors["dataset"]]
    params["base_seed"] = config["seed"]
    params["run_id"] = run_id(model, optimizer, mitigation, factors["dataset"], params["backbone"], factors["seed"])

    overrides = config["overrides"].get(params["run_id"], {})
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ConfigError(f"overrides.{params['run_id']}: unknown hyper-parameter(s) {unknown}; known: {sorted(params)}")
    params.update(overrides)
    params["lr"] = params["lr_per_256"] * params["batch_size"] * params["accumulate"] / 256 * params["lr_scale"]
    return params


def run_table(config: dict) -> list[dict[str, Any]]:
    """Every run of the config, with its resolved hyper-parameters, in a stable order."""
    check_references(config)
    runs = [resolve_run(config, f) for f in _factor_combinations(config)]
    seen: dict[str, dict] = {}
    for run in runs:
        if run["run_id"] in seen:
            raise ConfigError(f"include: run '{run['run_id']}' is listed twice (grid and include, or include twice)")
        seen[run["run_id"]] = run
    unknown = sorted(set(config["overrides"]) - set(seen))
    if unknown:
        raise ConfigError(f"overrides: {unknown} name no run of this config; runs: {sorted(seen)}")
    return list(seen.values())


def params_hash(params: dict) -> str:
    """A short stable hash of resolved hyper-parameters (checkpoints and provenance record it)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
