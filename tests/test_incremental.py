"""Incremental re-runs: after each kind of edit, `snakemake -n` plans exactly the jobs that the edit affects.

The shared tiny project (conftest) is built through profiles/local, with two pretend GPUs; on a copy of it, every test
edits the config or the code and compares the dry-run's job list with the exact expected one. The expected jobs
downstream of a change are named through Snakemake's own `--forcerun` of the changed thing, so the tests stay exact
when analysis rules are added; the per-run jobs are spelled out.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import (PROJECT_CONFIG, REPO, RUN, SCHEMA, Workflow, deployed, project_config, project_copy,
                      project_runs)

RUN_A = RUN  # SimCLR without mitigation on synth
RUN_B = "simclr-sgd-cut-synth-small-s0"  # the project's one run with cut-initialization
JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")


def planned(wf: Workflow, *args: str) -> list[str]:
    """The jobs of a dry run, as `rule` or `rule[wildcards]`, sorted; the `all` target is left out."""
    jobs, rule = [], None
    for line in wf.run("-n", *args).stdout.splitlines():
        if match := JOB.match(line):
            rule = match.group(1)
            jobs.append(rule)
        elif rule and line.strip().startswith("wildcards:"):
            jobs[-1] = f"{rule}[{line.split(':', 1)[1].strip()}]"
        elif not line.strip():
            rule = None
    return sorted(job for job in jobs if job != "all")


def run_jobs(run: str, baseline: bool) -> list[str]:
    """The per-run jobs of one run: its parameters, its training and its embeddings (one job per dataset: synth and
    its OOD partner synth_ood), and for a baseline run (no mitigation) those of its encoder at initialisation."""
    embed = ["embed", "embed_init"] if baseline else ["embed"]
    return sorted([f"run_params[run={run}]", f"train[run={run}]",
                   *(f"{rule}[run={run}, dataset={dataset}]" for rule in embed for dataset in ("synth", "synth_ood"))])


def is_per_run(job: str) -> bool:
    return "run=" in job


@pytest.fixture(scope="module")
def copied(finished, tmp_path_factory) -> Workflow:
    """A copy of the finished project, with Snakemake's records of its jobs (which the tests here edit)."""
    return deployed(project_copy(finished, tmp_path_factory.mktemp("incremental")))


@pytest.fixture
def wf(copied) -> Workflow:
    """The finished project with its original config back (each test edits it)."""
    copied.write_config(project_config())
    yield copied
    copied.write_config(project_config())


def test_runs_tsv_lists_every_run_with_its_resolved_hyperparameters(wf):
    from embnorm import io

    table = pd.read_csv(wf.workdir / "results/runs.tsv", sep="\t")
    assert sorted(table.run_id) == project_runs()
    for run in table.run_id:
        params = io.read_json(wf.workdir / f"results/runs/{run}/params.json")
        row = table.set_index("run_id").loc[run]
        assert row["epochs"] == params["epochs"] and row["cut"] == params["cut"] and row["lr"] == params["lr"]
    assert set(table.columns) >= {"model", "optimizer", "mitigation", "dataset", "seed", "lr", "weight_decay", "cut"}


def test_the_workstation_profile_gave_each_gpu_job_one_gpu(finished):
    """Every train, embed and embed_init job of the build (Snakemake's job stats) claimed one of the two GPUs, and
    no other job did."""
    claims = re.findall(r"gpu-shell: GPU (\d+) ", finished.log.stderr)
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", finished.log.stdout + finished.log.stderr, re.M))
    assert len(claims) == sum(int(stats[rule]) for rule in ("train", "embed", "embed_init")) > 0
    assert set(claims) <= {"0", "1"}


def test_changing_one_runs_hyperparameter_reruns_that_run_and_the_aggregates(wf):
    downstream = planned(wf, "--forcerun", f"results/runs/{RUN_A}/params.json")
    config = project_config()
    config["overrides"] = {RUN_A: {"epochs": 3}}
    wf.write_config(config)
    jobs = planned(wf)
    assert [j for j in jobs if is_per_run(j)] == run_jobs(RUN_A, baseline=True)
    assert jobs == downstream
    assert {"runs_table", "norm_vs_ood", "norm_growth"} <= set(jobs)
    assert not [j for j in jobs if j.startswith(("prepare_dataset", "human_labels", "imbalanced_split", "simulate"))]


def test_a_mitigation_setting_reruns_only_the_runs_that_use_it(wf):
    config = project_config()
    config["mitigations"]["cut"]["cut"] = 4
    wf.write_config(config)
    assert [j for j in planned(wf) if is_per_run(j)] == run_jobs(RUN_B, baseline=False)


def test_adding_a_run_adds_only_its_jobs_and_the_aggregates(wf):
    aggregates = [j for j in planned(wf, "--forcerun", f"results/runs/{RUN_A}/params.json") if not is_per_run(j)]
    config = project_config()
    config["include"].append({"model": "simclr", "optimizer": "adam", "mitigation": "none", "dataset": "synth",
                              "seed": 0})
    wf.write_config(config)
    assert planned(wf) == sorted(run_jobs("simclr-adam-none-synth-small-s0", baseline=True) + aggregates)


def test_changing_analysis_code_reruns_only_the_analyses(wf, tmp_path, monkeypatch):
    """The package is copied, one analysis module edited, and the copy put first on PYTHONPATH."""
    analyses = re.findall(r"^rule (\w+):", (REPO / "workflow/rules/analysis.smk").read_text(), re.M)
    expected = planned(wf, "--forcerun", *analyses)
    shutil.copytree(REPO / "src/embnorm", tmp_path / "embnorm", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert planned(wf) == [], "an identical copy of the code triggers nothing"
    with open(tmp_path / "embnorm/analysis/common.py", "a") as f:
        f.write("\nEDITED = True\n")
    jobs = planned(wf)
    assert set(analyses) <= set(jobs), "every analysis rule must carry params.code=ANALYSIS_CODE"
    assert jobs == expected
    assert not [j for j in jobs if is_per_run(j) or j.startswith(("prepare_dataset", "human_labels"))]



def test_workflow_and_audit_agree_that_a_docstring_edit_is_no_code_change(wf, tmp_path, monkeypatch):
    """Both judge code by `provenance.code_digest`/`file_digest` (syntax tree without docstrings): a docstring edit to
    an analysis module re-runs nothing and leaves the audit clean; a code edit re-runs the analyses and the audit calls
    their outputs stale, naming the module."""
    shutil.copytree(REPO / "src/embnorm", tmp_path / "embnorm", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    module = tmp_path / "embnorm/analysis/common.py"
    source = module.read_text()
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    module.write_text(source.replace(docstring, docstring + "\n\nAn edited docstring.", 1))

    def audit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "embnorm.cli", "audit", "results", "--config", PROJECT_CONFIG,
                               "--schema", str(SCHEMA)], cwd=wf.workdir, capture_output=True, text=True, timeout=300)

    assert planned(wf) == []
    proc = audit()
    assert proc.returncode == 0 and "stale" not in proc.stdout, proc.stdout + proc.stderr

    module.write_text(module.read_text() + "\nEDITED = True\n")
    assert [job for job in planned(wf) if not is_per_run(job)], "a code edit re-runs the analyses"
    proc = audit()
    assert proc.returncode == 1 and "stale" in proc.stdout and "analysis/common.py" in proc.stdout, proc.stdout
