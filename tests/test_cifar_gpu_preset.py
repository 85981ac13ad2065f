"""config/cifar-gpu.yaml, the one-GPU preset for the paper's CIFAR figures: its runs, and that Snakemake plans it
(CIFAR itself is absent here: planning does not need the archives, which the download rule fetches)."""

from __future__ import annotations

import shutil

from conftest import REPO
from helpers.presets import load, runs_of

PRESET = REPO / "config/cifar-gpu.yaml"


def test_the_cifar_gpu_preset_is_simclr_and_simsiam_on_cifar_both_ways_with_resnet18():
    runs = runs_of(load(PRESET))
    assert sorted(runs) == ["simclr-sgd-none-cifar10-r18-s0", "simclr-sgd-none-cifar100-r18-s0",
                            "simsiam-sgd-none-cifar10-r18-s0", "simsiam-sgd-none-cifar100-r18-s0"]
    assert {r["backbone"] for r in runs.values()} == {"resnet18"} and {r["epochs"] for r in runs.values()} == {200}
    datasets = load(PRESET)["datasets"]
    assert (datasets["cifar10"]["ood"], datasets["cifar100"]["ood"]) == ("cifar100", "cifar10")
    simsiam = runs["simsiam-sgd-none-cifar10-r18-s0"]
    assert simsiam["batch_size"] * simsiam["accumulate"] == 1024  # the paper's effective SimSiam batch


def test_the_cifar_gpu_preset_plans(workflow):
    shutil.copy(REPO / "config.yaml", workflow.workdir / "config.yaml")
    jobs = workflow.planned_jobs("--configfile", str(PRESET))
    assert {rule: jobs[rule] for rule in ("train", "embed", "prepare_dataset")} == {
        "train": 4, "embed": 8, "prepare_dataset": 2}  # embed: each run's CIFAR-10 and CIFAR-100 splits
    assert {"norm_vs_ood", "knn_buckets", "human_agreement", "claims"} <= set(jobs)
