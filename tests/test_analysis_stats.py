"""The statistics beside every bucket curve: Spearman with ties, within-class means, bootstrap CIs over seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from embnorm.analysis import stats


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.uniform(size=300) < 0.3  # binary y: many ties
    assert stats.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert np.isnan(stats.spearman(x, np.ones(300)))


def test_within_class_mean_removes_a_between_class_effect():
    # within each class y falls with x, but class means make the pooled correlation positive
    x = np.r_[np.arange(10.0), np.arange(10.0) + 100]
    y = np.r_[-np.arange(10.0), -np.arange(10.0) + 100]
    classes = np.repeat([0, 1], 10)
    assert stats.spearman(x, y) > 0
    assert stats.within_class_spearman(x, y, classes) == pytest.approx(-1.0)


def test_correlation_summary_over_seeds():
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(3):
        x = rng.normal(size=400)
        samples.append({"x": x, "y": x + rng.normal(size=400), "classes": rng.integers(0, 4, 400)})
    s = stats.correlation_summary(samples, resamples=300, seed=0)
    per_seed = [stats.spearman(d["x"], d["y"]) for d in samples]
    assert s["n_seeds"] == 3 and s["n_samples"] == 1200
    assert s["rho"] == pytest.approx(np.mean(per_seed))
    assert s["rho_seed_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert s["rho_ci_lo"] < s["rho"] < s["rho_ci_hi"] and s["rho_ci_lo"] > 0.5
    assert s["rho_within_ci_lo"] < s["rho_within"] < s["rho_within_ci_hi"]


def test_paired_seed_ci():
    lo, hi = stats.paired_seed_ci([0.02, 0.03, 0.025, 0.04], resamples=500)
    assert 0.02 <= lo <= hi <= 0.04
    lo, hi = stats.paired_seed_ci([-0.05, 0.05, -0.04, 0.06], resamples=500)
    assert lo < 0 < hi
