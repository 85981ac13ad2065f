"""SimSiam (Chen & He, CVPR 2021, "Exploring Simple Siamese Representation Learning", Section 3 and Algorithm 1):
backbone -> projection MLP -> prediction MLP, and the symmetric negative cosine with a stop-gradient on the
projections.

GradScale sits on the predictor outputs (the projections are stop-gradient targets). The predictor keeps the peak
learning rate throughout (the paper's Section 4.4 / the reference code's `fix_pred_lr`), so it is its own optimizer
group with `fixed_lr`. Its defaults (its row in `METHODS`) are the paper's CIFAR settings as the Draganov et al.
authors train them (paper reference §0): 4 x 256 images per step, 2048-wide projector, 512-wide predictor bottleneck.

    >>> import torch
    >>> from embnorm.models.methods.simsiam import SimSiam
    >>> model = SimSiam("small", image_size=16, embed_dim=16, predictor_dim=4)
    >>> sorted(model(torch.rand(4, 3, 16, 16)))
    ['backbone', 'predictor', 'projector']
    >>> [(g["name"], g["fixed_lr"]) for g in model.parameter_groups()]
    [('encoder', False), ('predictor', True)]
    >>> -1 <= model.loss(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)).item() <= 1
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embnorm.mitigations import gradscale as grad_scale
from embnorm.models.heads import mlp
from embnorm.models.methods import METHODS
from embnorm.models.methods.base import Method

DEFAULTS = METHODS["simsiam"].defaults  # the paper's values (the model table is their one source)


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Symmetric negative cosine with stop-gradient on the projections z."""
    cos = lambda p, z: F.cosine_similarity(p.float(), z.detach().float(), dim=1).mean()  # noqa: E731
    return -0.5 * (cos(p1, z2) + cos(p2, z1))


class SimSiam(Method):
    name = "simsiam"
    layers = ("backbone", "projector", "predictor")
    gradscale_on = "predictor"

    def __init__(self, backbone: str, image_size: int, *, embed_dim: int = DEFAULTS["embed_dim"],
                 predictor_dim: int = DEFAULTS["predictor_dim"], gradscale: float = 0.0):
        """Projector: three linear layers of width `embed_dim`, each followed by BatchNorm, ReLU between (Section 3,
        baseline settings). Predictor: `embed_dim -> predictor_dim -> embed_dim`, BatchNorm and ReLU on its
        bottleneck. Linear layers followed by BatchNorm have no bias."""
        super().__init__(backbone, image_size, gradscale=gradscale)
        self.projector = mlp([self.feat_dim, embed_dim, embed_dim, embed_dim], norm_output=True)
        self.predictor = mlp([embed_dim, predictor_dim, embed_dim])

    def loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """One pass over both views (BatchNorm statistics over 2n images), then the symmetric loss."""
        n = x1.shape[0]
        out = self(torch.cat([x1, x2]))
        z, q = out["projector"], grad_scale(out["predictor"], self.gradscale)
        return simsiam_loss(q[:n], q[n:], z[:n], z[n:])

    def parameter_groups(self) -> list[dict]:
        encoder = [p for name, p in self.named_parameters() if not name.startswith("predictor.")]
        return [{"params": encoder, "name": "encoder", "fixed_lr": False},
                {"params": list(self.predictor.parameters()), "name": "predictor", "fixed_lr": True}]
