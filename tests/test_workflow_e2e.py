"""End to end: the real Snakefile on the shared tiny project (conftest), every stage; a rerun does nothing. The report
is built and checked by tests/test_module_deploy.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from conftest import project_runs


def test_every_stage_produced_its_artifacts(finished):
    root = finished.workdir
    runs = pd.read_csv(root / "results/runs.tsv", sep="\t")
    assert sorted(runs.run_id) == project_runs()
    for run_id in runs.run_id:
        run_dir = root / "results/runs" / run_id
        state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
        assert state["params"]["run_id"] == run_id
        metrics = pd.read_csv(run_dir / "metrics.tsv", sep="\t")
        assert metrics.epoch.tolist() == list(range(state["params"]["epochs"] + 1))
        assert metrics.projector_norm_mean.notna().all() and metrics.knn_acc.iloc[-1] > 0
        assert not (run_dir / "resume.pt").exists()
        for npz in (run_dir / "embeddings").glob("*.npz"):
            with np.load(npz) as z:
                assert len(z["labels"]) == len(z["projector"]) == len(z["original_index"])
                assert np.allclose(z["projector_norm"], np.linalg.norm(z["projector"].astype(np.float32), axis=1),
                                   rtol=1e-3)
    ood = pd.read_csv(root / "results/tables/norm_vs_ood.tsv", sep="\t")
    assert set(ood.role) == {"id_train", "id_test", "ood_train", "ood_test"}
    assert np.allclose(ood[ood.role == "id_train"].ratio_to_id_train, 1.0)
    for name in ("norm_vs_ood", "norm_growth"):
        assert (root / f"results/figures/{name}.png").stat().st_size > 1000
        assert (root / f"results/figures/{name}.pdf").stat().st_size > 1000


def test_second_run_has_nothing_to_do(finished):
    proc = finished.run("-n", "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr
