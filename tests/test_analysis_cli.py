"""The analysis subcommands end to end on fake run artifacts of a config that lacks most kinds of runs (no OOD partner,
no human labels, no imbalanced data, no Adam, no weight-decay sweep): every table and figure is written and the
claims check says `not measured` with a reason instead of failing. The fake runs live outside results/, in a layout
of their own: a command reads the files it is given, never a path it builds from a run id. Also: the workflow plans
every analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_config
from embnorm import io, paths
from embnorm.cli import main

RUNS = ("base", "cut")


def run_files(run_id):
    """Where the fake run's files are: not the workflow's layout (paths.RUN_*)."""
    return {"params": f"elsewhere/{run_id}.params.json", "embeddings": f"elsewhere/{run_id}-emb",
            "metrics": f"elsewhere/{run_id}.metrics.tsv"}


def given(*kinds):
    """The command-line arguments that hand the fake runs' files of these kinds to a command."""
    return [a for kind in kinds for a in (f"--{kind}", *[run_files(r)[kind] for r in RUNS])]


def fake_run(run_id, cut):
    files = run_files(run_id)
    p = {"run_id": run_id, "model": "simclr", "optimizer": "sgd", "mitigation": "cut" if cut > 1 else "none",
         "dataset": "toy", "seed": 0, "weight_decay": 1e-6, "cut": cut, "gradscale": 0.0, "lr": 0.1,
         "imbalanced": False, "source": "toy", "ood": None, "knn_k": 5, "knn_temperature": 0.1}
    io.write_json(files["params"], p)
    rng = np.random.default_rng(int(cut))
    labels = np.repeat(np.arange(3), 30)
    for split in ("train", "test"):
        feats = (np.eye(3, 6)[labels] * 3 + rng.normal(size=(90, 6))).astype(np.float32)
        norms = np.linalg.norm(feats, axis=1)
        io.write_npz(f"{files['embeddings']}/toy-{split}.npz", backbone=feats,
                     backbone_norm=norms, projector=feats, projector_norm=norms, labels=labels,
                     original_index=np.arange(90), trained_on=np.ones(90, bool))
    io.write_tsv(files["metrics"], pd.DataFrame({
        "run_id": run_id, "epoch": [0, 1, 2], "knn_acc": [0.3, 0.5 + 0.05 * (cut > 1), 0.8],
        "projector_norm_mean": [1.0 / cut, 2.0, 3.0], "projector_norm_p10": 0.5, "projector_norm_p90": 4.0,
        "knn_protocol": "test"}))


def out(name, kind="tsv"):
    return paths.fmt({"tsv": paths.TABLE, "md": paths.TABLE_MD, "png": paths.FIGURE_PNG,
                      "pdf": paths.FIGURE_PDF, "sim": paths.SIMULATION}[kind], name=name)


def expected_c3_c4(norms: pd.DataFrame, angles: pd.DataFrame) -> tuple[str, str]:
    """§7.1's C3 and C4 rules evaluated here, independently of analysis/claims: a least-squares log-log slope of
    the mean steps over r in {0.5, 1, 2, 3, 5, 10} in [1.9, 2.1] with steps(1) within 3 % of 96; scipy's Spearman of
    (initial angle, steps) >= 0.95 with more steps at the last angle than at the first."""
    from scipy.stats import spearmanr

    steps = norms.groupby("norm").steps.mean().loc[[0.5, 1.0, 2.0, 3.0, 5.0, 10.0]]
    slope = np.polyfit(np.log(steps.index.to_numpy()), np.log(steps.to_numpy()), 1)[0]
    c3 = 1.9 <= slope <= 2.1 and abs(steps.loc[1.0] - 96) <= 0.03 * 96
    angles = angles.sort_values("initial_mean_angle")
    c4 = spearmanr(angles.initial_mean_angle, angles.steps)[0] >= 0.95 and angles.steps.iloc[-1] > angles.steps.iloc[0]
    return tuple("supported" if ok else "not supported" for ok in (c3, c4))


@pytest.mark.slow  # every analysis command with its simulations, in-process
def test_analyses_of_a_sparse_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for run_id, cut in zip(RUNS, (1.0, 3.0)):
        fake_run(run_id, cut)
    wd = '{"simclr": 1e-06, "simsiam": 0.0005}'
    steps = [
        ["simulate-gradients", "--checks", out("gradients", "sim"), "--gd", out("gd_norms", "sim"),
         "--png", out("sim_gradients", "png"), "--pdf", out("sim_gradients", "pdf")],
        ["simulate-imbalance", "--epochs", "2", "--sim-runs", "2", "--trajectories", out("imbalance_norms", "sim"),
         "--density", out("imbalance_density", "sim"), "--png", out("sim_imbalance", "png"),
         "--pdf", out("sim_imbalance", "pdf")],
        ["analyze", "growth", *given("params", "metrics"), "--tsv", out("training"), "--md", out("training", "md"),
         "--png", out("norm_growth", "png"), "--pdf", out("norm_growth", "pdf")],
        ["analyze", "ood", *given("params", "embeddings"), "--tsv", out("norm_vs_ood"),
         "--md", out("norm_vs_ood", "md"), "--png", out("norm_vs_ood", "png"), "--pdf", out("norm_vs_ood", "pdf")],
        ["weight-decay", "--training", out("training"), "--tsv", out("weight_decay"), "--md", out("weight_decay", "md"),
         "--png", out("weight_decay", "png"), "--pdf", out("weight_decay", "pdf")],
        ["knn-buckets", *given("params", "embeddings"), "--k", "5", "--resamples", "100",
         "--buckets-tsv", out("knn_buckets"), "--buckets-md", out("knn_buckets", "md"),
         "--stats-tsv", out("knn_spearman"), "--stats-md", out("knn_spearman", "md"),
         "--png", out("knn_buckets", "png"), "--pdf", out("knn_buckets", "pdf")],
        ["human-agreement", *given("params", "embeddings"), "--human-labels", "--human-probs", "--resamples", "100",
         "--buckets-tsv", out("human_buckets"), "--buckets-md", out("human_buckets", "md"),
         "--stats-tsv", out("human_spearman"), "--stats-md", out("human_spearman", "md"),
         "--png", out("human_agreement", "png"), "--pdf", out("human_agreement", "pdf")],
        ["mitigation", *given("params", "embeddings", "metrics"), "--default-weight-decay", wd,
         "--epochs-tsv", out("mitigation"), "--epochs-md", out("mitigation", "md"),
         "--classes-tsv", out("class_metrics"), "--classes-md", out("class_metrics", "md"),
         "--imbalance-tsv", out("minority_majority"),
         "--imbalance-md", out("minority_majority", "md"), "--epochs-png", out("mitigation", "png"),
         "--epochs-pdf", out("mitigation", "pdf"), "--classes-png", out("class_metrics", "png"),
         "--classes-pdf", out("class_metrics", "pdf")],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    # the real convergence simulation (about 8 CPU-seconds), whose tables C3 and C4 read
    assert main(["simulate-convergence", "--norms", out("convergence_norm", "sim"),
                 "--angles", out("convergence_angle", "sim"), "--png", out("sim_convergence", "png"),
                 "--pdf", out("sim_convergence", "pdf")]) == 0
    tables = {k: out(k, "sim") for k in ("gradients", "gd_norms", "convergence_norm", "convergence_angle",
                                          "imbalance_norms", "imbalance_density")}
    tables.update({k: out(k) for k in ("training", "norm_vs_ood", "knn_spearman", "human_spearman", "class_metrics",
                                       "weight_decay")})
    argv = ["claims", *[a for k, v in tables.items() for a in (f"--{k.replace('_', '-')}", v)],
            "--default-weight-decay", wd, "--resamples", "100", "--tsv", out("claims"), "--md", out("claims", "md"),
            "--html", paths.fmt(paths.TABLE_HTML, name="claims")]
    assert main(argv) == 0
    claims = pd.read_csv(out("claims"), sep="\t").set_index("claim")
    assert claims.loc[["C1", "C2"], "verdict"].eq("supported").all()
    c3, c4 = expected_c3_c4(io.read_tsv(out("convergence_norm", "sim")), io.read_tsv(out("convergence_angle", "sim")))
    assert (claims.loc["C3", "verdict"], claims.loc["C4", "verdict"]) == (c3, c4) == ("supported", "supported")
    for claim in ("C7", "C9", "C10", "C12", "C13", "C14"):
        assert claims.loc[claim, "verdict"] == "not measured" and len(claims.loc[claim, "reason"]) > 10
    # a cut/baseline pair exists, but one seed cannot decide C11 (§7.1, amendment of 2026-11-30)
    assert claims.loc["C11", "verdict"] == "inconclusive" and "the rule needs >= 3" in claims.loc["C11", "reason"]
    html = (tmp_path / paths.fmt(paths.TABLE_HTML, name="claims")).read_text()
    assert html.count("<tr") == 15 and "not measured" in html
    for name in ("sim_gradients", "sim_imbalance", "weight_decay", "knn_buckets", "human_agreement", "mitigation",
                 "class_metrics"):
        assert (tmp_path / out(name, "png")).stat().st_size > 5000
        assert (tmp_path / out(name, "pdf")).stat().st_size > 1000


@pytest.mark.parametrize("sparse", [False, True])
def test_the_workflow_plans_every_analysis(workflow, sparse):
    config = tiny_config()
    if sparse:  # one run, no OOD partner, no human labels, no imbalanced data
        config["datasets"] = {"synth": {"source": "synthetic", "synthetic": config["datasets"]["synth"]["synthetic"]}}
        config["grid"] = {**config["grid"], "mitigation": ["none"], "dataset": ["synth"]}
        config["include"] = []
    workflow.write_config(config)
    jobs = workflow.planned_jobs()
    for rule in ("simulate_gradients", "simulate_convergence", "simulate_imbalance", "knn_buckets", "human_agreement",
                 "mitigation", "weight_decay", "claims", "norm_vs_ood", "norm_growth", "confidence_init"):
        assert jobs.get(rule) == 1, (rule, jobs)
    assert ("human_labels" in jobs) != sparse


def test_files_that_do_not_pair_up_are_a_clear_error(tmp_path, monkeypatch, capsys):
    """--embeddings and --metrics are matched to --params by position: a count that differs, or a metrics file of
    another run, is refused with one line before anything is written."""
    monkeypatch.chdir(tmp_path)
    for run_id, cut in zip(RUNS, (1.0, 3.0)):
        fake_run(run_id, cut)
    outputs = ["--tsv", "t.tsv", "--md", "t.md", "--png", "t.png", "--pdf", "t.pdf"]
    one_folder = ["--embeddings", run_files(RUNS[0])["embeddings"]]
    assert main(["analyze", "ood", *given("params"), *one_folder, *outputs]) == 1
    assert "--embeddings: 1 files for 2 --params files" in capsys.readouterr().err
    swapped = ["--metrics", *[run_files(r)["metrics"] for r in reversed(RUNS)]]
    assert main(["analyze", "growth", *given("params"), *swapped, *outputs]) == 1
    assert "rows of run(s) ['cut'], but its --params file is run 'base'" in capsys.readouterr().err
    assert not list(tmp_path.glob("t.*"))
