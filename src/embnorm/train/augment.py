"""Two-view SimCLR augmentation as batched tensor ops on the training device, each sample with its own parameters.

The recipe is the one of the authors' `get_transforms`: RandomResizedCrop(scale), horizontal flip p=0.5, separate
RandomApply(p=0.8) blocks for brightness, contrast, saturation (0.8 s each) and hue (0.2 s), grayscale p=0.2, and no
mean/std normalization. Crop and flip are one bilinear resampling (`grid_sample`) per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from embnorm.evaluation.features import to_float

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
    return F.grid_sample(x, crop_grid(w * flip, h, cx, cy, x.shape[2], x.shape[3]), mode="bilinear",
                         padding_mode="reflection", align_corners=False)


def crop_grid(sx: torch.Tensor, sy: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, height: int, width: int):
    """The sampling grid (N, H, W, 2) of the axis-aligned affine map [[sx, 0, cx], [0, sy, cy]]: what
    F.affine_grid(theta, align_corners=False) returns, built by broadcasting instead of a batched matmul with zeros
    (the pixel centres are (2 i + 1) / size - 1)."""
    n, dev = len(sx), sx.device

    def axis(size, scale, shift):
        centres = (torch.arange(size, device=dev, dtype=torch.float32) * 2 + 1) / size - 1
        return torch.addcmul(shift.view(n, 1), centres.view(1, size), scale.view(n, 1))

    gx = axis(width, sx, cx).view(n, 1, width).expand(n, height, width)
    gy = axis(height, sy, cy).view(n, height, 1).expand(n, height, width)
    return torch.stack((gx, gy), dim=3)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale (arithmetic, so no host-to-device copy inside the step)."""
    return torch.mul(x[:, 0:1], GRAY[0]).add_(x[:, 1:2], alpha=GRAY[1]).add_(x[:, 2:3], alpha=GRAY[2])


def shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue of each sample by `shift` (turns, shape (N, 1, 1)), as torchvision's adjust_hue does, without
    materializing HSV: a hue rotation keeps each pixel's max and min channel, and channel c of the result is
    min + (max - min) * clamp(d_c - 1, 0, 1), where d_c is the circular distance (period 6) between the rotated hue
    h' in sextants and the hue opposite to c (3, 5, 1 for R, G, B), i.e. HSV-to-RGB's trapezoid written without
    a modulo: h' lies in [-4, 8], so |h' - c| lies in [0, 9] and d_c = min(|h' - c|, |6 - |h' - c||)."""
    r, g, b = x.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    delta = maxc - minc
    sextant = torch.where(maxc == r, g - b, torch.where(maxc == g, b - r + 2 * delta, r - g + 4 * delta))
    sextant.mul_(delta.clamp_min(1e-12).reciprocal_()).add_(6 * shift)  # hue in sextants; gray pixels: any value
    out = torch.empty_like(x)
    for c, opposite in enumerate((3.0, 5.0, 1.0)):
        dist = (sextant - opposite).abs_()
        dist = torch.minimum(dist, dist.sub(6).abs_()).sub_(1).clamp_(0, 1)
        torch.addcmul(minc, delta, dist, out=out[:, c])
    return out


def _blend_(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's _blend in place: x <- clamp(factor * x + (1 - factor) * other, 0, 1); factor 1 leaves x exactly
    as it was. `other` is consumed (scaled in place). In-place arithmetic on a batch avoids a fresh multi-megabyte
    allocation per op, which on CPU costs more than the op itself."""
    return x.mul_(factor).add_(other.mul_(1 - factor)).clamp_(0, 1)


def _apply_to(x: torch.Tensor, picked: torch.Tensor, op, subset: bool | None = None) -> torch.Tensor:
    """x with op applied to the samples where `picked` (a bool per sample) holds; x may be changed in place (callers
    pass a tensor they own). With `subset` (default: on CPU) op runs on those samples only; else (an accelerator) it
    runs on all and a select keeps the picked ones, because picking rows would wait for the device (nonzero) in the
    middle of the step. Both give the same values."""
    if not (x.device.type == "cpu" if subset is None else subset):
        everyone = torch.arange(len(x), device=x.device)
        return torch.where(picked.view(-1, *[1] * (x.dim() - 1)), op(x, everyone), x)
    rows = picked.nonzero().squeeze(1)
    return x.index_copy_(0, rows, op(x.index_select(0, rows), rows)) if len(rows) else x


def color_jitter(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator, inplace: bool = False) -> torch.Tensor:
    """Brightness, contrast, saturation (factors in [1 - 0.8 s, 1 + 0.8 s]) and hue (shift in [-0.2 s, 0.2 s]) in
    this fixed order, each applied to a sample with probability jitter_p on its own, with torchvision's formulas
    (blend with black, with the mean gray level, with the grayscale image; clamp to [0, 1] after each). A sample that
    skips an op gets factor 1, which leaves it exactly unchanged (1 * x + 0 * other is x); the hue rotation is
    computed for the samples that draw it only. With `inplace`, x itself is transformed and returned."""
    n, dev, s = x.shape[0], x.device, recipe.strength
    view = (n, 1, 1, 1)

    def factor(lo: float, hi: float, neutral: float) -> torch.Tensor:
        value = _uniform(n, lo, hi, gen, dev)
        applied = torch.rand(n, generator=gen, device=dev) < recipe.jitter_p
        return torch.where(applied, value, neutral)

    lo, hi = max(0.0, 1 - 0.8 * s), 1 + 0.8 * s
    x = x.clone() if not inplace else x
    x.mul_(factor(lo, hi, 1.0).view(view)).clamp_(0, 1)
    _blend_(x, _gray(x).mean(dim=(2, 3), keepdim=True), factor(lo, hi, 1.0).view(view))
    _blend_(x, _gray(x), factor(lo, hi, 1.0).view(view))
    hue = _uniform(n, -0.2 * s, 0.2 * s, gen, dev)
    applied = torch.rand(n, generator=gen, device=dev) < recipe.jitter_p
    return _apply_to(x, applied, lambda part, rows: shift_hue(part, hue[rows].view(-1, 1, 1)))


def random_grayscale(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator, inplace: bool = False
                     ) -> torch.Tensor:
    """Each sample turned to its luma (all three channels) with probability gray_p. With `inplace`, x may be changed
    in place and returned (as in color_jitter)."""
    pick = torch.rand(x.shape[0], generator=gen, device=x.device) < recipe.gray_p
    return _apply_to(x if inplace else x.clone(), pick, lambda part, rows: _gray(part).expand_as(part))


def augment(x: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator) -> torch.Tensor:
    """One random view of a float batch (N, 3, H, W) in [0, 1]."""
    x = resized_crop_flip(x, recipe, gen)
    x = color_jitter(x, recipe, gen, inplace=True)  # x is the resampled copy: ours to change
    return random_grayscale(x, recipe, gen, inplace=True).contiguous(memory_format=torch.channels_last)


def two_views(images_uint8: torch.Tensor, recipe: AugmentRecipe, gen: torch.Generator):
    """Two independent random views of a uint8 batch (N, H, W, 3), drawn from `gen` (seed it to replay them)."""
    x = to_float(images_uint8, channels_last=False)
    return augment(x, recipe, gen), augment(x, recipe, gen)
