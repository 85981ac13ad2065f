"""Training on tiny random data (CPU, one thread): a run's parameters from the tiny test config, two random
splits, and a run of the training loop on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from snakemake.utils import validate

from conftest import SCHEMA, tiny_config
from embnorm.config import run_table
from embnorm.data.format import Split
from embnorm.train.loop import TIMING_COLUMNS, train


MITIGATIONS = {"none": {}, "cut": {"cut": 3, "per_model": {"simsiam": {"cut": 9}}},
               "gradscale": {"gradscale": 1, "lr_scale": 1 / 6}, "wd": {"weight_decay": 1e-3}}


def tiny_params(model="simclr", optimizer="sgd", mitigation="none", **overrides) -> dict:
    """One run of the tiny test config, resolved by the real run table, on CPU."""
    config = tiny_config(device="cpu", threads=1)
    config["grid"] = {"model": [model], "optimizer": [optimizer], "mitigation": [mitigation], "dataset": ["synth"]}
    config["include"], config["mitigations"] = [], MITIGATIONS
    config["models"]["simclr"].update(batch_size=16)
    config["models"]["simsiam"].update(batch_size=8, accumulate=2)
    config["models"]["byol"].update(batch_size=8)
    validate(config, str(SCHEMA))
    (params,) = run_table(config)
    return {**params, **overrides}


def random_split(n: int, seed: int, size: int = 16) -> Split:
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 4, n),
                 {"classes": ["a", "b", "c", "d"]})


TRAIN, TEST = random_split(64, 0), random_split(24, 1)


def run(params, folder, **kwargs):
    paths = {"checkpoint_path": folder / "checkpoint.pt", "resume_path": folder / "resume.pt",
             "metrics_path": folder / "metrics.tsv"}
    train(params, TRAIN, TEST, None, **paths, **kwargs)
    return paths


def final_state(folder):
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    metrics = pd.read_csv(folder / "metrics.tsv", sep="\t").drop(columns=list(TIMING_COLUMNS))
    return state["model"], metrics


def assert_identical(folder_a, folder_b):
    model_a, metrics_a = final_state(folder_a)
    model_b, metrics_b = final_state(folder_b)
    assert model_a.keys() == model_b.keys()
    for key in model_a:
        assert torch.equal(model_a[key], model_b[key]), key
    pd.testing.assert_frame_equal(metrics_a, metrics_b, check_exact=True)
