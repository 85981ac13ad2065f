"""The analyses that classify by kNN (C8's leave-one-out correctness, the per-class test accuracy) use the source train
split as the bank: an imbalanced run's samples are classified against its balanced parent's full train split, not
against the subset it trained on, while the samples read (their norms) stay the run's own."""

from __future__ import annotations

import numpy as np

from embnorm.analysis import buckets, mitigation
from helpers.analysis import as_run, params, write_embeddings

LABELS = np.repeat([0, 1, 2, 3], 10)
TRAINED_ON = ~np.isin(np.arange(40), range(32, 40))  # the subset keeps 2 of class 3's 10 images


def features(labels, seed):
    """Class c near axis c; class 3 leans towards class 2, so with few class-3 images in the bank class 2 wins."""
    rng = np.random.default_rng(seed)
    centres = np.eye(4)
    centres[3, 2] = 0.5
    return centres[labels] + 0.01 * rng.standard_normal((len(labels), 4))


def imbalanced_run(tmp_path, monkeypatch):
    """k = 5 with nearly uniform votes (t = 100): a class-3 sample has 1 other class-3 image in the subset (so it is
    outvoted by class 2) but 9 in the parent's split."""
    monkeypatch.chdir(tmp_path)
    p = params("imb", dataset="toyimb", imbalanced=True, knn_k=5, knn_temperature=100.0)
    write_embeddings(p, "train", features(LABELS, 0), LABELS, TRAINED_ON)
    write_embeddings(p, "test", features(LABELS, 1), LABELS)
    return as_run(p)


def test_leave_one_out_correctness_of_an_imbalanced_run_uses_the_parent_bank(tmp_path, monkeypatch):
    run = imbalanced_run(tmp_path, monkeypatch)
    table, _ = buckets.knn_buckets([run], "projector", buckets=4, k=5, min_count=1, resamples=100)
    assert set(table.n) == {int(TRAINED_ON.sum())}  # the samples read are the 32 the run trained on
    assert set(table.overall_accuracy) == {1.0}  # with the subset as the bank, class 3's two samples were wrong


def test_loo_with_queries_predicts_the_masked_rows_against_every_row():
    feats, mask = features(LABELS, 0), TRAINED_ON
    got = buckets.loo_knn_correct(feats, LABELS, k=5, temperature=100.0, queries=mask)
    assert len(got) == mask.sum() and got.all()
    subset_only = buckets.loo_knn_correct(feats[mask], LABELS[mask], k=5, temperature=100.0)
    assert not subset_only[LABELS[mask] == 3].any()  # the failure the parent bank removes
    assert np.array_equal(buckets.loo_knn_correct(feats, LABELS, 5, 100.0, queries=np.ones(40, bool)),
                          buckets.loo_knn_correct(feats, LABELS, 5, 100.0))


def test_the_class_table_of_an_imbalanced_run_uses_the_parent_bank(tmp_path, monkeypatch):
    classes = mitigation.class_table([imbalanced_run(tmp_path, monkeypatch)], "projector")
    assert classes.n_train.tolist() == [10, 10, 10, 2]  # norms and counts stay those of the trained-on rows
    assert (classes.test_knn_acc == 1.0).all()
