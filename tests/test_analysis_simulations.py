"""Theory simulations against their known answers (paper-reference §1-2): exact float64 identities, the quadratic
slowdown (96 r^2 steps), the angle sweep, and the class-imbalance simulation's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embnorm.analysis import simulations as sim
from embnorm.analysis import simulations_imbalance as imb


def test_gradients_are_orthogonal_and_scale_as_inverse_norm():
    checks = sim.gradient_checks(n_pairs=2000, batch=100)
    assert len(checks) == 5
    assert (checks.value < 1e-12).all()  # float64 rounding level, far below the 1e-8 of the claims rule


def test_plain_gradient_descent_never_shrinks_a_norm():
    gd = sim.norm_growth_under_gd(steps=60, n=64)
    assert (gd.frac_not_decreased == 1.0).all()
    for _, frame in gd.groupby("loss"):
        assert frame.mean_norm.iloc[-1] > frame.mean_norm.iloc[0]


@pytest.mark.parametrize("r", [1, 2, 5])
def test_steps_to_converge_are_quadratic_in_the_norm(r):
    steps = sim.convergence_vs_norm(norms=(r,)).steps.iloc[0]
    assert abs(steps - 96 * r ** 2) <= 0.03 * 96 * r ** 2


def test_loglog_slope_of_an_exact_power_law():
    r = np.array([0.5, 1, 2, 3, 5, 10])
    assert sim.loglog_slope(r, 96 * r ** 2) == pytest.approx(2.0)


def test_angle_sweep_rises_towards_antipodal_pairs():
    table = sim.convergence_vs_angle(mix=(-24 / 25, 0.0, 24 / 25))
    assert table.steps.is_monotonic_increasing
    assert table.initial_mean_angle.iloc[0] < 0.1 and table.initial_mean_angle.iloc[-1] > 3.0
    assert abs(table.steps.iloc[1] - 96) <= 5  # unit norms at pi/2: the r = 1 count


def test_imbalance_simulation_bookkeeping():
    trajectories, density = imb.imbalance_simulation(runs=2, epochs=2, n=400)
    assert set(trajectories.epoch) == {0, 1, 2} and set(trajectories.run) == {0, 1}
    counts = trajectories[(trajectories.epoch == 0)].groupby("run")["count"].sum()
    assert (counts == 400).all()
    final = imb.frequency_norm_order(trajectories)
    assert len(final) == 2  # its Spearman against scipy: test_claim_statistics.py
    assert len(density) == 800 and (density.knn_distance > 0).all() and (density.norm > 0).all()


def test_attract_pairs_loss_drops_samples_without_a_partner():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(5, 3, dtype=torch.float64)
    # sample 4 is alone in its class: the loss equals the mean over samples 0-3 only
    labels = torch.tensor([0, 0, 1, 1, 2])
    loss = imb.attract_pairs_loss(z, labels, gen)
    zn = torch.nn.functional.normalize(z, dim=1)
    e = torch.exp(zn @ zn.T)
    den = e.sum(1) - e.diag()
    expected = -torch.log(torch.stack([e[0, 1] / den[0], e[1, 0] / den[1], e[2, 3] / den[2], e[3, 2] / den[3]])
                          + 1e-8).mean()
    assert loss.item() == pytest.approx(expected.item())
