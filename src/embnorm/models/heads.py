"""Projector and predictor heads as in the SimCLR and SimSiam papers (and the authors' code)."""

from __future__ import annotations

import torch.nn as nn


def simclr_projector(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    """Two linear layers with a ReLU, no BatchNorm (the authors' `bn: False`)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))


def simsiam_projector(in_dim: int, dim: int) -> nn.Module:
    """Three linear layers of width `dim`, each followed by BatchNorm, ReLU between (SimSiam, Chen & He 2021)."""
    return nn.Sequential(
        nn.Linear(in_dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
        nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(inplace=True),
        nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim),
    )


def simsiam_predictor(dim: int, bottleneck: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, bottleneck, bias=False), nn.BatchNorm1d(bottleneck), nn.ReLU(inplace=True),
                         nn.Linear(bottleneck, dim))
