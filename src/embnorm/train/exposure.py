"""Decay exposure: how much a run's weight decay shrinks the weights by itself, and the decay that gives a target.

With SGD, coupled weight decay λ and momentum m, each optimizer step t subtracts lr_t · λ · w from the velocity;
once the momentum buffer has built up, that is a shrinkage of lr_t · λ / (1 − m) per step. Over a run the weights
therefore shrink, from decay alone, by about exp(−E) with the decay exposure

    E = Σ_t lr_t · λ / (1 − m)        (t over the run's optimizer steps).

A weight-decay sweep is informative only where E differs visibly between its steps: a sweep 0 → 1e-6 that changes
E by 0.0002 predicts a 0.02 % change of the norm, far below seed noise. The amended reading of the claims (C13,
paper-reference §7.1, the amended reading of 2026-12-02) therefore picks each model's sweep by exposure, at E ≈ 0.1, 1
and 3 beside λ = 0. E is linear in λ, so the λ for a target exposure is target · (1 − m) / Σ_t lr_t.

The learning rates are those of the scheduled parameter groups, from the repository's own schedule
(`embnorm.train.schedule.lr_at`, as `train.optim.set_learning_rates` applies it). A group that keeps a fixed lr
(SimSiam's predictor) sees peak lr · λ / (1 − m) per step instead. This is SGD's exposure: Adam's L2 term is divided
by the gradient's running scale, so it has no such closed form, and the helpers refuse it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from embnorm.train.schedule import lr_at

DEFAULT_TARGETS = (0.1, 1.0, 3.0)


def _lr_sum(lrs: Iterable[float], momentum: float) -> float:
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    return float(np.sum(np.asarray(list(lrs), np.float64)))


def decay_exposure(weight_decay: float, lrs: Iterable[float], momentum: float) -> float:
    """E = Σ_t lr_t · λ / (1 − m): the decay exposure of weight decay λ over steps with learning rates `lrs`.

    Decay alone shrinks the weights by about exp(−E). Constant lr 0.1, momentum 0.9, 100 steps: E = 100 λ.

    >>> round(decay_exposure(1e-3, [0.1] * 100, 0.9), 12)  # 100 * 0.1 * 1e-3 / 0.1
    0.1
    >>> round(float(np.exp(-decay_exposure(1e-2, [0.1] * 100, 0.9))), 4)  # weights kept from decay alone
    0.3679
    """
    return _lr_sum(lrs, momentum) * weight_decay / (1 - momentum)


def weight_decay_for_exposure(target: float, lrs: Iterable[float], momentum: float) -> float:
    """The weight decay λ whose decay exposure over `lrs` is `target`: λ = target · (1 − m) / Σ_t lr_t.

    >>> round(weight_decay_for_exposure(1.0, [0.1] * 100, 0.9), 12)  # 1 * 0.1 / (100 * 0.1)
    0.01
    """
    total = _lr_sum(lrs, momentum)
    if total <= 0:
        raise ValueError("the learning rates sum to zero: no weight decay reaches a positive exposure")
    return target * (1 - momentum) / total


def warmup_steps(params: dict, steps_per_epoch: int | None = None) -> int:
    """The run's warm-up in optimizer steps: `warmup_steps` when the params give it (not None), else
    `warmup_epochs` × `steps_per_epoch` (optimizer steps per epoch, after gradient accumulation)."""
    if params.get("warmup_steps") is not None:
        return int(params["warmup_steps"])
    if steps_per_epoch is None:
        raise ValueError("the params give the warm-up in epochs (warmup_epochs); pass steps_per_epoch to convert it")
    return int(params["warmup_epochs"] * steps_per_epoch)


def schedule_lrs(params: dict, total_steps: int, steps_per_epoch: int | None = None) -> np.ndarray:
    """The lr of each of the run's `total_steps` optimizer steps, from `lr_at` with the run's peak (`lr`), floor
    (`lr_floor`), schedule mode (`lr_schedule`) and warm-up (`warmup_steps`)."""
    warmup = warmup_steps(params, steps_per_epoch)
    return np.array([lr_at(step, params["lr"], total_steps, warmup, params["lr_floor"], params["lr_schedule"])
                     for step in range(total_steps)], np.float64)


def sweep_for_exposures(params: dict, total_steps: int, steps_per_epoch: int | None = None,
                        targets: Iterable[float] = DEFAULT_TARGETS) -> dict[float, float]:
    """{target exposure: weight decay} for an SGD run with these params (momentum `sgd_momentum`), over
    `total_steps` optimizer steps of its schedule. λ = 0 (E = 0) is the sweep's other end and is not listed."""
    if params.get("optimizer", "sgd") != "sgd":
        raise ValueError(f"decay exposure has a closed form for SGD only, not '{params['optimizer']}'")
    lrs = schedule_lrs(params, total_steps, steps_per_epoch)
    return {float(t): weight_decay_for_exposure(t, lrs, params["sgd_momentum"]) for t in targets}
