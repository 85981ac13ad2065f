"""Class-imbalance and density simulations (the authors' Simulations.ipynb cells 4-8, paper-reference §2.2-2.3).

Data (`spherical_dataset`): 4 latent classes with frequencies 1:2:4:8 (2,000 multinomial draws); each point is its
class centre (a random unit vector in R^10) plus N(0, class_var^2 I) noise, normalised to the unit sphere, and mapped
to 64-d observations by a fixed random matrix with N(0, 1) * 10 entries.

Model and loss: MLP 64 -> 64 (ReLU) -> 10, trained with the notebook's supervised InfoNCE ("attract_pairs",
temperature 1; see attract_pairs_loss). SGD lr 0.01, batch 128, shuffled; float64 (the notebook ran float32).
The mean embedding norm of every class is logged at epoch 0 and after each epoch; runs are independent (new data,
new model).

Density: the k-NN distance (k = 10, Euclidean between L2-normalised embeddings, self excluded) against the raw norm,
on each trained model's own training data. The notebook instead applied the model to a second, unrelated dataset
(other centres and observation matrix; a quirk, §2.3); here density and norm refer to the same distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from embnorm import seeding
from embnorm.analysis.stats import spearman

CLASS_WEIGHTS = (1, 2, 4, 8)
LATENT_DIM, OBS_DIM, EMBED_DIM, HIDDEN = 10, 64, 10, 64
SIM_STREAM = 61  # seed component of the imbalance simulation (any constant distinct from seeding's)


def spherical_dataset(gen: torch.Generator, n: int = 2000, class_var: float = 1.0, weights=CLASS_WEIGHTS):
    """Observations (n, 64) and labels (n,) of the notebook's SphericalDataset."""
    centres = F.normalize(torch.randn(len(weights), LATENT_DIM, generator=gen, dtype=torch.float64), dim=1)
    labels = torch.multinomial(torch.tensor(weights, dtype=torch.float64), n, replacement=True, generator=gen)
    points = F.normalize(centres[labels] + class_var * torch.randn(n, LATENT_DIM, generator=gen, dtype=torch.float64),
                         dim=1)
    projection = torch.randn(OBS_DIM, LATENT_DIM, generator=gen, dtype=torch.float64) * 10
    return points @ projection.T, labels


def attract_pairs_loss(z: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, temperature: float = 1.0):
    """The notebook's attract_pairs_infonce_loss: each sample picks one random same-class partner; the positive mask
    is symmetrised (i picks j marks both (i, j) and (j, i)), so the numerator sums exp(sim) over a row's marked
    partners and the denominator over all non-self pairs; samples with no partner in the batch are dropped."""
    zn = F.normalize(z, dim=1)
    exp_sim = torch.exp(zn @ zn.T / temperature)
    eye = torch.eye(len(z), dtype=torch.bool)
    same = (labels[:, None] == labels[None, :]) & ~eye
    has_partner = same.any(dim=1)
    scores = torch.rand(same.shape, generator=gen, dtype=z.dtype).masked_fill(~same, -1.0)
    chosen = torch.zeros_like(same)
    rows = torch.nonzero(has_partner).squeeze(1)
    chosen[rows, scores[rows].argmax(dim=1)] = True
    positives = chosen | chosen.T
    numerator = (exp_sim * positives).sum(dim=1)
    denominator = exp_sim.masked_fill(eye, 0).sum(dim=1)
    return -torch.log(numerator / denominator + 1e-8)[has_partner].mean()


def _mlp(gen_seed: int) -> nn.Module:
    torch.manual_seed(gen_seed)
    return nn.Sequential(nn.Linear(OBS_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, EMBED_DIM)).double()


def _class_norms(model, x, labels, run, epoch) -> list[dict]:
    with torch.no_grad():
        norms = model(x).norm(dim=1)
    counts = torch.bincount(labels, minlength=len(CLASS_WEIGHTS))
    return [{"run": run, "epoch": epoch, "class": c, "weight": CLASS_WEIGHTS[c], "count": int(counts[c]),
             "mean_norm": float(norms[labels == c].mean())} for c in range(len(CLASS_WEIGHTS))]


def knn_distance(z: torch.Tensor, k: int = 10) -> np.ndarray:
    """Distance to the k-th nearest neighbour (self excluded), Euclidean between L2-normalised embeddings."""
    zn = F.normalize(z, dim=1)
    d = torch.cdist(zn, zn)
    d.fill_diagonal_(float("inf"))
    return d.topk(k, dim=1, largest=False).values[:, -1].numpy()


def imbalance_simulation(runs: int = 5, epochs: int = 100, n: int = 2000, lr: float = 0.01, batch: int = 128,
                         k: int = 10, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class mean norm trajectories (one row per run, epoch and class) and, per run, every training sample's
    norm and k-NN distance after training."""
    trajectories, density = [], []
    for run in range(runs):
        gen = torch.Generator().manual_seed(seeding.derive(seed, SIM_STREAM, run))
        x, labels = spherical_dataset(gen, n)
        model = _mlp(seeding.derive(seed, SIM_STREAM, run, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        trajectories += _class_norms(model, x, labels, run, 0)
        for epoch in range(1, epochs + 1):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                optimizer.zero_grad()
                attract_pairs_loss(model(x[idx]), labels[idx], gen).backward()
                optimizer.step()
            trajectories += _class_norms(model, x, labels, run, epoch)
        with torch.no_grad():
            z = model(x)
        density.append(pd.DataFrame({"run": run, "sample": np.arange(n), "class": labels.numpy(),
                                     "norm": z.norm(dim=1).numpy(), "knn_distance": knn_distance(z, k), "k": k}))
    return pd.DataFrame(trajectories), pd.concat(density, ignore_index=True)


def frequency_norm_order(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per run: Spearman(class count, final class mean norm) over the 4 classes (C6's first statistic)."""
    final = trajectories[trajectories.epoch == trajectories.epoch.max()]
    return pd.DataFrame([{"run": run, "epoch": int(f.epoch.iloc[0]),
                          "spearman_count_norm": spearman(f["count"], f.mean_norm)} for run, f in final.groupby("run")])
