"""Fig. 4 (left): kNN correctness per bucket of the normalised embedding norm, and the per-sample statistics beside it.

Protocol (paper-reference §5.2, with the choices that differ between the paper text and the authors' notebook):
- norms of the run's ID-train embeddings (layer `analysis.layer`, the projector by default), every trained sample;
- normalisation `max` (n / max n, the paper text) or `minmax` ((n - min) / (max - min), the notebook); both are
  tabulated, `analysis.bucket_normalization` picks the one drawn;
- B equal buckets of width 1/B over [0, 1]; bucket b holds b/B <= n~ < (b+1)/B, computed as floor(n~ * B), and the
  last bucket also holds n~ = 1. (The notebook's strict b < n~ < b + 0.05 drops the extreme samples and any sample
  on an edge; here every sample is counted once.);
- correctness: leave-one-out weighted kNN on the same embeddings (cosine similarity, k = `analysis.knn_k`, votes
  exp(sim / t) with the run's kNN temperature), so no sample votes for itself (the notebook let each point be its own
  nearest neighbour); the bank is the source train split (`common.load_bank`), so an imbalanced run's samples are
  classified against its balanced parent's full train split;
- a bucket is drawn when it holds at least `analysis.min_bucket_count` samples.
Beside the curve: per-sample Spearman(norm, correct) and its within-class mean (analysis/stats.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from embnorm.analysis.common import GROUP_COLUMNS, RUN_COLUMNS, Run, load_bank, norms, run_columns, trained_rows
from embnorm.analysis.stats import correlation_summary
from embnorm.evaluation.knn import knn_predict

NORMALIZATIONS = ("max", "minmax")
STAT_NAMES = tuple(f"{name}{suffix}" for name in ("rho", "rho_within")
                   for suffix in ("", "_ci_lo", "_ci_hi", "_ci2_lo", "_ci2_hi", "_seed_sd", "_seed_min", "_seed_max"))
STATS_COLUMNS = (*GROUP_COLUMNS, "measure", "runs", "n_classes", "n_seeds", "n_samples", *STAT_NAMES, "layer")
BUCKET_COLUMNS = ("bucket", "lo", "hi", "count", "value", "value_sd", "plotted", *RUN_COLUMNS, "normalization",
                  "layer", "n")


def normalize(values: np.ndarray, method: str) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if method == "max":
        return values / values.max()
    if method == "minmax":
        span = values.max() - values.min()
        return (values - values.min()) / span if span > 0 else np.zeros_like(values)
    raise ValueError(f"unknown normalization '{method}'; expected one of {NORMALIZATIONS}")


def bucket_index(normalized: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket of each normalised value in [0, 1]: floor(x * B), with x = 1 in the last bucket."""
    return np.clip(np.floor(np.asarray(normalized) * buckets).astype(np.int64), 0, buckets - 1)


def bucket_table(normalized: np.ndarray, values: np.ndarray, buckets: int, min_count: int) -> pd.DataFrame:
    """One row per bucket (empty ones included): edges, count, mean and sd of `values`, and whether it is drawn."""
    idx = bucket_index(normalized, buckets)
    values = np.asarray(values, np.float64)
    counts = np.bincount(idx, minlength=buckets)
    sums = np.bincount(idx, weights=values, minlength=buckets)
    squares = np.bincount(idx, weights=values * values, minlength=buckets)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
        var = np.where(counts > 1, (squares - counts * mean * mean) / np.maximum(counts - 1, 1), np.nan)
    return pd.DataFrame({"bucket": np.arange(buckets), "lo": np.arange(buckets) / buckets,
                         "hi": np.arange(1, buckets + 1) / buckets, "count": counts, "value": mean,
                         "value_sd": np.sqrt(np.maximum(var, 0)), "plotted": counts >= min_count})


def loo_knn_correct(features: np.ndarray, labels: np.ndarray, k: int, temperature: float,
                    queries: np.ndarray | None = None) -> np.ndarray:
    """Whether each query's leave-one-out kNN prediction (cosine, weighted votes) equals its label. The bank is every
    row of `features`; `queries` (a boolean mask over the rows, default all) picks the rows predicted, in row order."""
    feats, y = np.asarray(features, np.float32), np.asarray(labels, np.int64)
    mask = np.ones(len(y), bool) if queries is None else np.asarray(queries, bool)
    if not mask.all():  # the queries first, so that query i is bank row i (what exclude_self leaves out)
        order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
        feats, y = feats[order], y[order]
    bank, bank_labels = torch.from_numpy(feats), torch.from_numpy(y)
    n = int(mask.sum())
    pred = knn_predict(bank, bank_labels, bank[:n], k, temperature, int(y.max()) + 1, exclude_self=True)
    return (pred == bank_labels[:n]).numpy()


def bucket_rows(params: dict, norm_values: np.ndarray, values: np.ndarray, buckets: int, min_count: int,
                **extra) -> list[pd.DataFrame]:
    """Bucket tables of one run under both normalisations, with the run's columns attached."""
    frames = []
    for method in NORMALIZATIONS:
        table = bucket_table(normalize(norm_values, method), values, buckets, min_count)
        frames.append(table.assign(**run_columns(params), normalization=method, **extra))
    return frames


def group_summaries(samples: pd.DataFrame, measure: str, resamples: int, seed: int) -> pd.DataFrame:
    """Per run group: the correlation summary of (x, y) over its seeds (`samples` has run columns, x, y, classes)."""
    rows = []
    for key, frame in samples.groupby(list(GROUP_COLUMNS), sort=False, dropna=False):
        per_seed = [{"x": f.x.to_numpy(), "y": f.y.to_numpy(), "classes": f.classes.to_numpy()}
                    for _, f in frame.groupby("seed", sort=True)]
        rows.append({**dict(zip(GROUP_COLUMNS, key)), "measure": measure,
                     "runs": " ".join(sorted(frame.run_id.unique())),
                     "n_classes": int(frame.classes.nunique()),
                     **correlation_summary(per_seed, resamples, seed)})
    return pd.DataFrame(rows)


def knn_buckets(runs: list[Run], layer: str, buckets: int, k: int, min_count: int, resamples: int,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-bucket table of every run, per-group Spearman table) of kNN correctness against the norm."""
    tables, samples = [], []
    for run in runs:
        params = run.params
        bank = load_bank(run)  # an imbalanced run's samples are classified against its balanced parent's train split
        arrays = trained_rows(bank)
        n = norms(arrays, layer)
        correct = loo_knn_correct(bank[layer], bank["labels"], k, params["knn_temperature"], bank.get("trained_on"))
        tables += bucket_rows(params, n, correct, buckets, min_count, layer=layer, split="train",
                              measure="knn_correct", k=k, n=len(n), overall_accuracy=float(correct.mean()))
        samples.append(pd.DataFrame({**run_columns(params), "x": n, "y": correct.astype(np.float64),
                                     "classes": arrays["labels"]}))
    if not runs:
        return (pd.DataFrame(columns=[*BUCKET_COLUMNS, "split", "measure", "k", "overall_accuracy"]),
                pd.DataFrame(columns=STATS_COLUMNS))
    stats = group_summaries(pd.concat(samples, ignore_index=True), "knn_correct", resamples, seed)
    return pd.concat(tables, ignore_index=True), stats.assign(layer=layer, k=k)
