"""Fig. 4 buckets on constructed inputs with known answers: exact edges and counts, rising and flat curves, the
leave-one-out kNN, and the per-run table from fake run artifacts (including the imbalanced `trained_on` filter)."""

from __future__ import annotations

import numpy as np
import pytest

from embnorm import io, paths
from embnorm.analysis import buckets as bk
from embnorm.analysis.common import Run


def test_normalizations_are_exact():
    n = np.array([2.0, 4.0, 8.0, 10.0])
    assert np.allclose(bk.normalize(n, "max"), [0.2, 0.4, 0.8, 1.0])
    assert np.allclose(bk.normalize(n, "minmax"), [0.0, 0.25, 0.75, 1.0])
    assert np.all(bk.normalize(np.full(5, 3.0), "minmax") == 0)
    with pytest.raises(ValueError):
        bk.normalize(n, "median")


def test_bucket_edges_and_counts_are_exact():
    # every edge k/20 opens bucket k; 1.0 closes the last bucket; values inside fall where expected
    edges = np.arange(21) / 20
    idx = bk.bucket_index(edges, 20)
    assert idx.tolist() == list(range(20)) + [19]
    values = np.r_[edges, 0.0249, 0.0251, 0.999, 0.5 - 1e-12]
    table = bk.bucket_table(values, np.ones_like(values), 20, min_count=2)
    assert np.allclose(table.lo, np.arange(20) / 20) and np.allclose(table.hi, np.arange(1, 21) / 20)
    expected = np.ones(20, int)
    expected[0] += 2  # 0.0249, 0.0251
    expected[19] += 2  # 1.0 and 0.999
    expected[9] += 1  # just below 0.5
    assert table["count"].tolist() == expected.tolist()
    assert table["plotted"].tolist() == (expected >= 2).tolist()
    assert table["count"].sum() == len(values)


def test_norms_built_to_predict_correctness_give_rising_buckets():
    rng = np.random.default_rng(0)
    norms = rng.uniform(1, 10, 4000)
    correct = rng.uniform(size=4000) < (norms - 1) / 9  # P(correct) rises linearly with the norm
    table = bk.bucket_table(bk.normalize(norms, "minmax"), correct, 20, min_count=10)
    drawn = table[table.plotted]
    assert len(drawn) == 20
    assert drawn.value.iloc[0] < 0.1 and drawn.value.iloc[-1] > 0.9
    assert np.polyfit(drawn.lo, drawn.value, 1)[0] > 0.8  # close to the built-in slope of 1


def test_equal_norms_give_a_flat_line():
    rng = np.random.default_rng(1)
    correct = rng.uniform(size=500) < 0.6
    for method in ("max", "minmax"):
        table = bk.bucket_table(bk.normalize(np.full(500, 7.0), method), correct, 20, min_count=10)
        drawn = table[table.plotted]
        assert len(drawn) == 1 and drawn["count"].iloc[0] == 500
        assert drawn.value.iloc[0] == pytest.approx(correct.mean())


def test_leave_one_out_knn_never_votes_for_itself():
    rng = np.random.default_rng(2)
    centres = np.eye(4)[:, :3] * 10
    labels = np.repeat(np.arange(3), 20)
    feats = centres[:, :3][labels] + rng.normal(0, 0.1, (60, 3))
    feats = np.c_[feats, np.zeros(60)]
    assert bk.loo_knn_correct(feats, labels, k=5, temperature=0.1).all()
    # a class with one sample cannot be recovered once the sample itself is left out
    labels_single = labels.copy()
    labels_single[0] = 3
    correct = bk.loo_knn_correct(feats, labels_single, k=5, temperature=0.1)
    assert not correct[0] and correct[1:].all()


def write_run(run_id, n=200, *, dataset="toy", imbalanced=False, seed=0, rng=None, predictive=True, classes=4):
    """params.json and ID train/test embeddings of a fake run (cwd = a temporary project root)."""
    rng = rng or np.random.default_rng(seed)
    params = {"run_id": run_id, "model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": dataset,
              "seed": seed, "weight_decay": 1e-6, "cut": 1.0, "gradscale": 0.0, "lr": 0.1, "imbalanced": imbalanced,
              "source": "toy", "ood": None, "knn_temperature": 0.1, "knn_k": 10}
    io.write_json(paths.fmt(paths.RUN_PARAMS, run=run_id), params)
    for split in ("train", "test"):
        labels = np.repeat(np.arange(classes), n // classes)
        centres = np.eye(classes, 8) * 3
        noise = rng.normal(0, 1.0, (len(labels), 8))
        feats = centres[labels] + noise
        if predictive:  # samples close to their class centre (kNN-correct) get large norms
            closeness = -np.linalg.norm(noise, axis=1)
            scale = 1 + 4 * (closeness - closeness.min()) / (closeness.max() - closeness.min())
        else:
            scale = np.full(len(labels), 2.0)
        feats = feats / np.linalg.norm(feats, axis=1, keepdims=True) * scale[:, None]
        trained_on = np.ones(len(labels), bool)
        if imbalanced and split == "train":
            trained_on[labels == classes - 1] = False
        io.write_npz(paths.fmt(paths.RUN_EMBEDDINGS, run=run_id, dataset="toy", split=split),
                     projector=feats.astype(np.float32), projector_norm=np.linalg.norm(feats, axis=1),
                     backbone=feats.astype(np.float32), backbone_norm=np.linalg.norm(feats, axis=1),
                     labels=labels.astype(np.int64), original_index=np.arange(len(labels)), trained_on=trained_on)
    return Run(params, embeddings=paths.fmt(paths.RUN_EMBEDDINGS_DIR, run=run_id))


def test_knn_buckets_over_fake_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = [write_run(f"r{s}", seed=s) for s in range(2)] + [write_run("imb", dataset="toyimb", imbalanced=True)]
    table, stats = bk.knn_buckets(runs, "projector", buckets=20, k=10, min_count=5, resamples=200)
    assert set(table.normalization) == {"max", "minmax"}
    # every trained-on sample is counted once per normalisation; the imbalanced run drops its last class
    counts = table.groupby(["run_id", "normalization"])["count"].sum()
    assert counts["r0", "max"] == 200 and counts["imb", "minmax"] == 150
    by_dataset = stats.set_index("dataset")
    assert by_dataset.loc["toy", "n_seeds"] == 2 and by_dataset.loc["toy", "n_samples"] == 400
    assert by_dataset.loc["toy", "rho"] > 0 and by_dataset.loc["toy", "rho_ci_lo"] > 0
    assert by_dataset.loc["toyimb", "n_classes"] == 3


def test_unpredictive_norms_give_a_correlation_whose_ci_covers_zero(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    run = write_run("flat", n=400, predictive=False, rng=rng)
    arrays = io.read_npz(paths.fmt(paths.RUN_EMBEDDINGS, run="flat", dataset="toy", split="train"))
    noise = rng.uniform(0.9, 1.1, len(arrays["labels"]))  # norms unrelated to anything
    arrays["projector_norm"] = (arrays["projector_norm"] * noise).astype(np.float32)
    io.write_npz(paths.fmt(paths.RUN_EMBEDDINGS, run="flat", dataset="toy", split="train"), **arrays)
    _, stats = bk.knn_buckets([run], "projector", buckets=20, k=10, min_count=5, resamples=300)
    assert stats.rho_ci_lo.iloc[0] < 0 < stats.rho_ci_hi.iloc[0]
