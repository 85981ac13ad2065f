"""benchmarks/gpu_check.py without a GPU: every evidence check passes on the saved example of a good run and fails
on saved bad evidence (tests/data/gpu_check/README.md says where each file comes from), its verdicts quote the
runs' own numbers, and the runner keeps time limits, prerequisites and the summary."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "gpu_check"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gc = load_script()
RULES = gc.gpu_rules(REPO)


def example(name: str, results: str | None = None):
    """The saved evidence of one example: its logs, and its results (or another example's)."""
    return gc.Evidence(DATA / name, DATA / (results or name) / "results")


@pytest.fixture
def passing(tmp_path) -> gc.Evidence:
    """The passing example, with what a finished run also leaves and the repository does not store: the report
    (4 MiB for the tiny study: here a small HTML file) and the tarball the collect step packs."""
    out = tmp_path / "pass"
    shutil.copytree(DATA / "pass", out)
    (out / "results" / "report.html").write_text("<!DOCTYPE html>\n<html><body>Snakemake report</body></html>\n")
    assert gc.collect(["--results", str(out / "results"), "--out", str(out)]) == 0
    return gc.Evidence(out, out / "results")


# each check, and the saved evidence on which it must fail
CHECKS = [
    (gc.installed, example("fail")),
    (gc.gpu_facts, example("fail")),
    (functools.partial(gc.train_speed_on_gpu, step="bench-eager"), example("fail")),
    (functools.partial(gc.train_speed_on_gpu, step="bench-compile"), example("fail")),
    (gc.speed_on_gpu, example("fail")),
    (gc.monitor_on_gpu, example("fail")),
    (gc.workflow_finished, example("fail")),
    (functools.partial(gc.gpu_jobs_through_gpu_shell, rules=RULES), example("no-profile")),
    (functools.partial(gc.gpu_jobs_on_cuda, rules=RULES), example("fail")),
    (gc.one_gpu_job_at_a_time, example("pass", results="overlap")),
    (gc.runs_trained, example("fail")),
    (gc.claims_decided, example("fail")),
    (gc.report_written, example("fail")),
    (gc.audit_clean, example("fail")),
    (gc.collected, example("overlap")),
    (functools.partial(gc.preset_estimate, full_epochs=200), example("fail")),
]
IDS = [f"{gc.check_name(c)}-{getattr(c, 'keywords', {}).get('step', '')}".rstrip("-") for c, _ in CHECKS]


@pytest.mark.parametrize("check", [c for c, _ in CHECKS], ids=IDS)
def test_check_passes_on_a_good_run(check, passing):
    verdict = check(passing)
    assert verdict.ok, verdict.reason
    assert verdict.reason and "\n" not in verdict.reason


@pytest.mark.parametrize("check, bad", CHECKS, ids=IDS)
def test_check_fails_on_bad_evidence(check, bad):
    verdict = check(bad)
    assert not verdict.ok, verdict.reason
    assert verdict.reason and "\n" not in verdict.reason


def test_every_check_of_the_plan_is_tested():
    """A check added to the plan without a failing example here would go untested."""
    args = gc.parse_args(["--preset", "cifar-gpu"])
    planned = {gc.check_name(c) for steps in (gc.plan(gc.parse_args([])), gc.plan(args)) for s in steps
               for c in s.checks}
    assert planned == {gc.check_name(c) for c, _ in CHECKS}


def test_verdicts_quote_the_runs_numbers(passing):
    """The reasons are read from the logs and results, not written in the script."""
    assert gc.train_speed_on_gpu(passing, "bench-eager").reason.startswith(
        "full step 23,526 img/s, 85.4% of the model-only ceiling (27,550); 2.1 s per 50,000-image epoch")
    assert "67.1% of the model-only ceiling (35,789)" in gc.train_speed_on_gpu(passing, "bench-compile").reason
    assert gc.speed_on_gpu(passing).reason == (
        "knn/floor 1.17 (2 threads) 1.16 (1 thread CPU); aug/PIL 6.2x (2 workers) 8.2x (per CPU second); "
        "step/ceiling 68.4%; 2.04 s/epoch; knn/floor on GPU 1.15")
    assert gc.gpu_facts(passing).reason.startswith("NVIDIA H200 (capability 9.0, 140 GiB), torch 2.11.0+cu130")
    assert "resnet18 0.007 ms per probe image, training 0.040 ms per image" in gc.monitor_on_gpu(passing).reason
    assert gc.workflow_finished(passing).reason == "18 of 18 steps (100%) done in 0:03:18"
    assert gc.gpu_jobs_through_gpu_shell(passing, RULES).reason.startswith(
        "3 GPU jobs (train 1, embed 1, embed_init 1), each through gpu-shell on GPU 0")
    assert gc.gpu_jobs_on_cuda(passing, RULES).reason == "3 of 3 planned GPU jobs finished, on cuda: NVIDIA H200"
    assert "kNN accuracy 0.213 at init, 0.200 at the end" in gc.runs_trained(passing).reason
    assert gc.claims_decided(passing).reason.startswith("14 claims: 5 supported, 1 not supported, 3 inconclusive")
    assert gc.audit_clean(passing).reason == "87 artifacts: 87 ok"
    # the metrics' median seconds per epoch (1.098 s) times 198 missing epochs, plus the measured 202.8 s
    estimate = gc.preset_estimate(passing, 200).reason
    assert "1 run(s) of 2 epochs took 203 s; the full 200 epochs: about 7.0 min" in estimate


def test_failures_say_why():
    assert gc.gpu_facts(example("fail")).reason == "CUDA: not available"
    assert gc.train_speed_on_gpu(example("fail"), "bench-eager").reason == "no gpu preset measured (only cpu)"
    assert gc.monitor_on_gpu(example("fail")).reason == "measured on cpu (AMD EPYC), not on CUDA"
    assert gc.workflow_finished(example("fail")).reason == "1 job(s) failed: rule train"
    assert gc.gpu_jobs_through_gpu_shell(example("no-profile"), RULES).reason == \
        "1 GPU jobs (train 1) but 0 gpu-shell lines"
    assert gc.gpu_jobs_on_cuda(example("fail"), RULES).reason == "3 of 3 GPU jobs ran off CUDA: cpu: AMD EPYC"
    assert gc.one_gpu_job_at_a_time(example("overlap")).reason.startswith("1 overlap(s) on the one GPU")
    assert gc.runs_trained(example("fail")).reason == \
        "1 run(s) without a finished metrics.tsv: simclr-sgd-none-tiny-small-s0"
    assert gc.audit_clean(example("fail")).reason == "87 artifacts: 86 ok, 1 modified"
    assert gc.preset_estimate(example("fail"), 200).reason == "no finished workflow to extrapolate from"


def test_limits_of_size_and_time(passing):
    assert not gc.collected(passing, limit=100).ok
    verdict = gc.preset_estimate(passing, full_epochs=100_000)  # 100,000 epochs at 1.1 s each: over the hour
    assert not verdict.ok and "over 60 min" in verdict.reason


def test_collected_needs_the_run_table(tmp_path):
    shutil.copytree(DATA / "overlap" / "results", tmp_path / "results")
    assert gc.collect(["--results", str(tmp_path / "results"), "--out", str(tmp_path)]) == 0
    verdict = gc.collected(gc.Evidence(tmp_path, tmp_path / "results"))
    assert not verdict.ok and "lacks results/runs.tsv" in verdict.reason


def test_collect_leaves_out_checkpoints_and_copies_the_report(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(DATA / "pass" / "results", results)
    (results / "runs" / "simclr-sgd-none-tiny-small-s0" / "checkpoint.pt").write_bytes(b"weights")
    (results / "report.html").write_text("<html></html>")
    out = tmp_path / "out"
    out.mkdir()
    assert gc.collect(["--results", str(results), "--out", str(out)]) == 0
    with tarfile.open(out / "results_small.tar.gz") as tar:
        names = tar.getnames()
    assert "results/runs.tsv" in names and "results/tables/claims.tsv" in names
    assert not [n for n in names if n.endswith((".pt", "report.html"))]
    assert (out / "report.html").read_text() == "<html></html>"


# ---- the plan ----

def test_the_gpu_rules_are_the_profiles():
    assert RULES == ("train", "embed", "embed_init")


def test_plan_default_and_preset(monkeypatch):
    monkeypatch.delenv("EMBNORM_GPUS", raising=False)
    default = gc.plan(gc.parse_args([]))
    assert [s.name for s in default] == ["install", "facts", "bench-eager", "speed", "monitor", "workflow", "report",
                                         "audit", "collect", "bench-compile"]
    workflow = next(s for s in default if s.name == "workflow")
    assert workflow.command[:1] == ("snakemake",) and "profiles/local" in workflow.command
    assert workflow.env == {"EMBNORM_GPUS": "0"}  # the one GPU of a lent machine, for profiles/local/gpu-shell

    args = gc.parse_args(["--preset", "cifar-gpu", "--skip", "monitor", "--limit", "workflow=400", "--out", "/x"])
    preset = gc.plan(args)
    assert [s.name for s in preset] == ["install", "facts", "speed", "workflow", "report", "audit", "collect"]
    workflow = next(s for s in preset if s.name == "workflow")
    assert workflow.budget_s == 400
    assert workflow.command[-3:] == ("config.yaml", "config/cifar-gpu.yaml", "/x/logs/cifar-gpu-check.yaml")
    assert "preset_estimate" in map(gc.check_name, workflow.checks)
    audit = next(s for s in preset if s.name == "audit")
    assert audit.command.count("--config") == 3  # the audit reads the same configuration as the workflow

    only = gc.plan(gc.parse_args(["--only", "facts", "workflow", "--targets", "results/runs.tsv"]))
    assert [s.name for s in only] == ["facts", "workflow"]
    assert "claims_decided" not in map(gc.check_name, only[1].checks)  # a partial workflow makes no claims table


def test_preset_overlay_without_cifar(tmp_path):
    overlay = yaml.safe_load(gc.preset_overlay(tmp_path, 3))
    assert overlay["train"] == {"epochs": 3, "knn_every": 1, "checkpoint_every": 3}
    assert overlay["datasets"]["cifar100"]["synthetic"]["classes"] == 100


# ---- the runner ----

def command(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def test_time_limit_sets_aside_the_later_minimums():
    step = gc.Step("a", command(""), 100, 10, ())
    later = [gc.Step("b", command(""), 50, 20, ()), gc.Step("c", command(""), 50, 30, ())]
    assert gc.time_limit(step, later, 200) == 100
    assert gc.time_limit(step, later, 120) == 70
    assert gc.time_limit(step, later, 55) is None


@pytest.mark.process  # the plan's steps are commands
def test_run_plan(tmp_path):
    def said_hello(ev):
        return gc.Verdict("hello" in ev.log("hello"), "read the log")

    def raises(ev):
        raise ValueError("unexpected evidence")

    steps = [
        gc.Step("hello", command("print('hello')"), 30, 1, (said_hello,)),
        gc.Step("fails", command("import sys; sys.exit(3)"), 30, 1, ()),
        gc.Step("after-fails", command("print('never')"), 30, 1, (), needs=("fails",)),
        gc.Step("after-absent", command("print('runs')"), 30, 1, (), needs=("install",)),  # not in this plan
        gc.Step("sleeps", command("import time; print('going to sleep', flush=True); time.sleep(60)"), 1, 1, ()),
        gc.Step("odd", command("print('x')"), 30, 1, (raises,)),
    ]
    printed = []
    rows = gc.run_plan(steps, tmp_path, tmp_path / "results", 600, dict(os.environ), printed.append, cwd=tmp_path)
    by = {(r.step, r.check): r for r in rows}
    assert by["hello", "exit"].ok and by["hello", "said_hello"].ok
    assert not by["fails", "exit"].ok and by["fails", "exit"].exit == "3"
    assert by["after-fails", "-"].exit == "skipped" and by["after-fails", "-"].reason == "needs fails"
    assert by["after-absent", "exit"].ok
    assert by["sleeps", "exit"].exit == "timeout" and by["sleeps", "exit"].seconds < 20
    assert by["odd", "raises"].reason == "ValueError: unexpected evidence" and not by["odd", "raises"].ok
    sleeps = (tmp_path / "logs" / "sleeps.log").read_text()
    assert sleeps.startswith("going to sleep\n") and "gpu_check: timed out after" in sleeps
    assert (tmp_path / "logs" / "hello.log").read_text().startswith("hello\ngpu_check: exit 0 after ")
    assert "hello" in "".join(printed)

    gc.write_summary(rows, tmp_path / "summary.tsv")
    lines = (tmp_path / "summary.tsv").read_text().splitlines()
    assert lines[0] == "step\tcheck\tverdict\texit\tseconds\treason" and len(lines) == len(rows) + 1
    table = gc.summary_table(rows)
    assert all(step.name in table for step in steps)


@pytest.mark.process  # the plan's steps are commands
def test_run_plan_keeps_the_later_steps_minimums(tmp_path):
    first = gc.Step("first", command("print('x')"), 30, 1, ())
    long = gc.Step("long", command("print('x')"), 300, 100, ())
    rows = gc.run_plan([first, long], tmp_path, tmp_path / "results", 106, dict(os.environ), lambda text: None,
                       cwd=tmp_path)
    assert [(r.step, r.exit) for r in rows] == [("first", "0"), ("long", "0")]
    assert "(limit 5 s)" in (tmp_path / "logs" / "first.log").read_text()  # 100 of the 106 s kept for `long`
    rows = gc.run_plan([long], tmp_path, tmp_path / "results", 60, dict(os.environ), lambda text: None, cwd=tmp_path)
    assert [(r.step, r.exit, r.ok, r.reason) for r in rows] == [("long", "skipped", False, "fewer than its 100 s left")]
