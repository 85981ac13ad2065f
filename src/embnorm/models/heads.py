"""The one builder of the MLP heads (projectors and predictors) that every SSL method here puts on its backbone.

The heads of SimCLR, SimSiam and BYOL are all the same pattern, as lightly's `ProjectionHead` and solo-learn's
methods write them: linear layers of the widths `dims`, each hidden one followed by an optional BatchNorm and a ReLU,
the last one optionally followed by a BatchNorm. The methods differ only in three choices, which are the builder's
arguments:

- `batch_norm`: BatchNorm after each hidden linear layer (SimSiam and BYOL: yes; SimCLR's CIFAR projector: no);
- `norm_output`: BatchNorm after the last linear layer too (SimSiam's projector);
- `bias_before_norm`: whether a linear layer that a BatchNorm follows keeps its bias. The BatchNorm's shift makes
  that bias redundant, so SimSiam leaves it out; solo-learn's BYOL keeps it. A linear layer that no BatchNorm
  follows always has its bias.

Layers are created in order (linear, then its BatchNorm), so a seeded build draws the same initial weights, and the
`nn.Sequential` numbers them 0, 1, 2, ...: the names in `state_dict` (`projector.0.weight`, ...) are fixed by the
pattern and checkpoints keep loading.

    >>> def layout(head):
    ...     return [f"Linear({m.in_features}, {m.out_features}, bias={m.bias is not None})"
    ...             if hasattr(m, "in_features") else type(m).__name__ for m in head]
    >>> layout(mlp([8, 16, 4]))                           # SimSiam's predictor
    ['Linear(8, 16, bias=False)', 'BatchNorm1d', 'ReLU', 'Linear(16, 4, bias=True)']
    >>> layout(mlp([8, 16, 4], bias_before_norm=True))    # BYOL's projector and predictor
    ['Linear(8, 16, bias=True)', 'BatchNorm1d', 'ReLU', 'Linear(16, 4, bias=True)']
    >>> layout(mlp([8, 16, 4], batch_norm=False))         # SimCLR's projector
    ['Linear(8, 16, bias=True)', 'ReLU', 'Linear(16, 4, bias=True)']
    >>> layout(mlp([8, 4, 4], norm_output=True))          # SimSiam's projector (three layers at the paper's size)
    ['Linear(8, 4, bias=False)', 'BatchNorm1d', 'ReLU', 'Linear(4, 4, bias=False)', 'BatchNorm1d']
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn


def mlp(dims: Sequence[int], batch_norm: bool = True, norm_output: bool = False,
        bias_before_norm: bool = False) -> nn.Sequential:
    """Linear layers from `dims[0]` through `dims[1:-1]` to `dims[-1]`: each hidden layer followed by BatchNorm (if
    `batch_norm`) and ReLU, the last by BatchNorm only if `norm_output`. A linear layer followed by BatchNorm has a
    bias only if `bias_before_norm`."""
    if len(dims) < 2:
        raise ValueError(f"an MLP needs an input and an output width, got {list(dims)}")
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(zip(dims[:-1], dims[1:])):
        last = i == len(dims) - 2
        normed = norm_output if last else batch_norm
        layers.append(nn.Linear(width_in, width_out, bias=bias_before_norm or not normed))
        if normed:
            layers.append(nn.BatchNorm1d(width_out))
        if not last:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


__all__ = ["mlp"]
