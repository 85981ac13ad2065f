"""One optimizer step: micro-batches of two augmented views, the gradient of their mean loss, one update.

Nothing here synchronizes the host with the device: the data order is a device tensor, the augmentation runs on the
device from a seeded device generator, and the loss comes back as a device tensor.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch

from embnorm import seeding
from embnorm.train.augment import AugmentRecipe, two_views


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when `amp` is on; fp32 everywhere else (the CPU path stays exact and reproducible)."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def micro_batches(images: torch.Tensor, order: torch.Tensor, step: int, batch: int, accumulate: int,
                  recipe: AugmentRecipe, seed_keys: tuple[int, ...]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The `accumulate` micro-batches (x1, x2) of optimizer step `step` of an epoch. Micro-batch m takes the images
    order[(step * accumulate + m) * batch:][:batch], and its augmentations come from a generator seeded with
    (*seed_keys, step, m): a step can be replayed exactly from its index alone (the basis of exact resume)."""
    for micro in range(accumulate):
        start = (step * accumulate + micro) * batch
        gen = torch.Generator(device=images.device)
        gen.manual_seed(seeding.derive(*seed_keys, step, micro))
        yield two_views(images[order[start:start + batch]], recipe, gen)


def optimizer_step(model, optimizer: torch.optim.Optimizer, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                   accumulate: int, device: torch.device, amp: bool) -> torch.Tensor:
    """One update from `accumulate` equal micro-batches. Each micro-batch's mean loss is divided by `accumulate`
    before backward, so the gradient is that of the mean loss over the whole effective batch (the authors' code sums
    instead). Returns the sum of the micro-batch losses, detached, on the device."""
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros((), device=device)
    for x1, x2 in batches:
        with autocast(device, amp):
            loss = model.loss(x1, x2)
        (loss / accumulate).backward()
        total += loss.detach().float()
    optimizer.step()
    return total
