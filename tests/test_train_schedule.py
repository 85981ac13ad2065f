"""The learning-rate schedules at chosen steps, against their formulas; the SimSiam predictor's constant lr."""

from __future__ import annotations

import math

import pytest
import torch

from embnorm.train.optim import set_learning_rates
from embnorm.train.schedule import lr_at

PEAK, T, W, FLOOR = 0.6, 1001, 100, 1e-3  # T - W - 1 = 900, so the cosine's midpoint is step W + 450


@pytest.mark.parametrize("step,expected", [
    (0, PEAK / W),                                   # the first step already moves
    (49, PEAK * 50 / W),
    (W - 1, PEAK),                                   # peak at the last warm-up step
    (W, PEAK),                                       # the cosine starts at the peak
    (W + 450, PEAK * (FLOOR + (1 - FLOOR) * 0.5)),   # cosine midpoint
    (W + 225, PEAK * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi / 4)))),
    (T - 1, PEAK * FLOOR),                           # the last step
])
def test_paper_schedule(step, expected):
    assert lr_at(step, PEAK, T, W, FLOOR, "paper") == pytest.approx(expected, rel=1e-12)


def test_paper_schedule_is_applied_once_and_is_monotone():
    lrs = [lr_at(s, PEAK, T, W, FLOOR) for s in range(T)]
    assert max(lrs) == pytest.approx(PEAK)
    assert all(a <= b for a, b in zip(lrs[:W], lrs[1:W]))
    assert all(a >= b for a, b in zip(lrs[W:], lrs[W + 1:]))


@pytest.mark.parametrize("step,expected", [
    (0, 0.0),                                        # the authors' warm-up starts at lr 0
    (W // 2, PEAK * PEAK * 0.5),
    (W, PEAK * PEAK),                                # peak 0.6 * 0.6 = 0.36: the lr applied twice
    (W + 1, PEAK * (FLOOR + (PEAK - FLOOR) * 0.5 * (1 + math.cos(math.pi * (W + 1) / T)))),  # cosine over all of T
    (T, PEAK * FLOOR),
])
def test_authors_double_schedule(step, expected):
    assert lr_at(step, PEAK, T, W, FLOOR, "authors_double") == pytest.approx(expected, rel=1e-12)


def test_authors_double_peak_values_quoted_in_the_reference():
    assert lr_at(W, 0.6, T, W, FLOOR, "authors_double") == pytest.approx(0.36)
    assert lr_at(W, 0.1, T, W, FLOOR, "authors_double") == pytest.approx(0.01)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_at(0, PEAK, T, W, FLOOR, "lambda")


@pytest.mark.parametrize("mode", ["paper", "authors_double"])
def test_predictor_lr_is_constant_and_encoder_follows_the_schedule(mode):
    enc, pred = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [enc], "name": "encoder"}, {"params": [pred], "name": "predictor", "fixed_lr": True}], lr=1.0)
    params = {"lr": PEAK, "warmup_epochs": 10, "lr_floor": FLOOR, "lr_schedule": mode}
    steps_per_epoch, total = 10, 1001
    for step in (0, 37, 99, 500, 1000):
        set_learning_rates(opt, params, step, total, steps_per_epoch)
        assert opt.param_groups[0]["lr"] == lr_at(step, PEAK, total, 100, FLOOR, mode)
        assert opt.param_groups[1]["lr"] == PEAK
