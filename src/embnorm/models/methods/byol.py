"""BYOL (Grill et al., NeurIPS 2020, "Bootstrap Your Own Latent", Section 3.1 and Algorithm 1 of its Appendix A):
an online network (backbone -> projector -> predictor) learns to predict a target network's projection of the other
view; the target (backbone -> projector) is an exponential moving average of the online one.

- Loss: the normalised MSE of Eq. 2, ||p/||p|| - t/||t|| ||^2 = 2 - 2 cos(p, t), with a stop-gradient on the target
  t, symmetrised over the two views and summed (L + L~, Section 3.1).
- Target: after every optimizer step, xi <- tau xi + (1 - tau) theta with tau = 1 - (1 - tau_base)(cos(pi k / K) + 1)/2
  over the K optimizer steps of the run (Section 3.2), from TAU_BASE = 0.99 to 1. The target is a registered
  submodule, so checkpoints hold it (a resumed run stays bit-identical) and the optimizer never sees it.
- The norm mitigations act on the online branch: cut-initialization divides the online network, which the target
  then copies (the two start equal, as in the paper); GradScale sits on the predictor outputs, as for SimSiam (the
  targets are stop-gradient).
- Embedded layers: the online backbone, projector and predictor.

Defaults (its row in `METHODS`): solo-learn's CIFAR BYOL config, `scripts/pretrain/cifar/byol.yaml` of
vturrisi/solo-learn: batch 256, projector 4096 -> 256, predictor hidden 4096, tau 0.99 -> 1.0, weight decay 1e-5.
solo-learn trains it with LARS (lr 1.0), which this workflow does not implement; under plain SGD the rate is
SimSiam's 0.12 per 256 images, the other predictor method here (an assumption, not a tuned value: docs/training.md).

    >>> import torch
    >>> from embnorm.models.methods.byol import BYOL
    >>> model = BYOL("small", image_size=16, embed_dim=8, hidden_dim=16, predictor_dim=16)
    >>> sorted(model(torch.rand(4, 3, 16, 16)))
    ['backbone', 'predictor', 'projector']
    >>> 0 <= model.loss(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)).item() <= 8
    True
    >>> round(model.tau(0, 100), 4), round(model.tau(50, 100), 4), model.tau(100, 100)
    (0.99, 0.995, 1.0)
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from embnorm.mitigations import cut_init as cut_initialization, gradscale as grad_scale
from embnorm.models.heads import mlp
from embnorm.models.methods import METHODS
from embnorm.models.methods.base import Method

DEFAULTS = METHODS["byol"].defaults  # solo-learn's CIFAR values (the model table is their one source)
TAU_BASE = 0.99  # the paper's and solo-learn's CIFAR value; tau rises to 1 over the run


def byol_loss(p1: torch.Tensor, p2: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    """Symmetric normalised MSE, 2 - 2 cos, each prediction against the other view's (stop-gradient) target."""
    mse = lambda p, t: (2 - 2 * F.cosine_similarity(p.float(), t.detach().float(), dim=1)).mean()  # noqa: E731
    return mse(p1, t2) + mse(p2, t1)


class BYOL(Method):
    name = "byol"
    layers = ("backbone", "projector", "predictor")
    gradscale_on = "predictor"

    def __init__(self, backbone: str, image_size: int, *, embed_dim: int = DEFAULTS["embed_dim"],
                 hidden_dim: int = DEFAULTS["hidden_dim"], predictor_dim: int = DEFAULTS["predictor_dim"],
                 gradscale: float = 0.0):
        """Projector `feat_dim -> hidden_dim -> embed_dim` and predictor `embed_dim -> predictor_dim -> embed_dim`,
        each Linear, BatchNorm, ReLU, Linear (Section 3.3), with biases throughout as in solo-learn; the target
        network starts as a frozen copy of the online backbone and projector."""
        super().__init__(backbone, image_size, gradscale=gradscale)
        self.projector = mlp([self.feat_dim, hidden_dim, embed_dim], bias_before_norm=True)
        self.predictor = mlp([embed_dim, predictor_dim, embed_dim], bias_before_norm=True)
        self.target_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """One online pass and one target pass over both views (BatchNorm statistics over 2n images)."""
        n = x1.shape[0]
        x = torch.cat([x1, x2])
        p = grad_scale(self(x)["predictor"], self.gradscale)
        with torch.no_grad():
            t = self.target_projector(self.target_backbone(x))
        return byol_loss(p[:n], p[n:], t[:n], t[n:])

    @staticmethod
    def tau(step: int, total_steps: int) -> float:
        """The EMA rate after optimizer step `step` of `total_steps` (cosine from TAU_BASE to 1)."""
        return 1 - (1 - TAU_BASE) * (math.cos(math.pi * step / total_steps) + 1) / 2

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> None:
        tau = self.tau(step, total_steps)
        for online, target in ((self.backbone, self.target_backbone), (self.projector, self.target_projector)):
            for p, q in zip(online.parameters(), target.parameters()):
                q.mul_(tau).add_(p.detach(), alpha=1 - tau)

    @torch.no_grad()
    def cut_init(self, c: float, scope: str) -> None:
        """Cut the online network (backbone, projector, predictor); the target starts as a copy of it."""
        for module in (self.backbone, self.projector, self.predictor):
            cut_initialization(module, c, scope)
        self.target_backbone.load_state_dict(self.backbone.state_dict())
        self.target_projector.load_state_dict(self.projector.state_dict())
