"""config/fmnist.yaml, the claims study on Fashion-MNIST: the runs of config/claims.yaml on three Fashion-MNIST
datasets. The grid is written out in both files (each preset is one `--configfile`); this test keeps them equal."""

from __future__ import annotations

import copy
import re

import yaml
from snakemake.utils import update_config

from conftest import REPO, default_config, validated
from embnorm.config import run_table

RENAMED = {"synth": "fmnist_id", "synthimb": "fmnist_imb", "synth_ood": "fmnist_ood"}


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def layered(overlay: dict) -> dict:
    config = default_config()
    update_config(config, copy.deepcopy(overlay))
    return validated(config)


def renamed(text: str) -> str:
    return re.sub(r"\b(synth_ood|synthimb|synth)\b", lambda m: RENAMED[m.group(1)], text)


def test_the_fmnist_study_is_the_claims_study_on_other_datasets():
    claims, fmnist = load("claims.yaml"), load("fmnist.yaml")
    for key in ("grid", "include", "mitigations", "optimizers"):
        assert fmnist[key] == yaml.safe_load(renamed(yaml.safe_dump(claims[key]))), key
    runs_claims = {renamed(r["run_id"]): r for r in run_table(layered(claims))}
    runs_fmnist = {r["run_id"]: r for r in run_table(layered(fmnist))}
    assert set(runs_fmnist) == set(runs_claims) and len(runs_fmnist) == 44
    for run_id, run in runs_fmnist.items():  # same recipe: steps, batch, lr, weight decay, warm-up
        for key in ("steps", "batch_size", "lr", "weight_decay", "warmup_steps", "cut", "gradscale"):
            assert run[key] == runs_claims[run_id][key], (run_id, key)


def test_the_fmnist_datasets_are_the_documented_split():
    datasets = layered(load("fmnist.yaml"))["datasets"]
    assert datasets["fmnist_id"]["classes"] == [0, 1, 2, 3, 4]
    assert datasets["fmnist_ood"]["classes"] == [5, 6, 7, 8, 9]
    for name in ("fmnist_id", "fmnist_ood"):
        spec = datasets[name]
        assert spec["source"] == "fashion_mnist" and spec["max_train_per_class"] == 1000
        assert spec.get("max_test_per_class") is None  # every test image of the kept classes
        assert spec.get("human_labels", "none") == "none"  # Fashion-MNIST has none: C9 is not measured
    base = datasets["fmnist_imb"]["imbalance"]["base"]
    counts = [int(1000 * base ** -i) for i in range(5)]
    assert counts == [1000, 403, 162, 65, 26] and 37 < counts[0] / counts[-1] < 40  # CIFAR-10's ratio, about 38
