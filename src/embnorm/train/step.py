"""One optimizer step: micro-batches of two augmented views, the gradient of their mean loss, one update.

Nothing here synchronizes the host with the device: the data order is a device tensor, the augmentation runs on the
device from a seeded device generator, and the loss comes back as a device tensor. On CUDA, `prefetched` prepares
the next step's views on a side stream while the current step's forward and backward run on the main one, so the
augmentation no longer sits serially in front of the model. Example:

    for step, views in prefetched(lambda s: list(micro_batches(images, order, s, ...)), range(steps), device):
        optimizer_step(model, optimizer, views, accumulate, device, amp)
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, TypeVar

import torch

from embnorm import seeding
from embnorm.train.augment import AugmentRecipe, two_views


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


Views = TypeVar("Views")


class _SideStream:
    """Where the prefetcher runs its work: a CUDA side stream, or on CPU the caller's own thread, in order, with the
    same calls, so that the look-ahead logic is the same and testable everywhere."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.main = torch.cuda.current_stream(device)
            self.side = torch.cuda.Stream(device)
            self.side.wait_stream(self.main)  # the images and the epoch's order were written on the main stream

    def run(self, make: Callable[[int], Views], step: int):
        """Enqueue make(step) on the side stream; returns its result and the event that marks its end."""
        if not self.cuda:
            return make(step), None
        with torch.cuda.stream(self.side):
            views = make(step)
        return views, self.side.record_event()

    def hand_over(self, views, event) -> None:
        """Make the main stream wait for `views` and tell the allocator that the main stream now uses them."""
        if not self.cuda:
            return
        self.main.wait_event(event)
        for tensor in _tensors(views):
            tensor.record_stream(self.main)


def _tensors(views) -> Iterator[torch.Tensor]:
    if isinstance(views, torch.Tensor):
        yield views
    else:
        for item in views:
            yield from _tensors(item)


def prefetched(make: Callable[[int], Views], steps: Iterable[int], device: torch.device,
               ahead: bool | None = None) -> Iterator[tuple[int, Views]]:
    """Yields (step, make(step)) for each step in order. With `ahead` (default: on CUDA only), make(step + 1) is
    launched before step `step` is handed out, on a side stream on CUDA, so it overlaps the consumer's work on
    step `step`; the values are the same either way, because make(step) depends on the step index alone."""
    steps = list(steps)
    if not (device.type == "cuda" if ahead is None else ahead):
        for step in steps:
            yield step, make(step)
        return
    stream = _SideStream(device)
    pending = stream.run(make, steps[0]) if steps else None
    for i, step in enumerate(steps):
        views, event = pending
        stream.hand_over(views, event)
        pending = stream.run(make, steps[i + 1]) if i + 1 < len(steps) else None
        yield step, views


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
