"""The data stage inside the real Snakefile: the plan for CIFAR-10 (download, prepare, split), and a user's image
folder run like a built-in dataset: the whole DAG plans with it, and the chain data -> imbalanced split -> train ->
embed -> norm-vs-OOD analysis runs (the theory simulations, which read no data, are left out to stay fast)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import RUN, deployed, tiny_config
from embnorm import paths


def cifar_config() -> dict:
    config = tiny_config()
    config["datasets"] = {
        "cifar10": {"source": "cifar10", "ood": "cifar100", "human_labels": "cifar10n"},
        "cifar100": {"source": "cifar100", "ood": "cifar10", "human_labels": "cifar100n"},
        "cifar10imb": {"parent": "cifar10", "imbalance": {"base": 1.5}},
        "cifar100imb": {"parent": "cifar100", "imbalance": {"base": 1.034}},
    }
    config["grid"].update(dataset=["cifar10imb"], mitigation=["none"])
    config["include"] = []
    return config


def test_a_cifar10_config_plans_download_prepare_and_split(workflow):
    workflow.write_config(cifar_config())
    jobs = workflow.planned_jobs()
    assert jobs["download"] == 2 and jobs["prepare_dataset"] == 2 and jobs["imbalanced_split"] == 1
    jobs = workflow.planned_jobs("--cores", "1", "resources/datasets/cifar10/human/cifarn_labels.npz")  # a target
    assert jobs == {"download": 1, "prepare_dataset": 1, "human_labels": 1}


def test_a_missing_user_folder_stops_the_plan(workflow):
    config = tiny_config()
    config["datasets"]["synth"] = {"source": "imagefolder", "path": "nowhere", "ood": "synth_ood"}
    workflow.write_config(config)
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0 and "nowhere" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_user_image_folder_runs_through_the_whole_dag(workflow):
    rng = np.random.default_rng(0)
    for c, name in enumerate(("apple", "pear", "plum")):
        folder = workflow.workdir / "userdata" / "fruit" / name
        folder.mkdir(parents=True)
        for k in range(20):
            pixels = np.clip(rng.normal(60 + 70 * c, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{k}.png")
    config = tiny_config()
    config["train"].update(knn_k=5, probe_size=16)
    config["datasets"] = {
        "fruit": {"source": "imagefolder", "path": "userdata/fruit", "ood": "synth_ood"},
        "fruitimb": {"parent": "fruit", "imbalance": {"base": 1.5}},
        "synth_ood": {"source": "synthetic", "synthetic": {"family": 1, "n_train": 60, "n_test": 30}},
    }
    config["grid"].update(dataset=["fruitimb"], mitigation=["none"])  # one run: it reads fruit, its split and synth_ood
    config["include"] = []
    config["models"]["simclr"]["batch_size"] = 16
    workflow.write_config(config)
    assert workflow.planned_jobs()["prepare_dataset"] == 2  # the whole DAG plans with the user's folder
    table = paths.fmt(paths.TABLE, name="norm_vs_ood")  # data -> split -> train -> embed (ID and OOD) -> analysis
    workflow.run("--cores", "2", table, paths.RUNS_TABLE)

    root = workflow.workdir
    audit = pd.read_csv(root / "resources/splits/fruitimb/audit.tsv", sep="\t")
    assert audit.available.tolist() == [16, 16, 16] and audit.kept.tolist() == [16, 10, 7]
    runs = pd.read_csv(root / "results/runs.tsv", sep="\t")
    assert runs.dataset.tolist() == ["fruitimb"] and runs.source.tolist() == ["fruit"]
    with np.load(root / f"results/runs/{runs.run_id[0]}/embeddings/fruit-test.npz") as z:
        assert len(z["labels"]) == 12 and np.bincount(z["labels"]).tolist() == [4, 4, 4]
    ood = pd.read_csv(root / table, sep="\t")
    assert {"id_train", "ood_test"} <= set(ood.role)


def two_folder_config(workdir) -> dict:
    """Two image-folder datasets, each the other's OOD partner."""
    rng = np.random.default_rng(0)
    for dataset in ("fruit", "veg"):
        for name in ("a", "b"):
            folder = workdir / "userdata" / dataset / name
            folder.mkdir(parents=True)
            for k in range(5):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{k}.png")
    config = tiny_config()
    config["datasets"] = {"fruit": {"source": "imagefolder", "path": "userdata/fruit", "ood": "veg"},
                          "veg": {"source": "imagefolder", "path": "userdata/veg", "ood": "fruit"}}
    config["grid"].update(dataset=["fruit"], mitigation=["none"])
    config["include"] = []
    return config


def test_an_edit_inside_an_image_folder_re_prepares_exactly_that_dataset(workflow):
    workflow.write_config(two_folder_config(workflow.workdir))
    meta = [paths.fmt(paths.DATASET_META, dataset=d, split="train") for d in ("fruit", "veg")]
    workflow.run("--cores", "1", *meta)
    assert workflow.planned_jobs("--cores", "1", *meta) == {}
    folder = workflow.workdir / "userdata" / "fruit" / "a"
    before = (folder / "0.png").stat()
    edits = {
        "rewritten in place, same size and folder mtime": lambda: (folder / "0.png").write_bytes(
            (folder / "1.png").read_bytes()),
        "added": lambda: Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "new.png"),
        "replaced by a copy with an old mtime": lambda: os.replace(folder / "new.png", folder / "2.png"),
    }
    for what, edit in edits.items():
        mtime = folder.stat().st_mtime_ns
        edit()
        if what.startswith("rewritten"):
            os.utime(folder, ns=(mtime, mtime))
            assert (folder / "0.png").stat().st_mtime_ns != before.st_mtime_ns
        ran = workflow.run("--cores", "1", *meta)  # the jobs a run makes are the ones it logs
        jobs = ran.stdout + ran.stderr
        assert "wildcards: dataset=fruit" in jobs and "wildcards: dataset=veg" not in jobs, what


def test_a_finished_run_survives_a_corrupted_prepared_input(project):
    """Truncating a prepared file after a run finished (a copy of the shared tiny project): the next run stops in
    check_dataset, before the train job (which would delete checkpoint.pt and metrics.tsv first) starts; the error
    names the file and the rule."""
    checkpoint = paths.fmt(paths.RUN_CHECKPOINT, run=RUN)
    metrics = paths.fmt(paths.RUN_METRICS, run=RUN)
    finished = (project / checkpoint).read_bytes(), (project / metrics).read_bytes()

    images = paths.fmt(paths.DATASET_IMAGES, dataset="synth", split="train")
    data = (project / images).read_bytes()
    (project / images).write_bytes(data[: len(data) // 2])
    proc = deployed(project).run("--cores", "2", checkpoint, check=False)
    assert proc.returncode != 0
    assert ((project / checkpoint).read_bytes(), (project / metrics).read_bytes()) == finished
    assert "rule check_dataset" in proc.stderr and "rule train" not in proc.stderr.split("Error in rule")[-1]
    error = [line for line in proc.stderr.splitlines() if line.startswith("embnorm check-dataset: error:")]
    assert error and images in error[0] and "prepare_dataset" in error[0] and "--force" in error[0], proc.stderr
