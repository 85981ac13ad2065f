"""SimCLR and SimSiam as one module: backbone -> projector (-> predictor), and the loss of a pair of views."""

from __future__ import annotations

import torch
import torch.nn as nn

from embnorm.models.backbones import build_backbone
from embnorm.models.cut import cut_initialization
from embnorm.models.gradscale import grad_scale
from embnorm.models.heads import simclr_projector, simsiam_predictor, simsiam_projector
from embnorm.models.losses import nt_xent, nt_xent_authors, simsiam_loss


class SSLModel(nn.Module):
    def __init__(self, params: dict, image_size: int):
        super().__init__()
        self.kind = params["model"]
        self.params = params
        self.backbone, feat_dim = build_backbone(params["backbone"], image_size)
        if self.kind == "simclr":
            hidden = params["hidden_dim"] or feat_dim
            self.projector = simclr_projector(feat_dim, hidden, params["embed_dim"])
            self.predictor = None
        elif self.kind == "simsiam":
            self.projector = simsiam_projector(feat_dim, params["embed_dim"])
            self.predictor = simsiam_predictor(params["embed_dim"], params["predictor_dim"])
        else:
            raise ValueError(f"unknown model '{self.kind}' (expected simclr or simsiam)")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.backbone(x)
        z = self.projector(h)
        out = {"backbone": h, "projector": z}
        if self.predictor is not None:
            out["predictor"] = self.predictor(z)
        return out

    def loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Loss of two augmented views of the same images. GradScale sits on the output whose norm the loss
        divides out: SimCLR's embeddings (projector output), SimSiam's predictor outputs (the projections are
        stop-gradient targets)."""
        n = x1.shape[0]
        # One pass over both views: BatchNorm statistics over 2n images (SimCLR's reference code does this; the authors'
        # code runs one pass per view). One pass is faster and keeps the step a single graph.
        out = self(torch.cat([x1, x2]))
        p = self.params["gradscale"]
        if self.kind == "simclr":
            z = grad_scale(out["projector"], p)
            fn = nt_xent if self.params["loss"] == "ntxent" else nt_xent_authors
            return fn(z[:n], z[n:], self.params["temperature"])
        z, q = out["projector"], grad_scale(out["predictor"], p)
        return simsiam_loss(q[:n], q[n:], z[:n], z[n:])

    def encoder_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("predictor.")]

    def predictor_parameters(self):
        return [] if self.predictor is None else list(self.predictor.parameters())


def build_model(params: dict, image_size: int) -> SSLModel:
    """The model of a run, with cut-initialization applied (seed the RNG before calling)."""
    model = SSLModel(params, image_size)
    cut_initialization(model, params["cut"], params["cut_scope"])
    return model
