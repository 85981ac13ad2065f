"""Statistics that cannot fool: per-sample and within-class Spearman correlations with bootstrap intervals.

A per-bucket curve can look monotonic on a model that learned nothing (shared/docs/synthetic-data-notes.md). These
statistics use every sample. Seeds enter in two ways, one per reading of the claims (paper-reference §7.1):
- pre-registered: the statistic is the mean over seeds of each seed's correlation, and its 95% CI (`{name}_ci_lo/hi`)
  resamples samples *within* each seed (pooled over seeds), with `resamples` draws. This interval reflects sampling
  noise only; the seed spread (sd, min, max over seeds) is reported beside it and can lie outside it.
- amended (2026-12-02, "seed spread inside sample CIs"): a two-level bootstrap (`{name}_ci2_lo/hi`) draws seeds with
  replacement, then samples within each drawn seed, so seed-to-seed variation is inside the interval.
Paired differences over seeds (a mitigation minus its baseline, one value per seed) get Student's t-interval.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from scipy.stats import t as student_t

CI_LEVEL = 0.95
CHUNK_ELEMENTS = 2_000_000  # resampled elements handled at once: all resamples of a small class in one call, and
                            # bounded memory for 50k-sample splits
TWO_LEVEL_STREAM = 1  # the two-level bootstrap draws from default_rng([seed, TWO_LEVEL_STREAM]), apart from `seed`'s


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


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, int]:
    """For each element, the index of its value among the sorted distinct values (equal values share a group)."""
    distinct, groups = np.unique(values, return_inverse=True)
    return groups.reshape(-1), len(distinct)


def _resample_ranks(groups: np.ndarray, n_groups: int, idx: np.ndarray) -> np.ndarray:
    """Average ranks, within each row of idx, of the resampled values (value `groups[idx]`), per original element.

    A resample's ranks need no sort: a value that the row draws c times, after b draws of smaller values, has the
    average rank b + (c + 1) / 2 (what rankdata gives ties). Returns an array (rows, n) with that rank for every
    original element (elements not drawn get one too; their count is 0, so they weigh nothing)."""
    rows = idx.shape[0]
    offsets = (np.arange(rows) * n_groups)[:, None]
    counts = np.bincount((groups[idx] + offsets).ravel(), minlength=rows * n_groups).reshape(rows, n_groups)
    below = np.cumsum(counts, axis=1) - counts
    group_rank = below + (counts + 1) / 2
    return group_rank[:, groups]


def resampled_spearman(x: np.ndarray, y: np.ndarray, idx: np.ndarray, groups=None) -> np.ndarray:
    """Spearman correlation of (x[i], y[i]) for each row i of idx, equal to spearman_rows(x[idx], y[idx]) (average
    ranks for ties, NaN where a row is constant) in O(rows * n) without sorting each resample: the ranks come from
    draw counts (`_resample_ranks`), and the Pearson correlation of the ranks is a count-weighted sum over the
    original elements. The mean rank of m draws is (m + 1) / 2 whatever the draws. `groups` may hold the tie groups
    of x and y (`_tie_groups`), computed once for many calls."""
    n = len(x)
    gx, gy = groups or (_tie_groups(x), _tie_groups(y))
    rows, m = idx.shape
    offsets = (np.arange(rows) * n)[:, None]
    weight = np.bincount((idx + offsets).ravel(), minlength=rows * n).reshape(rows, n)
    centre = (m + 1) / 2
    rx = _resample_ranks(*gx, idx) - centre
    ry = _resample_ranks(*gy, idx) - centre
    weight = weight.astype(np.float64)
    sxy = np.einsum("ij,ij,ij->i", weight, rx, ry)
    den = np.sqrt(np.einsum("ij,ij,ij->i", weight, rx, rx) * np.einsum("ij,ij,ij->i", weight, ry, ry))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, sxy / np.where(den > 0, den, 1.0), np.nan)


def _bootstrap_spearman(x, y, rng, resamples) -> np.ndarray:
    """`resamples` Spearman values of (x, y) resampled with replacement."""
    out, groups = [], (_tie_groups(x), _tie_groups(y))
    chunk = max(1, CHUNK_ELEMENTS // max(len(x), 1))
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, len(x), size=(min(chunk, resamples - start), len(x)))
        out.append(resampled_spearman(x, y, idx, groups))
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


def _percentile_ci(draws: np.ndarray) -> tuple[float, float]:
    """Central CI_LEVEL percentile interval of the finite draws; (nan, nan) if there are none."""
    finite = draws[np.isfinite(draws)]
    if not len(finite):
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
    return float(lo), float(hi)


def _two_level_draws(samples: list[dict], boot, rng, resamples: int) -> np.ndarray:
    """`resamples` draws of the mean over seeds, resampling seeds and then samples within each drawn seed.

    Draw r picks len(samples) seeds with replacement; each pick gets its own within-seed bootstrap value (a seed
    picked twice gets two independent resamples). The values are generated per seed, as many as that seed was
    picked over all draws, so the cost and memory equal those of the within-seed bootstrap (`boot` is chunked).
    """
    k = len(samples)
    picks = rng.integers(0, k, size=(resamples, k))
    values = np.empty((resamples, k), np.float64)
    for i, s in enumerate(samples):
        where = picks == i
        count = int(where.sum())
        if count:
            values[where] = boot(s, rng, count)
    return values.mean(axis=1)


def _as_arrays(sample: dict) -> dict:
    return {k: np.asarray(v) if k == "classes" else np.asarray(v, np.float64) for k, v in sample.items()}


def correlation_summary(samples: list[dict], resamples: int = 1000, seed: int = 0) -> dict:
    """Per-sample and within-class Spearman of (x, y) over seeds.

    `samples` holds one dict per seed with arrays x, y and classes. For each statistic `name` in (`rho`,
    `rho_within`) the result has:
    - `name`: the mean over seeds of each seed's value;
    - `name_ci_lo`, `name_ci_hi`: the pre-registered 95% CI, resampling samples within each seed (pooled over seeds;
      random stream `default_rng(seed)`);
    - `name_ci2_lo`, `name_ci2_hi`: the amended reading's two-level 95% CI, resampling seeds, then samples within
      each drawn seed, so that the seed spread is inside it (random stream `default_rng([seed, TWO_LEVEL_STREAM])`,
      so adding it left the pooled CI's draws unchanged). With one seed there is nothing to resample at the seed
      level and it is a within-seed bootstrap, the same procedure as the pooled CI on another random stream;
    - `name_seed_sd`, `name_seed_min`, `name_seed_max`: the spread over seeds;
    plus `n_seeds` and `n_samples`.
    """
    samples = [_as_arrays(s) for s in samples]
    rng = np.random.default_rng(seed)
    rng2 = np.random.default_rng([seed, TWO_LEVEL_STREAM])
    result = {"n_seeds": len(samples), "n_samples": int(sum(len(s["x"]) for s in samples))}
    for name, point, boot in (
        ("rho", lambda s: spearman(s["x"], s["y"]),
         lambda s, g, m: _bootstrap_spearman(s["x"], s["y"], g, m)),
        ("rho_within", lambda s: within_class_spearman(s["x"], s["y"], s["classes"]),
         lambda s, g, m: _bootstrap_within(s["x"], s["y"], s["classes"], g, m)),
    ):
        per_seed = np.array([point(s) for s in samples], np.float64)
        lo, hi = _percentile_ci(np.mean([boot(s, rng, resamples) for s in samples], axis=0))
        lo2, hi2 = _percentile_ci(_two_level_draws(samples, boot, rng2, resamples))
        result.update({name: float(np.mean(per_seed)), f"{name}_ci_lo": lo, f"{name}_ci_hi": hi,
                       f"{name}_ci2_lo": lo2, f"{name}_ci2_hi": hi2,
                       f"{name}_seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan"),
                       f"{name}_seed_min": float(np.min(per_seed)), f"{name}_seed_max": float(np.max(per_seed))})
    return result


def paired_seed_ci(differences, resamples: int | None = None, seed: int | None = None) -> tuple[float, float]:
    """95% Student's t-interval of the mean of paired per-seed differences (n - 1 degrees of freedom).

    mean +- t_{0.975, n-1} * sd / sqrt(n). A bootstrap over seeds cannot do this job: with 3 seeds the bootstrap
    means lie between the smallest and largest difference, so its interval is about [min, max] of the three, which
    covers the true mean in about 73% of draws instead of 95% ("CI above 0" meant "every seed above 0"). The
    t-interval has its nominal coverage for normal differences at any n >= 2.

    `resamples` and `seed` are accepted for callers written for the earlier bootstrap and are ignored (the interval
    is exact, not sampled). Fewer than 2 differences give (nan, nan); identical differences give (mean, mean).
    """
    d = np.asarray(differences, np.float64)
    if len(d) < 2:
        return float("nan"), float("nan")
    mean = float(d.mean())
    if np.all(d == d[0]):  # exact zero spread (np.std could leave a rounding residue)
        return mean, mean
    half = float(student_t.ppf((1 + CI_LEVEL) / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return mean - half, mean + half
