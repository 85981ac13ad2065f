"""BYOL through the real Snakefile: the shared tiny project (conftest) trains a BYOL run on the imbalanced split
beside the SimCLR runs, embeds the online backbone, projector and predictor of its source and OOD data sets, and every
analysis table that reads runs reads them (the claims read the model generically)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm.analysis.claims.runs import C5_MIN_GROWTH

RUN_TABLES = ("training", "norm_vs_ood", "knn_buckets", "knn_spearman", "human_buckets", "human_spearman",
              "class_metrics", "minority_majority")


def test_byol_runs_train_embed_and_feed_every_analysis(finished):
    root = finished.workdir
    runs = pd.read_csv(root / "results/runs.tsv", sep="\t")
    byol = runs[runs.model == "byol"]
    assert byol.dataset.tolist() == ["synthimb"]
    for run_id in byol.run_id:
        metrics = pd.read_csv(root / "results/runs" / run_id / "metrics.tsv", sep="\t")
        assert metrics.predictor_norm_mean.notna().all() and metrics.knn_acc.notna().all()
        npzs = list((root / "results/runs" / run_id / "embeddings").glob("*.npz"))
        assert len(npzs) == 4
        for npz in npzs:
            with np.load(npz) as z:
                assert {"backbone", "projector", "predictor"} <= set(z.files)
    for name in RUN_TABLES:
        table = pd.read_csv(root / f"results/tables/{name}.tsv", sep="\t")
        assert not table.empty, name
        if "model" in table:
            assert "byol" in set(table.model), name
    claims = pd.read_csv(root / "results/tables/claims.tsv", sep="\t")
    read = claims[claims.claim.isin(["C5", "C7", "C8", "C9"])]
    assert len(read) == 4 and read.verdict.isin(["supported", "not supported", "inconclusive"]).all(), read.to_string()
    assert read[read.verdict == "inconclusive"].reason.notna().all(), read.to_string()
    # C5 reads every unmitigated run, the BYOL ones with the SimCLR ones: all are named, and its verdict follows their
    # norm growth in the training table
    unmitigated = runs[runs.mitigation == "none"]
    c5 = claims[claims.claim == "C5"].iloc[0]
    assert c5.n == f"{len(unmitigated)} unmitigated runs (byol, simclr)", c5.to_string()
    assert all(r in c5.value for r in unmitigated.run_id), c5.to_string()
    training = pd.read_csv(root / "results/tables/training.tsv", sep="\t")
    grew = (training.set_index("run_id").loc[unmitigated.run_id, "norm_growth"] > C5_MIN_GROWTH).all()
    assert c5.verdict == ("supported" if grew else "not supported"), c5.to_string()
