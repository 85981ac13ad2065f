"""One seeded learning run of tests/test_learning.py, importable by the worker processes that train them: the default
config's run of a method, optimizer and mitigation on the built-in data, made small, through the package's own
training loop on one CPU thread."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from conftest import REPO, default_config, validated
from embnorm.config import run_table
from embnorm.data import synthetic
from embnorm.data.format import Split
from embnorm.embed import trained_model
from embnorm.evaluation.features import embed_batches, with_data_bn_statistics
from embnorm.evaluation.initial import rebuild
from embnorm.train.loop import train

N_TEST, KNN_K, PROBE = 1000, 50, 512


@dataclass(frozen=True)
class Budget:
    """A learning run: the run's factors, and its budget (train images, epochs; the method's batch size unless given)."""

    model: str
    optimizer: str
    mitigation: str
    n_train: int
    epochs: int
    batch_size: int | None = None


@dataclass
class Learned:
    """What a learning run leaves: its metrics (loss per epoch, test kNN at initialization and at the end), and the
    spread of its projector's outputs over the sphere at initialization and at the end (`spread`)."""

    metrics: pd.DataFrame
    spread_init: float
    spread_final: float


def params_of(budget: Budget) -> tuple[dict, synthetic.SyntheticSpec]:
    """The default config's run of these factors on synth, made small: the budget in epochs with a 2-epoch warm-up
    (both optimizers), kNN (k = 50) at initialization and at the end only; BYOL's heads as config/byol.yaml scales
    them for the small backbone."""
    config = default_config()
    config["datasets"]["synth"]["synthetic"].update(n_train=budget.n_train, n_test=N_TEST)
    config["grid"] = {"model": [budget.model], "optimizer": [budget.optimizer], "mitigation": [budget.mitigation],
                      "dataset": ["synth"], "seed": [0]}
    config["include"] = []
    for optimizer in ("sgd", "adam"):
        config["optimizers"][optimizer] = {"warmup_epochs": 2, "warmup_steps": None}
    if budget.model == "byol":
        config["models"]["byol"] = yaml.safe_load((REPO / "config/byol.yaml").read_text())["models"]["byol"]
    model = config["models"].setdefault(budget.model, {})
    model.update(steps=None, warmup_steps=None)  # the method's own step budget gives way to the epochs here
    if budget.batch_size:
        model["batch_size"] = budget.batch_size
    config["train"].update(epochs=budget.epochs, steps=None, knn_fractions=None, knn_every=budget.epochs,
                           knn_k=KNN_K, device="cpu", threads=1)
    (params,) = run_table(validated(config))
    return params, synthetic.SyntheticSpec(**config["datasets"]["synth"]["synthetic"])


def spread(model, probe: np.ndarray, test: np.ndarray) -> float:
    """How far the projector's outputs of the test images spread over the sphere: the per-dimension standard deviation
    of the l2-normalised outputs, averaged over dimensions and times sqrt(dim) (1 when they are uniform on the sphere,
    0 when they collapse to one point), with BatchNorm statistics estimated on the probe images as the monitor does."""
    model = with_data_bn_statistics(model.to(memory_format=torch.channels_last), torch.from_numpy(probe)).eval()
    z = embed_batches(model, torch.from_numpy(test), ["projector"])["projector"]
    return float(torch.nn.functional.normalize(z, dim=1).std(dim=0).mean() * z.shape[1] ** 0.5)


def learning_run(budget: Budget) -> Learned:
    """Train the run on one thread (in a temporary folder) and measure it."""
    torch.set_num_threads(1)
    params, spec = params_of(budget)
    splits = {}
    for name in ("train", "test"):
        images, structure = synthetic.generate(spec, name)
        splits[name] = Split(images, structure["label"], {"classes": synthetic.class_names(spec)})
    probe, test = splits["train"].images[:PROBE], splits["test"].images
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train(params, splits["train"], splits["test"], None, checkpoint_path=folder / "checkpoint.pt",
              resume_path=folder / "resume.pt", metrics_path=folder / "metrics.tsv", threads=1)
        state = torch.load(folder / "checkpoint.pt", weights_only=True)
        metrics = pd.read_csv(folder / "metrics.tsv", sep="\t")
    return Learned(metrics, spread(rebuild(params, state["image_size"]), probe, test),
                   spread(trained_model(state, torch.device("cpu")), probe, test))
