"""The untrained encoder beside the trained one: training records a digest of the weights it starts from, the embed
stage rebuilds them from the run's seed and refuses a rebuild that differs, and its `embeddings_init` folder holds the
features of that encoder with BatchNorm statistics re-estimated on the run's probe images; the confidence analyses'
tables are also computed from it, and the workflow plans it for every run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import project_config, tiny_config, validated
from embnorm import io, paths, seeding
from embnorm.analysis.registry import ANALYSES, OPTIONAL_CLAIM_TABLES
from embnorm.cli import main
from embnorm.config import role_datasets, run_table
from embnorm.data.format import read_split
from embnorm.evaluation.features import to_float
from embnorm.evaluation.initial import rebuild, state_digest
from embnorm.models import build_model
from embnorm.train import loop

INIT_TABLES = {"norm_vs_ood_init": "norm_vs_ood", "knn_spearman_init": "knn_spearman",
               "human_spearman_init": "human_spearman", "class_metrics_init": "class_metrics"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Two runs trained for one epoch by the commands, in a folder of their own: SimSiam with cut-initialization on
    balanced data (a BatchNorm-ended projector; the rebuild must apply the cut) and SimCLR on the imbalanced subset
    (the probe is drawn through its indices). The weights each run's training started from are captured on the way."""
    root = tmp_path_factory.mktemp("initial")
    config = tiny_config(epochs=1)
    config["grid"].update(model=["simsiam"], mitigation=["cut"], dataset=["synth"])
    config["include"] = [{"model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "synthimb",
                          "seed": 0}]
    config = validated(config)
    datasets = config["datasets"]
    split = {(d, s): str(root / "data" / d / s) for d in ("synth", "synth_ood") for s in ("train", "test")}
    for d in ("synth", "synth_ood"):
        assert main(["prepare", "--dataset", d, "--spec", json.dumps(datasets[d]),
                     "--train", split[d, "train"], "--test", split[d, "test"]]) == 0
    law = datasets["synthimb"]["imbalance"]
    indices = str(root / "imb/indices.npy")
    assert main(["split", "--dataset", "synthimb", "--parent", "synth", "--parent-train", split["synth", "train"],
                 "--base", str(law["base"]), "--n-max", str(law["n_max"]), "--indices", indices,
                 "--audit", str(root / "imb/audit.tsv")]) == 0
    started = {}
    build = loop.model_and_optimizer

    def capturing(params, image_size, device):
        model, optimizer = build(params, image_size, device)
        started[params["run_id"]] = copy.deepcopy(model.state_dict())
        return model, optimizer

    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # any provenance records land here
        mp.setattr(loop, "model_and_optimizer", capturing)
        for params in run_table(config):
            folder = root / "runs" / params["run_id"]
            io.write_json(folder / "params.json", params)
            extra = ["--indices", indices] if params["imbalanced"] else []
            assert main(["train", "--params", str(folder / "params.json"), "--train", split["synth", "train"],
                         "--test", split["synth", "test"], "--checkpoint", str(folder / "checkpoint.pt"),
                         "--metrics", str(folder / "metrics.tsv"), "--resume", str(folder / "resume.pt"),
                         "--threads", "1", *extra]) == 0
            splits = [split[pair] for pair in role_datasets(params).values()]
            for mode, out in (([], "embeddings"), (["--init"], "embeddings_init")):
                assert main(["embed", *mode, "--params", str(folder / "params.json"), "--checkpoint",
                             str(folder / "checkpoint.pt"), "--splits", *splits, "--out", str(folder / out),
                             "--threads", "1", *extra]) == 0
            runs[params["run_id"]] = {"params": params, "folder": folder, "splits": splits, "extra": extra}
    return {"root": root, "runs": runs, "started": started, "split": split, "indices": indices}


def checkpoint(run) -> dict:
    return io.load_torch(run["folder"] / "checkpoint.pt")


def test_the_rebuild_is_bit_identical_to_the_weights_training_started_from(project):
    for run_id, run in project["runs"].items():
        state = checkpoint(run)
        started = project["started"][run_id]
        rebuilt = rebuild(run["params"], state["image_size"]).state_dict()
        assert list(rebuilt) == list(started)
        for key in started:
            assert torch.equal(rebuilt[key], started[key].cpu()), (run_id, key)
        assert state["init_digest"] == state_digest(rebuild(run["params"], state["image_size"]))
        # the digest is of the weights before the first step, not of the trained ones
        trained = build_model(run["params"], state["image_size"])
        trained.load_state_dict(state["model"])
        assert state_digest(trained) != state["init_digest"]
    cut_run = next(r for r in project["runs"].values() if r["params"]["cut"] != 1)
    uncut = {**cut_run["params"], "cut": 1}  # a rebuild that forgot cut-initialization is another model
    assert state_digest(rebuild(uncut, 32)) != checkpoint(cut_run)["init_digest"]


def test_the_digest_sees_any_changed_bit_and_not_the_memory_layout():
    params = run_table(validated(tiny_config()))[0]
    model = rebuild(params, 32)
    digest = state_digest(model)
    assert state_digest(copy.deepcopy(model).to(memory_format=torch.channels_last)) == digest
    first = next(iter(model.state_dict().values()))
    with torch.no_grad():
        first.view(-1)[0] = torch.nextafter(first.view(-1)[0], torch.tensor(np.inf))  # one ulp
    assert state_digest(model) != digest


def embed_init(project, run, checkpoint_path: Path, out: Path) -> int:
    return main(["embed", "--init", "--params", str(run["folder"] / "params.json"), "--checkpoint",
                 str(checkpoint_path), "--splits", *run["splits"], "--out", str(out), "--threads", "1",
                 *run["extra"]])


@pytest.mark.parametrize("tamper", ["other digest", "no digest", "other seed"])
def test_a_rebuild_that_does_not_match_the_recorded_digest_is_refused(project, tmp_path, capsys, tamper):
    run_id, run = next(iter(project["runs"].items()))
    state = checkpoint(run)
    if tamper == "other digest":
        state["init_digest"] = state_digest(torch.nn.Linear(2, 2))
    elif tamper == "no digest":
        del state["init_digest"]
    else:  # the params the rebuild reads name another seed: the weights it builds are not the run's
        state["params"] = {**state["params"], "seed": state["params"]["seed"] + 1}
    bad = tmp_path / "checkpoint.pt"
    torch.save(state, bad)
    capsys.readouterr()
    assert embed_init(project, run, bad, tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and run_id in err and str(bad) in err, err
    assert ("records no digest" if tamper == "no digest" else "differ from those its training started from") in err
    assert not (tmp_path / "out").exists()


def direct_init_features(params: dict, train_images: np.ndarray, rows: np.ndarray, images: np.ndarray,
                         image_size: int) -> dict:
    """The run's initial encoder computed here from the recipe: seeded build, BatchNorm statistics of the probe (one
    batch, momentum None), then eval-mode features of `images`."""
    torch.manual_seed(seeding.derive(params["base_seed"], params["seed"], seeding.INIT))
    model = build_model(params, image_size)
    rng = np.random.default_rng(seeding.derive(params["base_seed"], params["seed"], seeding.PROBE))
    probe = train_images[rows[np.sort(rng.permutation(len(rows))[: params["probe_size"]])]]
    assert len(probe) == params["probe_size"] <= 512  # one batch: its statistics are the re-estimated ones
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model.train()(to_float(torch.from_numpy(probe)))
        feats = model.eval()(to_float(torch.from_numpy(images)))
    return {layer: feats[layer].float().numpy() for layer in model.layers}


def test_one_dataset_per_job_embeds_what_one_job_for_all_splits_does(project, tmp_path, monkeypatch, capsys):
    """The workflow embeds each dataset of a run in a job of its own (rules/embed.smk); the OOD partner's init job
    draws its probe images from the source's train split, given as --probe. Every array equals that of one job given
    all of the run's splits (the imbalanced run: its indices mark the source's train rows and draw the probe)."""
    monkeypatch.chdir(tmp_path)
    run = next(r for r in project["runs"].values() if r["params"]["imbalanced"])
    params = run["params"]
    source_train = project["split"][params["source"], "train"]
    args = ["--params", str(run["folder"] / "params.json"), "--checkpoint", str(run["folder"] / "checkpoint.pt"),
            "--threads", "1", *run["extra"]]
    ood_splits = [project["split"][params["ood"], s] for s in ("train", "test")]
    capsys.readouterr()
    assert main(["embed", "--init", *args, "--splits", *ood_splits, "--out", "refused"]) == 1
    assert "give it (--probe)" in capsys.readouterr().err and not Path("refused").exists()
    datasets = dict.fromkeys(dataset for dataset, _ in role_datasets(params).values())
    for mode, folder in (([], "embeddings"), (["--init", "--probe", source_train], "embeddings_init")):
        for dataset in datasets:
            splits = [project["split"][dataset, s] for s in ("train", "test")]
            assert main(["embed", *mode, *args, "--splits", *splits, "--out", folder]) == 0
        for dataset, split in role_datasets(params).values():
            name = paths.fmt(paths.EMBEDDING_FILE, dataset=dataset, split=split)
            alone, together = io.read_npz(Path(folder) / name), io.read_npz(run["folder"] / folder / name)
            assert sorted(alone) == sorted(together)
            for key in together:
                np.testing.assert_array_equal(alone[key], together[key], err_msg=f"{folder}/{name}: {key}")


def test_init_embeddings_are_the_initial_encoder_with_probe_statistics_and_differ_from_trained(project):
    for run_id, run in project["runs"].items():
        params, folder = run["params"], run["folder"]
        trained_files = sorted(p.name for p in (folder / "embeddings").iterdir())
        assert sorted(p.name for p in (folder / "embeddings_init").iterdir()) == trained_files
        train = read_split(project["split"][params["source"], "train"])
        rows = io.read_npy(project["indices"]) if params["imbalanced"] else np.arange(len(train.labels))
        for name in trained_files:
            init, trained = io.read_npz(folder / "embeddings_init" / name), io.read_npz(folder / "embeddings" / name)
            assert sorted(init) == sorted(trained)
            for key in ("labels", "original_index", "trained_on"):
                np.testing.assert_array_equal(init[key], trained[key])
            dataset, split = name[:-4].rsplit("-", 1)
            images = np.asarray(read_split(project["split"][dataset, split]).images)
            direct = direct_init_features(params, np.asarray(train.images), rows, images, train.image_size)
            for layer, feats in direct.items():
                np.testing.assert_allclose(init[f"{layer}_norm"], np.linalg.norm(feats, axis=1), rtol=1e-4,
                                           err_msg=f"{run_id} {name} {layer}")
                np.testing.assert_allclose(init[layer].astype(np.float32), feats, rtol=1e-2, atol=1e-3)
                assert not np.allclose(init[f"{layer}_norm"], trained[f"{layer}_norm"], rtol=1e-3), (run_id, layer)


def test_init_embeddings_of_the_probe_reproduce_the_monitors_epoch_0_norms(project):
    """The monitor's epoch-0 row measures the same encoder on the same probe images by the same BatchNorm protocol."""
    for run_id, run in project["runs"].items():
        params = run["params"]
        metrics = pd.read_csv(run["folder"] / "metrics.tsv", sep="\t")
        initial = metrics[metrics.epoch == 0].iloc[0]
        arrays = io.read_npz(run["folder"] / "embeddings_init" / f"{params['source']}-train.npz")
        rows = io.read_npy(project["indices"]) if params["imbalanced"] else np.arange(len(arrays["labels"]))
        rng = np.random.default_rng(seeding.derive(params["base_seed"], params["seed"], seeding.PROBE))
        probe = rows[np.sort(rng.permutation(len(rows))[: params["probe_size"]])]
        for layer in ("backbone", "projector"):
            assert arrays[f"{layer}_norm"][probe].mean() == pytest.approx(initial[f"{layer}_norm_mean"], rel=1e-5), \
                (run_id, layer)


def test_the_confidence_init_tables_are_declared_and_passed_to_the_claims_rule():
    analysis = ANALYSES["confidence_init"]
    assert {o.name for o in analysis.outputs.values() if o.kind == "tsv"} == set(INIT_TABLES) == set(
        OPTIONAL_CLAIM_TABLES)
    assert not any(o.claims for o in analysis.outputs.values())  # check_claims does not require them
    claims_inputs = {i.name: i for i in ANALYSES["claims"].inputs}
    assert all(name in claims_inputs and not claims_inputs[name].required for name in INIT_TABLES)
    # the settings of the four analyses whose tables it recomputes, but those that only shape their figures or their
    # other tables (normalization; default_weight_decay, of mitigation's epoch table)
    four = [a for a in ANALYSES.values() if {o.name for o in a.outputs.values()} & set(INIT_TABLES.values())]
    assert len(four) == 4
    assert {o.name for o in analysis.options} == {o.name for a in four for o in a.options} - {
        "normalization", "default_weight_decay"}


def test_confidence_init_computes_the_trained_analyses_tables_on_the_init_embeddings(project, tmp_path):
    """Each init table is what the trained analysis's command writes when given the init embeddings folders (here
    without human labels: that table is empty, as human_agreement's is)."""
    runs = list(project["runs"].values())
    given = ["--params", *(str(r["folder"] / "params.json") for r in runs),
             "--embeddings", *(str(r["folder"] / "embeddings_init") for r in runs)]
    options = ["--layer", "projector", "--buckets", "5", "--resamples", "100", "--seed", "3", "--k", "7",
               "--min-count", "2"]
    init = {name: tmp_path / f"{name}.tsv" for name in INIT_TABLES}
    outputs = [f"--{prefix}-{kind}" for prefix in ("ood", "knn", "human", "classes") for kind in ("tsv", "md")]
    files = [str(init[name]) if kind == "tsv" else str(tmp_path / f"{name}.md")
             for name in INIT_TABLES for kind in ("tsv", "md")]
    assert main(["analyze", "confidence-init", *given, *options, "--human-labels", "--human-probs",
                 *(word for pair in zip(outputs, files) for word in pair)]) == 0
    figure = ["--png", str(tmp_path / "f.png"), "--pdf", str(tmp_path / "f.pdf")]
    assert main(["analyze", "ood", *given, "--layer", "projector", "--tsv", str(tmp_path / "ood.tsv"),
                 "--md", str(tmp_path / "ood.md"), *figure]) == 0
    assert main(["knn-buckets", *given, *options, "--buckets-tsv", str(tmp_path / "b.tsv"),
                 "--buckets-md", str(tmp_path / "b.md"), "--stats-tsv", str(tmp_path / "knn.tsv"),
                 "--stats-md", str(tmp_path / "knn.md"), *figure]) == 0
    for name, theirs in (("norm_vs_ood_init", "ood.tsv"), ("knn_spearman_init", "knn.tsv")):
        pd.testing.assert_frame_equal(pd.read_csv(init[name], sep="\t"), pd.read_csv(tmp_path / theirs, sep="\t"))
    classes = pd.read_csv(init["class_metrics_init"], sep="\t")
    assert set(classes.run_id) == set(project["runs"]) and (init["human_spearman_init"]).is_file()


def test_the_workflow_writes_init_embeddings_and_tables_like_the_trained_ones(finished):
    root = finished.workdir
    baseline = baseline_ids(validated(project_config()))
    for run in baseline:
        run_dir = root / "results/runs" / run
        files = sorted(p.name for p in (run_dir / "embeddings").iterdir() if not p.name.startswith("."))
        assert sorted(p.name for p in (run_dir / "embeddings_init").iterdir() if not p.name.startswith(".")) == files
    for init, name in INIT_TABLES.items():
        ours = pd.read_csv(root / paths.fmt(paths.TABLE, name=init), sep="\t")
        theirs = pd.read_csv(root / paths.fmt(paths.TABLE, name=name), sep="\t")
        # the trained tables read the mitigated run too: its rows, or its group's (project_config's one cut run)
        theirs = theirs[theirs.run_id.isin(baseline) if "run_id" in theirs else theirs.mitigation == "none"]
        assert list(ours.columns) == list(theirs.columns) and len(ours) == len(theirs) > 0, init
    ood = pd.read_csv(root / paths.fmt(paths.TABLE, name="norm_vs_ood_init"), sep="\t")
    for r in ood[ood.role == "id_test"].itertuples():
        params = io.read_json(root / paths.fmt(paths.RUN_PARAMS, run=r.run_id))
        arrays = io.read_npz(root / paths.fmt(paths.RUN_EMBEDDINGS_INIT, run=r.run_id, dataset=params["source"],
                                              split="test"))
        assert r.mean_norm == pytest.approx(arrays["projector_norm"].astype(np.float64).mean(), rel=1e-6)
    trained = pd.read_csv(root / paths.fmt(paths.TABLE, name="norm_vs_ood"), sep="\t")
    both = ood.merge(trained, on=["run_id", "role"], suffixes=("_init", ""))
    assert len(both) == len(ood) and not np.allclose(both.mean_norm_init, both.mean_norm, rtol=1e-3)


def baseline_ids(config: dict) -> list[str]:
    """The runs the confidence claims read, computed here: no cut, no GradScale, the model's default weight decay."""
    default = {model: spec["weight_decay"] for model, spec in config["models"].items()}
    return [r["run_id"] for r in run_table(config)
            if r["cut"] == 1 and r["gradscale"] == 0 and r["weight_decay"] == default[r["model"]]]


def test_a_dry_run_plans_the_init_embeddings_of_the_baseline_runs_and_the_init_tables(workflow):
    workflow.write_config(tiny_config())
    baseline = baseline_ids(validated(tiny_config()))
    assert 0 < len(baseline) < len(run_table(validated(tiny_config())))  # the tiny config has mitigated runs too
    runs = {r["run_id"]: r for r in run_table(validated(tiny_config()))}
    embedded = {r: sorted({dataset for dataset, _ in role_datasets(runs[r]).values()}) for r in baseline}
    jobs = workflow.planned_jobs()
    assert jobs["embed_init"] == sum(map(len, embedded.values())) and jobs["confidence_init"] == 1  # per run, dataset
    out = workflow.run("-n", "-p", paths.fmt(paths.TABLE, name="claims")).stdout
    lines = out.splitlines()
    claims = next(line for line in lines if line.startswith("Shell command: embnorm claims"))
    for init in INIT_TABLES:
        assert f"--{init.replace('_', '-')} {paths.fmt(paths.TABLE, name=init)}" in claims
    init_embed = sorted(line.split("--out ")[1].split()[0] for line in lines
                        if line.startswith("Shell command: embnorm embed --init"))
    assert init_embed == sorted(paths.fmt(paths.RUN_EMBEDDINGS_INIT_DIR, run=r) for r in baseline for _ in embedded[r])
    tables = next(line for line in lines if line.startswith("Shell command: embnorm analyze confidence-init"))
    given = tables.split("--params ")[1].split(" --embeddings ")
    assert given[0].split() == [paths.fmt(paths.RUN_PARAMS, run=r) for r in baseline]
    assert given[1].split(" --")[0].split() == [paths.fmt(paths.RUN_EMBEDDINGS_INIT_DIR, run=r) for r in baseline]


def test_the_audit_expects_init_embeddings_of_the_baseline_runs_and_reads_the_declared_run_set(tmp_path):
    from embnorm.audit import Auditor

    config = validated(tiny_config())
    baseline = baseline_ids(config)
    auditor = Auditor(tmp_path, config)
    findings = {f.path for f in auditor.run()}  # an empty project: every expected file is missing
    for run in run_table(config):
        for dataset, split in role_datasets(run).values():
            path = paths.fmt(paths.RUN_EMBEDDINGS_INIT, run=run["run_id"], dataset=dataset, split=split)
            assert (path in findings) == (run["run_id"] in baseline), path
    every = [str(tmp_path / paths.fmt(paths.RUN_PARAMS, run=r["run_id"])) for r in run_table(config)]
    mine = [str(tmp_path / paths.fmt(paths.RUN_PARAMS, run=r)) for r in baseline]
    init_tables = {"command": "analyze", "what": "confidence-init"}
    assert auditor.aggregate_reason({**init_tables, "params": mine}, None) is None
    assert "made from another set of runs" in auditor.aggregate_reason({**init_tables, "params": every}, None)
    ood = {"command": "analyze", "what": "ood"}  # a trained analysis reads every run
    assert auditor.aggregate_reason({**ood, "params": every}, None) is None
    assert "made from another set of runs" in auditor.aggregate_reason({**ood, "params": mine}, None)
