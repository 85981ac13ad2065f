"""GradScale (Algorithm 1 of the paper): identity forward, gradient multiplied by ||z||^p backward, per sample."""

from __future__ import annotations

import torch


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor, power: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.power = power
        return z.view_as(z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        scale = z.detach().float().norm(dim=1, keepdim=True).pow(ctx.power)
        return grad * scale.to(grad.dtype), None


def grad_scale(z: torch.Tensor, power: float) -> torch.Tensor:
    """Rescale the gradient reaching `z` (rows are samples) by ||z_i||^power; power 0 is a no-op."""
    return z if power == 0 else _GradScale.apply(z, power)
