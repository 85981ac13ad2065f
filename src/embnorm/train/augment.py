"""Two-view SimCLR augmentation as batched tensor ops on the training device, each sample with its own parameters.

The recipe is the one of the authors' `get_transforms`: RandomResizedCrop(scale), horizontal flip p=0.5, separate
RandomApply(p=0.8) blocks for brightness, contrast, saturation (0.8 s each) and hue (0.2 s), grayscale p=0.2, and no
mean/std normalization. Crop and flip are one affine resampling (`grid_sample`) per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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


def recipe_for(params: dict) -> AugmentRecipe:
    """The run's recipe: the `augment` preset, with `augment_crop_scale` / `augment_strength` overriding it if set."""
    recipe = RECIPES[params["augment"]]
    if params.get("augment_crop_scale") is not None:
        recipe = replace(recipe, crop_scale=tuple(params["augment_crop_scale"]))
    if params.get("augment_strength") is not None:
        recipe = replace(recipe, strength=params["augment_strength"])
    return recipe


def to_float(images_uint8: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1]; channels_last memory for the model, or contiguous NCHW
    for the augmentation's per-channel arithmetic (faster on plain planes)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return images_uint8.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=fmt)


def _uniform(shape, lo, hi, gen, device):
    return torch.rand(shape, generator=gen, device=device) * (hi - lo) + lo


def crop_boxes(n: int, scale: tuple[float, float], gen: torch.Generator, device, tries: int = 10):
    """RandomResizedCrop's box sampling for n square images, as fractions of the side: (w, h, cx, cy), cx and cy in
    [-1, 1] (affine_grid coordinates). Like torchvision, an (area, log-ratio) draw is retried while the box does not
    fit (up to `tries` times, vectorized); the fallback is the whole image (torchvision's, for square images)."""
    area = _uniform((n, tries), *scale, gen, device)
    ratio = torch.exp(_uniform((n, tries), math.log(3 / 4), math.log(4 / 3), gen, device))
    w, h = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
    fits = (w <= 1) & (h <= 1)
    found = fits.any(dim=1)
    first = fits.float().argmax(dim=1, keepdim=True)  # the first draw that fits (0 when none does)
    w = torch.where(found, w.gather(1, first).squeeze(1), 1.0)
    h = torch.where(found, h.gather(1, first).squeeze(1), 1.0)
    cx = (torch.rand(n, generator=gen, device=device) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=gen, device=device) * 2 - 1) * (1 - h)
    return w, h, cx, cy


def resized_crop_flip(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random resized crop and horizontal flip, as one bilinear resampling of the batch."""
    n, dev = x.shape[0], x.device
    w, h, cx, cy = crop_boxes(n, recipe.crop_scale, gen, dev)
    flip = torch.where(torch.rand(n, generator=gen, device=dev) < recipe.flip_p, -1.0, 1.0)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([w * flip, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale (arithmetic, so no host-to-device copy inside the step)."""
    return GRAY[0] * x[:, 0:1] + GRAY[1] * x[:, 1:2] + GRAY[2] * x[:, 2:3]


def shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue of each sample by `shift` (turns, shape (N, 1, 1)), as torchvision's adjust_hue does, without
    materializing HSV: a hue rotation keeps each pixel's max and min channel, so channel c of the result is
    max - (max - min) * clamp(min(k, 4 - k), 0, 1) with k = (n_c + 6 h') mod 6, n = 5, 3, 1 for R, G, B."""
    r, g, b = x.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    sextant = torch.where(maxc == r, g - b, torch.where(maxc == g, b - r + 2 * delta, r - g + 4 * delta))
    sextant.mul_(delta.clamp_min(1e-12).reciprocal_()).add_(6 * shift)  # hue in sextants; gray pixels: any value
    out = torch.empty_like(x)
    for c, n_c in enumerate((5.0, 3.0, 1.0)):
        k = (sextant + n_c).remainder_(6)
        torch.sub(maxc, delta * torch.minimum(k, 4 - k).clamp_(0, 1), out=out[:, c])
    return out


def color_jitter(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation (factors in [1 - 0.8 s, 1 + 0.8 s]) and hue (shift in [-0.2 s, 0.2 s]) in
    this fixed order, each applied to a sample with probability jitter_p on its own, with torchvision's formulas
    (blend with black, with the mean gray level, with the grayscale image; clamp to [0, 1] after each). A sample that
    skips an op gets factor 1, which leaves it exactly unchanged (lerp with weight 1 returns its end point)."""
    n, dev, s = x.shape[0], x.device, recipe.strength
    view = (n, 1, 1, 1)

    def factor(lo: float, hi: float, neutral: float) -> torch.Tensor:
        value = _uniform(n, lo, hi, gen, dev)
        applied = torch.rand(n, generator=gen, device=dev) < recipe.jitter_p
        return torch.where(applied, value, neutral)

    lo, hi = max(0.0, 1 - 0.8 * s), 1 + 0.8 * s
    x = (x * factor(lo, hi, 1.0).view(view)).clamp_(0, 1)
    x = torch.lerp(_gray(x).mean(dim=(2, 3), keepdim=True), x, factor(lo, hi, 1.0).view(view)).clamp_(0, 1)
    x = torch.lerp(_gray(x), x, factor(lo, hi, 1.0).view(view)).clamp_(0, 1)
    hue = _uniform(n, -0.2 * s, 0.2 * s, gen, dev)
    applied = (torch.rand(n, generator=gen, device=dev) < recipe.jitter_p).view(view)
    return torch.where(applied, shift_hue(x, hue.view(n, 1, 1)), x)


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
    """Two independent random views of a uint8 batch (N, H, W, 3), drawn from `gen` (seed it to replay them)."""
    x = to_float(images_uint8, channels_last=False)
    return augment(x, recipe, gen), augment(x, recipe, gen)
