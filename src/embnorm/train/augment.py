"""Two-view SimCLR augmentation as batched tensor ops on the training device, each sample with its own parameters.

The recipe is the one of the authors' `get_transforms`: RandomResizedCrop(scale), horizontal flip p=0.5, separate
RandomApply(p=0.8) blocks for brightness, contrast, saturation (0.8 s each) and hue (0.2 s), grayscale p=0.2, and no
mean/std normalization. Crop and flip are one affine resampling (`grid_sample`) per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GRAY = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentRecipe:
    crop_scale: tuple[float, float] = (0.2, 1.0)
    strength: float = 0.5
    jitter_p: float = 0.8
    gray_p: float = 0.2
    flip_p: float = 0.5


RECIPES = {
    "simclr_cifar": AugmentRecipe(crop_scale=(0.2, 1.0), strength=0.5),  # the authors' CIFAR values
    "simclr": AugmentRecipe(crop_scale=(0.08, 1.0), strength=1.0),  # SimCLR's ImageNet values
}


def to_float(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1], channels_last memory."""
    return images_uint8.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)


def _uniform(n, lo, hi, gen, device):
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def resized_crop_flip(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    n, dev = x.shape[0], x.device
    area = _uniform(n, *recipe.crop_scale, gen, dev)
    log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), gen, dev)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(max=1.0)  # fraction of the width
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (torch.rand(n, generator=gen, device=dev) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=gen, device=dev) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(n, generator=gen, device=dev) < recipe.flip_p, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2] = w * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(GRAY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(1)
    maxc, _ = x.max(dim=1)
    minc, _ = x.min(dim=1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(maxc == r, ((g - b) / safe) % 6, torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.where(delta > 0, h / 6, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=1)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def color_jitter(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    n, dev, s = x.shape[0], x.device, recipe.strength
    view = (n, 1, 1, 1)

    def applied():
        return (torch.rand(n, generator=gen, device=dev) < recipe.jitter_p).view(view)

    b = _uniform(n, 1 - 0.8 * s, 1 + 0.8 * s, gen, dev).view(view)
    x = torch.where(applied(), (x * b).clamp(0, 1), x)
    c = _uniform(n, 1 - 0.8 * s, 1 + 0.8 * s, gen, dev).view(view)
    mean = _gray(x).mean(dim=(2, 3), keepdim=True)
    x = torch.where(applied(), ((x - mean) * c + mean).clamp(0, 1), x)
    sat = _uniform(n, 1 - 0.8 * s, 1 + 0.8 * s, gen, dev).view(view)
    gray = _gray(x)
    x = torch.where(applied(), ((x - gray) * sat + gray).clamp(0, 1), x)
    hue = _uniform(n, -0.2 * s, 0.2 * s, gen, dev).view(n, 1, 1)
    hsv = rgb_to_hsv(x)
    shifted = hsv_to_rgb(torch.stack([(hsv[:, 0] + hue) % 1.0, hsv[:, 1], hsv[:, 2]], dim=1))
    return torch.where(applied(), shifted, x)


def random_grayscale(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    pick = (torch.rand(n, generator=gen, device=x.device) < recipe.gray_p).view(n, 1, 1, 1)
    return torch.where(pick, _gray(x).expand_as(x), x)


def augment(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    """One random view of a float batch (N, 3, H, W) in [0, 1]."""
    x = resized_crop_flip(x, recipe, gen)
    x = color_jitter(x, recipe, gen)
    return random_grayscale(x, recipe, gen).contiguous(memory_format=torch.channels_last)


def two_views(images_uint8: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator):
    x = to_float(images_uint8)
    return augment(x, recipe, gen), augment(x, recipe, gen)
