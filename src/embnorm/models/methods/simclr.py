"""SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020, "A Simple Framework for Contrastive Learning of Visual
Representations", Section 2.1): backbone -> projection MLP g, and the NT-Xent loss of two views.

The projector is two linear layers with a ReLU and no BatchNorm (the authors' `bn: False`). GradScale sits on the
embeddings (the projector output), the tensor whose norm the loss divides out. Its defaults (its row in `METHODS`)
are the paper's CIFAR settings as the Draganov et al. authors train them (paper reference §0). The loss is one of
`LOSSES`, chosen when the model is built.

    >>> import torch
    >>> from embnorm.models.methods.simclr import SimCLR
    >>> model = SimCLR("small", image_size=16, embed_dim=8)
    >>> model.temperature, model.criterion.__name__
    (0.5, 'nt_xent')
    >>> sorted(model(torch.rand(4, 3, 16, 16)))
    ['backbone', 'projector']
    >>> bool(model.loss(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)) > 0)
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embnorm.mitigations import gradscale as grad_scale
from embnorm.models.heads import mlp
from embnorm.models.methods import METHODS
from embnorm.models.methods.base import Method

DEFAULTS = METHODS["simclr"].defaults  # the paper's values (the model table is their one source)


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


LOSSES = {"ntxent": nt_xent, "authors": nt_xent_authors}  # the values of the `loss` setting


class SimCLR(Method):
    name = "simclr"
    layers = ("backbone", "projector")
    gradscale_on = "projector"

    def __init__(self, backbone: str, image_size: int, *, embed_dim: int = DEFAULTS["embed_dim"],
                 hidden_dim: int = DEFAULTS["hidden_dim"], temperature: float = DEFAULTS["temperature"],
                 loss: str = DEFAULTS["loss"], gradscale: float = 0.0):
        """Projector `feat_dim -> hidden_dim -> embed_dim` (`hidden_dim` 0: the backbone's feature width), and the
        contrastive loss `loss` (a key of `LOSSES`) at `temperature`."""
        if loss not in LOSSES:
            raise ValueError(f"SimCLR: unknown loss '{loss}' (expected one of {sorted(LOSSES)})")
        super().__init__(backbone, image_size, gradscale=gradscale)
        self.projector = mlp([self.feat_dim, hidden_dim or self.feat_dim, embed_dim], batch_norm=False)
        self.criterion = LOSSES[loss]
        self.temperature = temperature

    def loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The contrastive loss of the two views' embeddings. One pass over both views: BatchNorm statistics over 2n
        images (SimCLR's reference code does this; the authors' code runs one pass per view)."""
        n = x1.shape[0]
        z = grad_scale(self(torch.cat([x1, x2]))["projector"], self.gradscale)
        return self.criterion(z[:n], z[n:], self.temperature)
