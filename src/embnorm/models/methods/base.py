"""The interface every SSL method implements, and the parts all of them share.

A method is an `nn.Module` whose constructor takes the backbone's name, the image size and the method's own
hyper-parameters as typed keyword arguments, with the paper's values as defaults (the method's row in the model
table, `embnorm.models.methods.METHODS`, holds them, so the config and the signature cannot disagree). A run builds it
with `from_params(params, image_size)`, which reads each argument from the run's resolved parameters under the same
name: the one place where the config's keys meet the constructor. It owns a backbone (`embnorm.models.backbones`)
and its heads (`embnorm.models.heads.mlp`), and declares, in one place each:

- `layers`: the outputs it exposes to embedding (the training monitor's norms and the embed stage read exactly
  these, by name, from `forward`);
- `loss(x1, x2)`: the loss of two augmented views, chosen when the method is built, with GradScale (power
  `gradscale`) on the branch the method names (`gradscale_on`);
- `parameter_groups()`: the optimizer's groups; a group with `fixed_lr: True` keeps the peak lr throughout
  (SimSiam's predictor) while the others follow the schedule;
- `after_step(step, total_steps)`: what happens after each optimizer step (BYOL's EMA target; nothing otherwise);
- `cut_init(c, scope)`: cut-initialization of the trained (online) branch.

Every state a method keeps between steps is a registered parameter or buffer, so `state_dict()` (and therefore the
resumable checkpoint) holds it and a resumed run stays bit-identical.
"""

from __future__ import annotations

import inspect
from typing import ClassVar, Self

import torch
import torch.nn as nn

from embnorm.mitigations import cut_init as cut_initialization
from embnorm.models.backbones import build_backbone


class Method(nn.Module):
    name: ClassVar[str]
    layers: ClassVar[tuple[str, ...]] = ("backbone", "projector")
    gradscale_on: ClassVar[str] = "projector"

    def __init__(self, backbone: str, image_size: int, *, gradscale: float = 0.0):
        """`backbone` names an `embnorm.models.backbones` network for images of `image_size` pixels; `gradscale` is
        GradScale's power p (0: plain training)."""
        super().__init__()
        self.backbone, self.feat_dim = build_backbone(backbone, image_size)
        self.gradscale = gradscale

    @classmethod
    def from_params(cls, params: dict, image_size: int) -> Self:
        """The method of a run: every constructor argument but `image_size` read from the run's resolved parameters
        under its own name (`backbone`, `gradscale` and the keys of the method's row in the model table)."""
        names = [name for name in inspect.signature(cls).parameters if name != "image_size"]
        missing = [name for name in names if name not in params]
        if missing:
            raise KeyError(f"{cls.name}: the run's parameters lack {missing}")
        return cls(image_size=image_size, **{name: params[name] for name in names})

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
