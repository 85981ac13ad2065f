"""Learning-rate schedules, evaluated once per optimizer step from the step index alone (so resuming needs no state).

`paper` (default): linear warm-up, then cosine decay to a floor,

    lr(s) = peak * (s + 1) / W                                        for s < W
    lr(s) = peak * (floor + (1 - floor) * (1 + cos(pi * (s - W) / (T - W - 1))) / 2)   for W <= s < T

so the first step already moves, the peak is reached at the last warm-up step, and the last step uses peak * floor.

`authors_double`: the authors' code (`get_lr` inside `LambdaLR`). `get_lr` returns an absolute lr and LambdaLR
multiplies it by the optimizer's lr once more, so the lr is applied twice:

    g(s) = peak * s / W                                               for s <= W   (step 0 has lr 0)
    g(s) = floor + (peak - floor) * (1 + cos(pi * s / T)) / 2           for s > W    (cosine over the whole run)
    lr(s) = peak * g(s)

with the authors' absolute floor lr_min = 1e-3, which is `floor` here (so the last lr is peak * floor in both modes).
It exists only to match the authors' numbers (SimCLR peak 0.6 * 0.6 = 0.36).
"""

from __future__ import annotations

import math

MODES = ("paper", "authors_double")


def paper_factor(step: int, total_steps: int, warmup_steps: int, floor: float) -> float:
    """lr(step) / peak of the `paper` schedule, in [floor, 1]."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps - 1)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def authors_get_lr(step: int, total_steps: int, warmup_steps: int, lr_max: float, lr_min: float) -> float:
    """The authors' `CLA.utils.utils.get_lr`, verbatim in behaviour (an absolute lr)."""
    if step > warmup_steps:
        return lr_min + (lr_max - lr_min) * 0.5 * (1 + math.cos(step / total_steps * math.pi))
    return lr_max * step / warmup_steps if warmup_steps else lr_max


def lr_at(step: int, peak: float, total_steps: int, warmup_steps: int, floor: float, mode: str = "paper") -> float:
    """The learning rate of optimizer step `step` (0-based) of a run of `total_steps` optimizer steps."""
    if mode == "paper":
        return peak * paper_factor(step, total_steps, warmup_steps, floor)
    if mode == "authors_double":
        return peak * authors_get_lr(step, total_steps, warmup_steps, peak, floor)
    raise ValueError(f"lr_schedule must be one of {MODES}, got '{mode}'")
