"""The two norm mitigations of Draganov et al., "On the Importance of Embedding Norms in Self-Supervised Learning"
(ICML 2025), Section 6, as drop-in functions for any PyTorch training loop.

Why they exist (Section 3): the gradient of a cosine-similarity or InfoNCE loss with respect to an embedding z scales
as 1/||z|| (Proposition 3.1), and every gradient step grows ||z|| (Corollary 3.3), so large-norm embeddings learn
slowly. The two remedies:

- `gradscale(z, p)` (Algorithm 1): identity in the forward pass, the gradient reaching each row z_i multiplied by
  ||z_i||^p in the backward pass. p = 1 makes each sample's gradient magnitude independent of its norm.
- `cut_init(module, c)`: divide the network's parameters by c > 1 once, at initialization, so that training starts
  with small norms (the authors use c = 3 for SimCLR and c = 9 for SimSiam).

This module depends on torch only; the workflow's own models (`embnorm.models`) use these same functions.

>>> import torch
>>> from embnorm.mitigations import cut_init, gradscale
>>> net = torch.nn.Linear(4, 3)
>>> cut_init(net, 3.0)                       # right after construction
>>> z = gradscale(net(torch.randn(8, 4)), 1.0)  # on the embeddings, before L2-normalization and the loss
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["gradscale", "cut_init"]


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor, p: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.p = p
        return z.view_as(z)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        z = z.detach().to(torch.promote_types(z.dtype, torch.float32))  # float16/bfloat16 norms in float32
        scale = z.norm(dim=1, keepdim=True).pow(ctx.p)
        return grad * scale.to(grad.dtype), None


def gradscale(z: torch.Tensor, p: float) -> torch.Tensor:
    """GradScale, Algorithm 1 of Draganov et al. (ICML 2025, Section 6): returns `z` unchanged, and in the backward
    pass multiplies the gradient reaching each row z_i (rows are samples) by ||z_i||^p. p = 0 is a no-op (plain
    training); p = 1 cancels the 1/||z|| factor of Proposition 3.1.

    Apply it to the tensor whose norm the loss divides out: SimCLR's embeddings before L2-normalization; for SimSiam
    or BYOL, the predictor outputs only (the targets are stop-gradient). The norm is computed in at least float32 and
    the scale cast to the gradient's dtype, so it is safe under autocast.

    >>> import torch
    >>> z = torch.tensor([[3.0, 4.0], [0.6, 0.8]], requires_grad=True)   # norms 5 and 1
    >>> out = gradscale(z, 1.0)
    >>> torch.equal(out, z)
    True
    >>> out.sum().backward()
    >>> z.grad
    tensor([[5., 5.],
            [1., 1.]])
    """
    return z if p == 0 else _GradScale.apply(z, p)


@torch.no_grad()
def cut_init(module: nn.Module, c: float, scope: str = "all") -> None:
    """Cut-initialization of Draganov et al. (ICML 2025, Section 6; introduced in their NeurIPS 2024 predecessor):
    divide the parameters of `module` by c, in place, once, right after construction. c = 1 is a no-op.

    scope `"all"` divides every parameter (conv and linear weights and biases, BatchNorm affine), as the authors' code
    does (`cut_weights`); `"weights"` divides only conv and linear weights (behind BatchNorm this changes nothing, so
    `"all"` is the one that shrinks the norms). Buffers such as BatchNorm running statistics are left alone.

    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> before = net.weight.clone()
    >>> cut_init(net, 3.0)
    >>> torch.allclose(net.weight * 3, before)
    True
    """
    if c == 1:
        return
    if scope == "all":
        for p in module.parameters():
            p.div_(c)
    elif scope == "weights":
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.div_(c)
    else:
        raise ValueError(f"cut_scope must be 'all' or 'weights', got '{scope}'")
