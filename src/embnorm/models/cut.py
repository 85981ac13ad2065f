"""Cut-initialization: divide the network's parameters by a constant c > 1 once, at initialization."""

from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def cut_initialization(model: nn.Module, c: float, scope: str = "all") -> None:
    """`all` divides every parameter (conv/linear weights and biases, BatchNorm affine), as the authors' code does;
    `weights` divides only conv and linear weights. Buffers (BN running statistics) are left alone."""
    if c == 1:
        return
    if scope == "all":
        for p in model.parameters():
            p.div_(c)
    elif scope == "weights":
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.div_(c)
    else:
        raise ValueError(f"cut_scope must be 'all' or 'weights', got '{scope}'")
