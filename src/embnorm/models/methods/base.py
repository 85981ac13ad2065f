"""The interface every SSL method implements, and the parts all of them share.

A method is an `nn.Module` built from a run's resolved hyper-parameters (`params`) and the image size; its name and
defaults are its row in the model table (`embnorm.models.methods.METHODS`). It owns a backbone
(`embnorm.models.backbones`) and its heads, and declares, in one place each:

- `layers`: the outputs it exposes to embedding (the training monitor's norms and the embed stage read exactly
  these, by name, from `forward`);
- `loss(x1, x2)`: the loss of two augmented views, with GradScale on the branch the method names (`gradscale_on`);
- `parameter_groups()`: the optimizer's groups; a group with `fixed_lr: True` keeps the peak lr throughout
  (SimSiam's predictor) while the others follow the schedule;
- `after_step(step, total_steps)`: what happens after each optimizer step (BYOL's EMA target; nothing otherwise);
- `cut_init(c, scope)`: cut-initialization of the trained (online) branch.

Every state a method keeps between steps is a registered parameter or buffer, so `state_dict()` (and therefore the
resumable checkpoint) holds it and a resumed run stays bit-identical.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn as nn

from embnorm.mitigations import cut_init as cut_initialization
from embnorm.models.backbones import build_backbone


class Method(nn.Module):
    name: ClassVar[str]
    layers: ClassVar[tuple[str, ...]] = ("backbone", "projector")
    gradscale_on: ClassVar[str] = "projector"

    def __init__(self, params: dict, image_size: int):
        super().__init__()
        self.params = params
        self.backbone, self.feat_dim = build_backbone(params["backbone"], image_size)

    @classmethod
    def has_predictor(cls) -> bool:
        """Whether the method exposes a predictor (the one place this is decided)."""
        return "predictor" in cls.layers

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer of `layers` for a batch of images: the chain backbone -> projector (-> predictor) that every
        method here trains (a method with other layers overrides this)."""
        out = {"backbone": self.backbone(x)}
        out["projector"] = self.projector(out["backbone"])
        if self.has_predictor():
            out["predictor"] = self.predictor(out["projector"])
        return out

    def loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def parameter_groups(self) -> list[dict]:
        """One scheduled group holding every trainable parameter."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "name": "encoder", "fixed_lr": False}]

    def after_step(self, step: int, total_steps: int) -> None:
        """Called after optimizer step `step` (0-based) of `total_steps`; nothing by default."""

    def cut_init(self, c: float, scope: str) -> None:
        cut_initialization(self, c, scope)
