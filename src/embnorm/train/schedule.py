"""Learning-rate schedule: linear warm-up from 0, then cosine decay to a floor. Computed once per optimizer step.

`paper` mode gives lr(step) = peak * f(step). The authors' code passes an absolute lr to LambdaLR, which multiplies it by
the lr again; `authors_double` reproduces that (peak * peak * f(step)) only to match their numbers.
"""

from __future__ import annotations

import math


def schedule_factor(step: int, total_steps: int, warmup_steps: int, floor: float) -> float:
    """f(step) in [0, 1]: (step+1)/warmup during warm-up, then cosine from 1 to `floor` at the last step."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps - 1)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_at(step: int, peak: float, total_steps: int, warmup_steps: int, floor: float, mode: str = "paper") -> float:
    f = schedule_factor(step, total_steps, warmup_steps, floor)
    if mode == "paper":
        return peak * f
    if mode == "authors_double":
        return peak * peak * f
    raise ValueError(f"lr_schedule must be 'paper' or 'authors_double', got '{mode}'")
