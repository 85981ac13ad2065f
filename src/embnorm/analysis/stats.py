"""Statistics that cannot fool: per-sample and within-class Spearman correlations with bootstrap intervals.

A per-bucket curve can look monotonic on a model that learned nothing (shared/docs/synthetic-data-notes.md). These
statistics use every sample. Seeds enter as in the pre-registered rules (paper-reference §7.1): the statistic is the
mean over seeds of each seed's correlation, and its 95% CI resamples samples *within* each seed (pooled over seeds),
with `resamples` draws. The seed spread (sd, min, max over seeds) is reported beside it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

CI_LEVEL = 0.95
CHUNK = 100  # bootstrap resamples ranked at once (bounded memory for 50k-sample splits)


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (x * y).sum(axis=-1) / np.where(den > 0, den, 1.0), np.nan)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row pair (average ranks for ties); NaN where a row is constant."""
    return _rowwise_pearson(rankdata(x, axis=-1), rankdata(y, axis=-1))


def spearman(x, y) -> float:
    return float(spearman_rows(np.asarray(x, np.float64)[None], np.asarray(y, np.float64)[None])[0])


def within_class_spearman(x, y, classes) -> float:
    """Mean over classes of the Spearman correlation inside each class (classes where it is undefined are skipped)."""
    x, y, classes = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(classes)
    values = [spearman(x[classes == c], y[classes == c]) for c in np.unique(classes) if (classes == c).sum() > 2]
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def _bootstrap_spearman(x, y, rng, resamples) -> np.ndarray:
    """`resamples` Spearman values of (x, y) resampled with replacement."""
    out = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, len(x), size=(min(CHUNK, resamples - start), len(x)))
        out.append(spearman_rows(x[idx], y[idx]))
    return np.concatenate(out)


def _bootstrap_within(x, y, classes, rng, resamples) -> np.ndarray:
    """Bootstrap of the within-class mean: each class resampled inside itself (class sizes kept)."""
    per_class = []
    for c in np.unique(classes):
        mask = classes == c
        if mask.sum() > 2:
            per_class.append(_bootstrap_spearman(x[mask], y[mask], rng, resamples))
    if not per_class:
        return np.full(resamples, np.nan)
    stacked = np.stack(per_class)
    finite = np.isfinite(stacked)
    with np.errstate(invalid="ignore"):
        return np.where(finite, stacked, 0.0).sum(axis=0) / finite.sum(axis=0)


def correlation_summary(samples: list[dict], resamples: int = 1000, seed: int = 0) -> dict:
    """Per-sample and within-class Spearman of (x, y) over seeds.

    `samples` holds one dict per seed with arrays x, y and classes. Returns the mean over seeds, the 95% bootstrap CI
    (resampling within each seed), and the spread over seeds, for both statistics.
    """
    rng = np.random.default_rng(seed)
    result = {"n_seeds": len(samples), "n_samples": int(sum(len(s["x"]) for s in samples))}
    for name, point, boot in (
        ("rho", lambda s: spearman(s["x"], s["y"]),
         lambda s: _bootstrap_spearman(s["x"], s["y"], rng, resamples)),
        ("rho_within", lambda s: within_class_spearman(s["x"], s["y"], s["classes"]),
         lambda s: _bootstrap_within(s["x"], s["y"], s["classes"], rng, resamples)),
    ):
        per_seed = np.array([point(s) for s in samples], np.float64)
        draws = np.mean([boot({k: np.asarray(v, np.float64) if k != "classes" else np.asarray(v)
                               for k, v in s.items()}) for s in samples], axis=0)
        finite = draws[np.isfinite(draws)]
        lo, hi = (np.quantile(finite, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2]) if len(finite)
                  else (np.nan, np.nan))
        result.update({name: float(np.mean(per_seed)), f"{name}_ci_lo": float(lo), f"{name}_ci_hi": float(hi),
                       f"{name}_seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan"),
                       f"{name}_seed_min": float(np.min(per_seed)), f"{name}_seed_max": float(np.max(per_seed))})
    return result


def paired_seed_ci(differences, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap CI of the mean of paired per-seed differences (resampling seeds)."""
    d = np.asarray(differences, np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
    return float(lo), float(hi)
