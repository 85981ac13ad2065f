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

A run's length (`Budget`) is `train.epochs` whole epochs, or, with `train.steps`, the fewest whole epochs that hold at
least that many optimizer steps, so that a small (derived, imbalanced) dataset trains as many steps as its parent.
The warm-up is `warmup_steps` optimizer steps when set, else `warmup_epochs` epochs. `knn_epochs` is the set of
epochs at which the monitor evaluates kNN accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("paper", "authors_double")
EPSILON = 1e-9  # fractions of a step count such as 0.3 * 100 = 30.000000000000004 round to the step they name


@dataclass(frozen=True)
class Budget:
    """A run's length: whole epochs of `steps_per_epoch` optimizer steps, and the warm-up in optimizer steps."""

    steps_per_epoch: int
    epochs: int
    warmup_steps: int

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs


def warmup_steps_of(params: dict, steps_per_epoch: int) -> int:
    """The warm-up in optimizer steps: `warmup_steps` when set, else `warmup_epochs` whole epochs."""
    if params.get("warmup_steps") is not None:
        return int(params["warmup_steps"])
    return params["warmup_epochs"] * steps_per_epoch


def budget(params: dict, steps_per_epoch: int) -> Budget:
    """The run's budget on a dataset of `steps_per_epoch` optimizer steps per epoch: `epochs` epochs, or with `steps`
    ceil(steps / steps_per_epoch) epochs (every step of an epoch is taken, so the run gets at least `steps`)."""
    steps = params.get("steps")
    epochs = params["epochs"] if steps is None else math.ceil(steps / steps_per_epoch)
    return Budget(steps_per_epoch, epochs, warmup_steps_of(params, steps_per_epoch))


def first_epoch_reaching(fraction: float, run: Budget) -> int:
    """The first epoch (>= 1) at whose end the completed optimizer steps reach `fraction` of the run's steps."""
    target = fraction * run.total_steps - EPSILON
    return max(1, min(run.epochs, math.ceil(target / run.steps_per_epoch)))


def knn_epochs(params: dict, run: Budget) -> frozenset[int]:
    """Epochs at which kNN accuracy is evaluated: epoch 0 and the last, and between them every `knn_every` epochs or,
    with `knn_fractions`, the first epoch whose cumulative steps reach each fraction of the run's steps."""
    fractions = params.get("knn_fractions")
    if fractions is None:
        between = range(0, run.epochs + 1, params["knn_every"])
    else:
        between = (first_epoch_reaching(f, run) for f in fractions)
    return frozenset({0, run.epochs, *between})


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
