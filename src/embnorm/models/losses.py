"""The two-view losses: NT-Xent (standard and the authors' variant) and SimSiam's negative cosine."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric NT-Xent (SimCLR): each of the 2B views has one positive and 2B-2 negatives from both views."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def nt_xent_authors(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The authors' `nt_xent`: view 1 anchors only, cross-view negatives only, positive left out of the denominator."""
    z1, z2 = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
    sim = z1 @ z2.T / temperature
    positive = sim.diagonal()
    negatives = sim.masked_fill(torch.eye(len(sim), dtype=torch.bool, device=sim.device), float("-inf"))
    return (-positive + torch.logsumexp(negatives, dim=1)).mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Symmetric negative cosine with stop-gradient on the projections z."""
    cos = lambda p, z: F.cosine_similarity(p.float(), z.detach().float(), dim=1).mean()  # noqa: E731
    return -0.5 * (cos(p1, z2) + cos(p2, z1))
