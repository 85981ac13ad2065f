"""Leave-one-out kNN over more than one chunk of queries (the analyses' C8 path, `buckets.loo_knn_correct`), and the
monitor's kNN with a chunk boundary inside the queries, against a brute-force computation written with numpy."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from embnorm.analysis.buckets import loo_knn_correct
from embnorm.evaluation.knn import knn_predict


def brute_force(bank, bank_labels, queries, k, t, num_classes, exclude_self=False):
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    preds = []
    for i, q in enumerate(queries):
        sim = bank @ q
        if exclude_self:
            sim[i] = -np.inf
        top = np.argsort(-sim, kind="stable")[:k]
        votes = np.zeros(num_classes)
        np.add.at(votes, bank_labels[top], np.exp(sim[top] / t))
        preds.append(int(np.argmax(votes)))
    return np.array(preds)


def clustered(n, classes, dim, rng):
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, dim))
    return (centres[labels] + rng.normal(scale=1.5, size=(n, dim))).astype(np.float32), labels


@pytest.mark.parametrize("chunk", [7, 64, 1024])
def test_leave_one_out_over_several_chunks_matches_brute_force(chunk):
    rng = np.random.default_rng(1)
    feats, labels = clustered(150, 5, 8, rng)
    got = knn_predict(torch.from_numpy(feats), torch.from_numpy(labels), torch.from_numpy(feats), 10, 0.1, 5,
                      chunk=chunk, exclude_self=True).numpy()
    expected = brute_force(feats.astype(np.float64), labels, feats.astype(np.float64), 10, 0.1, 5, exclude_self=True)
    assert (got == expected).mean() >= 0.99  # float32 vs float64 may flip a near-tie
    with_self = brute_force(feats.astype(np.float64), labels, feats.astype(np.float64), 10, 0.1, 5)
    assert (with_self == labels).mean() > (expected == labels).mean()  # leaving self out matters


def test_loo_knn_correct_beyond_one_default_chunk():
    """More samples than the default chunk (several chunks): the self-exclusion must use each chunk's offset."""
    rng = np.random.default_rng(2)
    feats, labels = clustered(2100, 4, 6, rng)
    assert len(feats) > 2 * inspect.signature(knn_predict).parameters["chunk"].default
    got = loo_knn_correct(feats, labels, k=20, temperature=0.1)
    expected = brute_force(feats.astype(np.float64), labels, feats.astype(np.float64), 20, 0.1, 4,
                           exclude_self=True) == labels
    assert len(got) == 2100 and (got == expected).mean() >= 0.995
    # an independent check of the chunk offsets: a duplicated sample must not count itself
    dup = np.r_[feats, feats[1500:1501]]
    dup_labels = np.r_[labels, (labels[1500] + 1) % 4]  # the copy has another label, so a self-match would not help
    assert loo_knn_correct(dup, dup_labels, k=1, temperature=0.1)[1500] == (dup_labels[1500] == dup_labels[2100])
