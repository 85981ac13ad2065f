"""The losses against their textbook definitions: symmetric NT-Xent, the authors' one-directional variant, and SimSiam's
negative cosine with stop-gradient."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from embnorm.models.methods.simclr import nt_xent, nt_xent_authors
from embnorm.models.methods.simsiam import simsiam_loss


def views(n=5, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


def test_nt_xent_matches_the_per_anchor_definition():
    """Each of the 2n views: -log exp(s(a, positive)/t) / sum over the 2n-1 other views of exp(s(a, other)/t)."""
    z1, z2, t = *views(), 0.5
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    terms = []
    for a in range(2 * n):
        pos = (a + n) % (2 * n)
        others = [b for b in range(2 * n) if b != a]
        denom = sum(math.exp(float(z[a] @ z[b]) / t) for b in others)
        terms.append(-(float(z[a] @ z[pos]) / t - math.log(denom)))
    assert abs(nt_xent(z1, z2, t).item() - sum(terms) / len(terms)) < 1e-5


def test_authors_variant_matches_their_attractive_plus_repulsive_form():
    """CLA.utils.losses.nt_xent: -mean_i s(z1_i, z2_i)/t + mean_i log sum_{j != i} exp(s(z1_i, z2_j)/t)."""
    z1, z2, t = *views(seed=1), 0.5
    a, b = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    sims = a @ b.T / t
    attractive = -(a * b).sum(1).mean() / t
    off_diagonal = sims.masked_fill(torch.eye(len(a), dtype=torch.bool), -1e5)
    repulsive = torch.log(torch.exp(off_diagonal).sum(1)).mean()
    assert abs(nt_xent_authors(z1, z2, t).item() - (attractive + repulsive).item()) < 1e-5


def test_simsiam_loss_is_symmetric_negative_cosine_with_stop_gradient():
    p1, p2 = (v.requires_grad_() for v in views(seed=2))
    z1, z2 = (v.requires_grad_() for v in views(seed=3))
    loss = simsiam_loss(p1, p2, z1, z2)
    expected = -0.5 * (F.cosine_similarity(p1, z2).mean() + F.cosine_similarity(p2, z1).mean())
    assert abs(loss.item() - expected.item()) < 1e-6
    loss.backward()
    assert z1.grad is None and z2.grad is None  # targets are stop-gradient
    assert p1.grad is not None and p1.grad.abs().sum() > 0
