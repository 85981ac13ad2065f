"""Decay exposure E = Σ lr_t · λ / (1 − m) over a run's schedule, and the weight decay for a target exposure."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from embnorm.train import exposure

PARAMS = {"optimizer": "sgd", "lr": 0.4, "lr_floor": 0.1, "lr_schedule": "paper", "warmup_epochs": 1,
          "sgd_momentum": 0.9}


def test_doctests():
    result = doctest.testmod(exposure)
    assert result.attempted >= 3 and result.failed == 0


def test_exposure_by_hand_constant_lr():
    # constant lr 0.1, m = 0.9, 100 steps: E = 100 * 0.1 * λ / 0.1 = 100 λ
    assert exposure.decay_exposure(5e-4, [0.1] * 100, 0.9) == pytest.approx(0.05)
    assert exposure.weight_decay_for_exposure(3.0, [0.1] * 100, 0.9) == pytest.approx(0.03)
    assert exposure.decay_exposure(0.0, [0.1] * 100, 0.9) == 0.0
    with pytest.raises(ValueError, match="momentum"):
        exposure.decay_exposure(1e-4, [0.1], 1.0)
    with pytest.raises(ValueError, match="sum to zero"):
        exposure.weight_decay_for_exposure(1.0, [0.0, 0.0], 0.9)


def test_warmup_cosine_schedule_by_hand():
    # paper schedule (schedule.py): lr(s) = peak (s + 1) / W for s < W, then
    # peak (floor + (1 - floor) (1 + cos(pi (s - W) / (T - W - 1))) / 2).
    # T = 7, W = 2 (1 epoch of 2 steps), peak 0.4, floor 0.1:
    # warm-up 0.2, 0.4; cosine at progress 0, 1/4, 1/2, 3/4, 1 has factors 1, 0.8536, 0.5, 0.1464, 0 (sum 2.5),
    # so lr = 0.4 (5 * 0.1 + 0.9 * 2.5) = 1.1 over the decay; Σ lr = 0.6 + 1.1 = 1.7, and E = 1.7 λ / 0.1 = 17 λ.
    lrs = exposure.schedule_lrs(PARAMS, 7, steps_per_epoch=2)
    half = (1 + math.sqrt(2) / 2) / 2
    expected = 0.4 * np.array([0.5, 1.0, 1.0, 0.1 + 0.9 * half, 0.55, 0.1 + 0.9 * (1 - half), 0.1])
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs.sum() == pytest.approx(1.7)
    assert exposure.decay_exposure(1e-2, lrs, 0.9) == pytest.approx(0.17)
    sweep = exposure.sweep_for_exposures(PARAMS, 7, 2)
    assert sweep == pytest.approx({0.1: 0.1 / 17, 1.0: 1 / 17, 3.0: 3 / 17})


def test_warmup_steps_override_epochs():
    # warmup_steps, when given, wins over warmup_epochs x steps_per_epoch; None falls back to the epochs
    assert exposure.warmup_steps({**PARAMS, "warmup_steps": 3}, 2) == 3
    assert exposure.warmup_steps({**PARAMS, "warmup_steps": None}, 5) == 5
    assert exposure.warmup_steps({**PARAMS, "warmup_epochs": 0}, 5) == 0
    with pytest.raises(ValueError, match="steps_per_epoch"):
        exposure.warmup_steps(PARAMS)
    lrs = exposure.schedule_lrs({**PARAMS, "warmup_steps": 4}, 7)
    assert lrs[:4] == pytest.approx([0.1, 0.2, 0.3, 0.4])  # peak (s + 1) / 4


def test_long_schedules_match_the_documented_formulas():
    # both modes over a longer run, with the formulas of schedule.py's docstring written out here
    total, warmup, peak, floor = 1000, 100, 0.6, 1e-3
    s = np.arange(total)
    paper = np.where(s < warmup, peak * (s + 1) / warmup,
                     peak * (floor + (1 - floor) * (1 + np.cos(np.pi * (s - warmup) / (total - warmup - 1))) / 2))
    g = np.where(s <= warmup, peak * s / warmup, floor + (peak - floor) * (1 + np.cos(np.pi * s / total)) / 2)
    params = {**PARAMS, "lr": peak, "lr_floor": floor, "warmup_epochs": 10}
    np.testing.assert_allclose(exposure.schedule_lrs(params, total, 10), paper, rtol=1e-12)
    authors = {**params, "lr_schedule": "authors_double"}
    np.testing.assert_allclose(exposure.schedule_lrs(authors, total, 10), peak * g, rtol=1e-12)
    sweep = exposure.sweep_for_exposures(authors, total, 10, targets=(0.5, 2.0))
    assert sweep[2.0] == pytest.approx(4 * sweep[0.5])  # E is linear in λ
    assert exposure.decay_exposure(sweep[2.0], peak * g, 0.9) == pytest.approx(2.0)


def test_adam_is_refused():
    with pytest.raises(ValueError, match="SGD only"):
        exposure.sweep_for_exposures({**PARAMS, "optimizer": "adam"}, 7, 2)
