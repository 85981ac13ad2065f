"""Provenance and `embnorm audit`, on the artifacts of the tiny project that the workflow tests share (conftest).

Tests that change files work on a copy of the finished project (a few MB), so they cannot disturb each other.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_CONFIG, REPO, RUN, SCHEMA, deployed, project_config, project_copy, project_runs
from embnorm import audit, cli, config, io, paths, provenance


def run_audit(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embnorm.cli", "audit", paths.RESULTS, "--config", PROJECT_CONFIG,
                           *args], cwd=root, capture_output=True, text=True, timeout=300)


def findings(root: Path, cfg_path: Path | None = None) -> dict[str, audit.Finding]:
    cfg = audit.load_config([cfg_path or root / PROJECT_CONFIG])
    return {f.path: f for f in audit.audit(root / paths.RESULTS, cfg)}


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# ---- a finished run is clean, and every artifact is recorded ----

def test_finished_workflow_audits_clean(finished):
    proc = run_audit(finished.workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = provenance.read_manifest(finished.workdir / paths.MANIFEST)
    assert re.search(rf"^{len(rows) + 1} artifacts: {len(rows) + 1} ok$", proc.stdout, re.M), proc.stdout


def test_manifest_records_every_artifact(finished):
    root = finished.workdir
    rows = {row["path"]: row for row in provenance.read_manifest(root / paths.MANIFEST)}
    assert set(rows) == audit.disk_artifacts(root)[0] - {paths.MANIFEST}
    run_ids = {row["run_id"] for row in rows.values() if row["run_id"]}
    params = {r: io.read_json(root / paths.fmt(paths.RUN_PARAMS, run=r)) for r in run_ids}
    assert sorted(params) == project_runs()
    for path, row in rows.items():
        assert row["sha256"] == io.sha256(root / path) and int(row["bytes"]) == (root / path).stat().st_size
        assert row["rule"] and row["command"], row
        assert re.fullmatch(r"[0-9a-f]{40}|unknown", row["git_commit"])
        assert row["git_dirty"] in ("true", "false", "unknown")
        assert re.fullmatch(r"[0-9a-f]{16}", row["params_hash"]) and re.fullmatch(r"[0-9a-f]{16}", row["code_hash"])
        assert all(row[k] for k in ("torch", "torchvision", "numpy", "embnorm", "snakemake", "python", "host"))
        assert row["device"].startswith(("cpu: ", "cuda: ")) and row["start"] <= row["end"]
        if row["run_id"]:
            assert path.startswith(f"results/runs/{row['run_id']}/")
            assert row["params_hash"] == config.params_hash(params[row["run_id"]])
    run = sorted(params)[0]
    assert rows[paths.fmt(paths.RUN_CHECKPOINT, run=run)]["rule"] == "train"
    assert rows[paths.fmt(paths.RUN_EMBEDDINGS, run=run, dataset="synth", split="test")]["rule"] == "embed"
    assert rows["resources/datasets/synth/train/images.npy"]["rule"] == "prepare_dataset"
    assert rows[paths.fmt(paths.TABLE, name="norm_vs_ood")]["rule"] == "norm_vs_ood"
    state = io.load_torch(root / paths.fmt(paths.RUN_CHECKPOINT, run=run))
    assert state["params_hash"] == rows[paths.fmt(paths.RUN_CHECKPOINT, run=run)]["params_hash"]


def test_record_lists_inputs_code_and_sibling_outputs(finished):
    root = finished.workdir
    record = provenance.read_record(provenance.record_path(root, paths.fmt(paths.RUN_CHECKPOINT, run=RUN)))
    inputs = {entry["path"]: entry["sha256"] for entry in record["inputs"]}
    assert inputs[paths.fmt(paths.RUN_PARAMS, run=RUN)] == io.sha256(root / paths.fmt(paths.RUN_PARAMS, run=RUN))
    assert "resources/datasets/synth/train/images.npy" in inputs
    assert set(record["outputs"]) == {paths.fmt(paths.RUN_CHECKPOINT, run=RUN), paths.fmt(paths.RUN_METRICS, run=RUN)}
    assert "train/loop.py" in record["code_files"] and "provenance.py" not in record["code_files"]
    assert record["args"]["command"] == "train" and record["run_id"] == RUN


def test_json_output_is_machine_readable(finished):
    proc = run_audit(finished.workdir, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["summary"]["ok"] == len(report["artifacts"]) > 20
    assert {a["status"] for a in report["artifacts"]} == {"ok"}
    checkpoint = next(a for a in report["artifacts"] if a["path"].endswith("checkpoint.pt"))
    assert checkpoint["rule"] == "train" and checkpoint["run_id"] and checkpoint["sha256_recorded"]


def test_snakemake_audit_target(finished, tmp_path):
    proc = finished.run("audit", "--cores", "1")
    assert "artifacts:" in proc.stdout + proc.stderr
    bad = deployed(project_copy(finished, tmp_path))
    flip_byte(bad.workdir / "resources/datasets/synth/test/labels.npy")
    proc = bad.run("audit", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert re.search(r"^modified +resources/datasets/synth/test/labels\.npy", proc.stdout + proc.stderr, re.M)


def test_audit_and_manifest_are_planned_as_they_should(workflow):
    workflow.write_config(project_config())
    planned = workflow.planned_jobs()
    assert planned["manifest"] == 1 and "audit" not in planned


# ---- each kind of damage is caught and names the artifact ----

@pytest.mark.parametrize("artifact", [
    "results/runs/{run}/checkpoint.pt", "results/runs/{run}/metrics.tsv",
    "results/runs/{run}/embeddings/synth-test.npz",
    "resources/datasets/synth/train/images.npy", "resources/splits/synthimb/indices.npy",
    "results/tables/norm_vs_ood.tsv", "results/figures/norm_growth.png", "results/runs.tsv", paths.MANIFEST,
])
def test_flipped_byte_is_caught_and_named(project, artifact):
    artifact = artifact.format(run=RUN)
    flip_byte(project / artifact)
    proc = run_audit(project)
    assert proc.returncode == 1
    assert re.search(rf"^modified +{re.escape(artifact)} ", proc.stdout, re.M), proc.stdout
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("embnorm audit: error: ")


def test_modified_params_make_everything_made_from_them_stale(project):
    flip_byte(project / paths.fmt(paths.RUN_PARAMS, run=RUN))
    found = findings(project)
    assert found[paths.fmt(paths.RUN_PARAMS, run=RUN)].status == "modified"
    checkpoint = found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)]
    assert checkpoint.status == "stale" and "params.json is modified" in checkpoint.detail
    assert found[paths.fmt(paths.TABLE, name="norm_vs_ood")].status == "stale"  # through the embeddings, transitively
    other = next(run for run in project_runs() if run != RUN)
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=other)].status == "ok"


def test_missing_artifact(project):
    (project / paths.fmt(paths.RUN_METRICS, run=RUN)).unlink()
    found = findings(project)
    assert found[paths.fmt(paths.RUN_METRICS, run=RUN)].status == "missing"
    assert found[paths.fmt(paths.TABLE, name="training")].status == "stale"


def test_deleting_results_keeps_the_prepared_data_recorded(project):
    """`make clean` deletes results/ only: the records of resources/ live beside them, so the data stay ok."""
    shutil.rmtree(project / paths.RESULTS)
    (project / paths.RESULTS).mkdir()
    found = findings(project)
    assert found["resources/datasets/synth/train/images.npy"].status == "ok"
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].status == "missing"


def test_orphans_and_leftover_temporary_files(project):
    (project / "results/tables/by_hand.tsv").write_text("a\tb\n1\t2\n")
    (project / "results/runs" / RUN / ".checkpoint.pt.tmp-4242").write_bytes(b"partial")
    found = findings(project)
    assert found["results/tables/by_hand.tsv"].status == "orphan"
    leftover = found[f"results/runs/{RUN}/.checkpoint.pt.tmp-4242"]
    assert leftover.status == "orphan" and "killed" in leftover.detail


def test_config_changes_make_artifacts_stale_or_missing(project):
    cfg = project_config()
    cfg["train"]["epochs"] = 3
    cfg["grid"]["seed"] = [0, 1]
    changed = project / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    found = findings(project, changed)
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].status == "stale"
    assert "made with other params: epochs 2 -> 3" in found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].detail
    assert found["resources/datasets/synth/train/images.npy"].status == "ok"
    new_run = RUN.replace("-s0", "-s1")
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=new_run)].status == "missing"
    assert found[paths.fmt(paths.RUN_EMBEDDINGS, run=new_run, dataset="synth_ood", split="test")].status == "missing"

    cfg = project_config()
    cfg["datasets"]["synth"]["synthetic"]["n_train"] = 300
    cfg["include"] = []  # the runs on synthimb leave
    changed.write_text(yaml.safe_dump(cfg))
    found = findings(project, changed)
    assert found["resources/datasets/synth/train/images.npy"].status == "stale"
    assert "datasets.synth changed" in found["resources/datasets/synth/train/images.npy"].detail
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].status == "stale"  # trained on the old data
    dropped = next(r for r in (p.name for p in (project / "results/runs").iterdir()) if "synthimb" in r)
    assert "not in the current config" in found[paths.fmt(paths.RUN_PARAMS, run=dropped)].detail


@pytest.mark.parametrize("key, artifact", [
    ("analysis.layer", "results/tables/norm_vs_ood.tsv"), ("analysis.buckets", "results/tables/knn_buckets.tsv"),
    ("analysis.knn_k", "results/tables/knn_spearman.tsv"),
    ("analysis.min_bucket_count", "results/tables/knn_buckets.tsv"),
    ("analysis.bucket_normalization", "results/tables/knn_buckets.tsv"),
    ("analysis.min_bucket_count_human", "results/tables/human_buckets.tsv"),
    ("analysis.bootstrap", "results/tables/claims.tsv"),
    ("analysis.simulation_epochs", "results/simulations/imbalance_norms.tsv"),
    ("analysis.simulation_runs", "results/simulations/imbalance_density.tsv"),
    ("seed", "results/simulations/gradients.tsv"),
])
def test_a_changed_analysis_setting_makes_the_aggregates_that_used_it_stale(project, key, artifact):
    """Every option audit.AGGREGATE_OPTIONS maps: the workflow really sets it from that key, and a change is seen."""
    assert set(audit.AGGREGATE_OPTIONS.values()) >= {tuple(key.split("."))}
    cfg = audit.load_config([project / PROJECT_CONFIG])
    *parents, leaf = key.split(".")
    section = cfg
    for part in parents:
        section = section[part]
    old = section[leaf]
    section[leaf] = {"projector": "backbone", "max": "minmax"}[old] if isinstance(old, str) else old + 1
    found = {f.path: f for f in audit.audit(project / paths.RESULTS, cfg)}
    assert found[artifact].status == "stale" and f"made with {key} = {old!r}" in found[artifact].detail
    if key != "seed":  # the top-level seed also seeds the runs
        assert found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].status == "ok"
    if key == "analysis.layer":  # `analyze growth` parses a --layer default it does not use: not a setting
        assert found["results/tables/training.tsv"].status == "ok"


def test_every_config_set_aggregate_option_is_covered():
    covered = {("analysis", k) for k in ("layer", "buckets", "knn_k", "min_bucket_count", "bucket_normalization",
                                         "min_bucket_count_human", "bootstrap", "simulation_epochs",
                                         "simulation_runs")} | {("seed",)}
    assert set(audit.AGGREGATE_OPTIONS.values()) == covered


def test_a_changed_set_of_runs_makes_the_aggregates_stale(project):
    cfg = project_config()
    cfg["grid"]["seed"] = [0, 1]
    changed = project / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    found = findings(project, changed)
    table = found[paths.fmt(paths.TABLE, name="norm_vs_ood")]
    assert table.status == "stale" and "another set of runs" in table.detail and "added" in table.detail


def test_remade_input_and_outdated_manifest(project, monkeypatch):
    params = io.read_json(project / paths.fmt(paths.RUN_PARAMS, run=RUN))
    monkeypatch.chdir(project)
    spec = json.dumps(dict(params, knn_k=7))
    assert cli.main(["params", "--spec", spec, "--out", paths.fmt(paths.RUN_PARAMS, run=RUN)]) == 0
    found = findings(project)
    assert "made with other params: knn_k 7 -> 20" in found[paths.fmt(paths.RUN_PARAMS, run=RUN)].detail
    assert "was re-made after this file" in found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].detail
    assert found[paths.MANIFEST].status == "stale" and "embnorm manifest" in found[paths.MANIFEST].detail


def test_changed_code_makes_its_artifacts_stale(project, monkeypatch):
    record_file = provenance.record_path(project, paths.fmt(paths.RUN_CHECKPOINT, run=RUN))
    record = provenance.read_record(record_file)
    record["code_files"]["train/loop.py"] = "0" * 12  # as if loop.py had other code when the checkpoint was made
    record_file.write_text(json.dumps(record))
    found = findings(project)
    assert found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].status == "stale"
    assert "train/loop.py" in found[paths.fmt(paths.RUN_CHECKPOINT, run=RUN)].detail
    assert found[paths.fmt(paths.RUN_PARAMS, run=RUN)].status == "ok"


def test_damaged_record_is_reported(project):
    record_file = provenance.record_path(project, "results/runs.tsv")
    record_file.write_text("{not json")
    found = findings(project)
    name = record_file.relative_to(project).as_posix()
    assert found[name].status == "modified" and "unreadable provenance record" in found[name].detail
    assert found["results/runs.tsv"].status == "orphan"


# ---- provenance and config loading, without a workflow ----

def test_only_finished_jobs_write_records(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = Namespace(command="demo", func=None, value=3)
    with provenance.recording(args):
        io.write_text("results/tables/demo.md", "done\n")
        io.write_text("elsewhere.txt", "not an artifact\n")
    record = provenance.read_record(provenance.record_path(tmp_path, "results/tables/demo.md"))
    assert record["outputs"] == ["results/tables/demo.md"] and record["args"] == {"command": "demo", "value": 3}
    assert record["params_hash"] == config.params_hash({"command": "demo", "value": 3})
    assert list(tmp_path.rglob("*.json")) == [provenance.record_path(tmp_path, "results/tables/demo.md")]

    with pytest.raises(RuntimeError), provenance.recording(args) as failed:
        io.write_text("results/tables/half.md", "written, then the job failed\n")
        raise RuntimeError("boom")
    assert (tmp_path / "results/tables/half.md").exists()
    assert not provenance.record_path(tmp_path, "results/tables/half.md").exists()
    io.write_text("results/tables/after.md", "written after the job ended\n")
    assert failed.written == ["results/tables/half.md"]  # an ended job hears of no more files


@pytest.mark.process  # git, asked by library code, which the tiers' rule does not read
def test_git_version_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    # the function behind the cache: the cached answer about this checkout stays for the other tests
    assert provenance.git_version.__wrapped__() == {"git_commit": "unknown", "git_dirty": "unknown"}


def test_producing_rule_from_output_patterns():
    rules = {"embed": [r"results/runs/(?P<run>.+)/embeddings(?:/.+)?$"],  # a directory output (output_patterns)
             "train": [r"results/runs/(?P<run>.+)/checkpoint\.pt$"]}
    assert provenance.producing_rule("results/runs/a-s0/embeddings/x-test.npz", rules) == "embed"
    assert provenance.producing_rule("results/runs/a-s0/checkpoint.pt", rules) == "train"
    assert provenance.producing_rule("results/other.tsv", rules) == ""


def test_audit_config_matches_the_workflows(tmp_path):
    """The audit validates the config itself; its defaults must give the run table Snakemake gives."""
    cfg = project_config()
    cfg["overrides"] = {"simclr-sgd-none-synth-small-s0": {"epochs": 3}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    ours = config.run_table(audit.load_config([tmp_path / "config.yaml"], root=REPO))
    from snakemake.utils import validate  # what common.smk calls

    theirs = yaml.safe_load((tmp_path / "config.yaml").read_text())
    validate(theirs, str(SCHEMA))
    theirs = config.run_table(theirs)
    assert [config.params_hash(r) for r in ours] == [config.params_hash(r) for r in theirs]


def test_audit_rejects_bad_configs_with_the_key(tmp_path):
    cfg = project_config()
    cfg["train"]["epochs"] = 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(config.ConfigError, match=r"^train\.epochs: 0 is less than the minimum of 1"):
        audit.load_config([tmp_path / "bad.yaml"], root=REPO)
    (tmp_path / "evil.yaml").write_text("seed: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(config.ConfigError, match="evil.yaml: not a readable YAML config"):
        audit.load_config([tmp_path / "evil.yaml"], root=REPO)
