"""A real scheduler: a single-node SLURM with accounting and fake GPUs (ci/slurm/), and the tiny synthetic preset
run through `snakemake --profile profiles/slurm`, the profile unmodified, as a user runs it.

Where SLURM cannot be installed (not root, not Debian, no apt-get) the test is skipped with the reason, except in CI
(`CI=true`), where a cluster that cannot start is a failure: CI must not pass without the scheduler test. Set
EMBNORM_SLURM_TEST=0 to skip it anyway. It refuses to touch a SLURM configuration it did not write. Every daemon it
starts is stopped by PID at the end of the session, also when a test fails.

The workflow runs in the background: the first test starts the cluster and submits the study, and the tests that read
its results come after the learning runs, which train on the same pytest worker meanwhile (conftest's `worker_group`
and `start_order`). The study's jobs take little CPU and mostly wait on the scheduler: run in the foreground, it held a
worker for 78-98 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slurm

SCRIPTS = REPO / "ci" / "slurm"
PID_FILES = ("/run/slurmd.pid", "/run/slurmctld.pid", "/run/slurmdbd.pid", "/run/mysqld/mysqld.pid",
             "/run/munge/munged.pid")
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge", "slurmdbd", "mariadb-server")
# The per-run stages and two aggregates: every SLURM-side path of the workflow (CPU jobs, GPU jobs, local rules)
# in about two minutes; the whole default target adds a dozen CPU jobs that take this machine four more minutes.
TARGETS = ("results/runs.tsv", "results/tables/norm_vs_ood.tsv", "results/tables/training.tsv")
SLURM_RULES = {"prepare_dataset": 2, "train": 1, "embed": 2, "norm_vs_ood": 1, "norm_growth": 1}  # embed: tiny, tiny_ood
LOCAL_RULES = ("run_params", "runs_table")
# Only a guard against a hang: a run took 137-186 s at a load of 3-5, and it shares the cores with the learning runs
WORKFLOW_TIMEOUT_S = 600
# On the command line, over the profile's 10 s: a job here ends in seconds, and each of the DAG's four levels waited
# for a status round (measured: the workflow took 62 s with the profile's settings, 52-53 s with these)
POLLING = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1")


def why_not() -> str | None:
    if os.environ.get("EMBNORM_SLURM_TEST") == "0":
        return "EMBNORM_SLURM_TEST=0"
    if os.geteuid() != 0:
        return "not root"
    if not Path("/etc/debian_version").exists():
        return "not Debian"
    if not shutil.which("apt-get"):
        return "no apt-get"
    if not shutil.which("timeout"):
        return "no timeout(1)"
    return None


def installed() -> bool:
    return all(subprocess.run(["dpkg", "-s", p], capture_output=True).returncode == 0 for p in PACKAGES)


def sh(*cmd: str, timeout: int = 60) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout).stdout


def alive(pid: int) -> bool:
    """Running and not a zombie (PID 1 here reaps exited daemons late)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return not re.search(r"^State:\s+Z", status, re.M)


def unavailable(message: str):
    """The cluster cannot start: a skip with the reason, or in CI (CI=true) a failure; an explicit
    EMBNORM_SLURM_TEST=0 is always a skip."""
    if os.environ.get("CI", "").lower() == "true" and os.environ.get("EMBNORM_SLURM_TEST") != "0":
        pytest.fail(f"CI=true but the SLURM test cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def cluster():
    reason = why_not()
    if reason:
        unavailable(f"SLURM cannot be installed here ({reason}); this test needs root on Debian with apt-get")
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and "written by embnorm ci/slurm/slurm-up.sh" not in conf.read_text():
        unavailable(f"{conf} belongs to another SLURM; the test does not touch it")
    started = time.perf_counter()
    try:
        up = subprocess.run(["timeout", "-k", "10", "150", "bash", str(SCRIPTS / "slurm-up.sh")],
                            capture_output=True, text=True)
        if up.returncode != 0 and not installed():
            unavailable(f"the SLURM packages could not be installed: {(up.stdout + up.stderr)[-800:]}")
        assert up.returncode == 0, f"slurm-up.sh failed ({up.returncode}):\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
        yield started
    finally:
        pids = [int(Path(f).read_text()) for f in PID_FILES if Path(f).exists() and Path(f).read_text().strip()]
        subprocess.run(["bash", str(SCRIPTS / "slurm-down.sh")], timeout=60)
        deadline = time.time() + 10
        while any(alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.25)
        assert not [p for p in pids if alive(p)], "a SLURM daemon is still running after slurm-down.sh"
        assert not conf.exists(), "slurm-down.sh left its slurm.conf (scontrol, which Snakemake's plugin calls, would hang)"


@dataclass
class Submitted:
    """The preset's workflow, started on the cluster and not waited for."""

    work: Path
    process: subprocess.Popen
    cluster_up: float  # seconds slurm-up.sh took
    start: float  # time.perf_counter() at submission


@pytest.fixture(scope="session")
def submitted(cluster, tmp_path_factory):
    """The preset through sbatch, from a workdir laid out as a checkout (config.yaml under the preset), started in the
    background; Snakemake's output goes to snakemake.out and snakemake.err there. Stopped at the end of the session if
    it still runs."""
    work = tmp_path_factory.mktemp("slurm")
    for name in ("profiles", "config"):
        (work / name).symlink_to(REPO / name)
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # a hung status query or a lost job would make Snakemake wait forever; SIGTERM only makes it wait for its jobs
    cmd = ["timeout", "-k", "10", str(WORKFLOW_TIMEOUT_S), "snakemake", *TARGETS, "-s", str(REPO / "Snakefile"),
           "--profile", "profiles/slurm", "--configfile", "config/ci-slurm.yaml", *POLLING]
    start = time.perf_counter()
    with open(work / "snakemake.out", "w") as out, open(work / "snakemake.err", "w") as err:
        process = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=err)
    try:
        yield Submitted(work, process, start - cluster, start)
    finally:
        if process.poll() is None:
            process.terminate()  # timeout(1) passes it on, and kills Snakemake 10 s later
            process.wait(timeout=60)


@pytest.fixture(scope="session")
def study(submitted) -> Path:
    """The submitted study, once Snakemake has ended; it must have succeeded."""
    returncode = submitted.process.wait()
    work = submitted.work
    out, err = ((work / name).read_text(errors="replace") for name in ("snakemake.out", "snakemake.err"))
    assert returncode == 0, f"snakemake failed ({returncode}):\n{out[-4000:]}\n{err[-6000:]}"
    print(f"SLURM test: cluster up {submitted.cluster_up:.0f} s, workflow {time.perf_counter() - submitted.start:.0f} s")
    return work


def slurm_jobs(work: Path, rule: str) -> list[tuple[int, str]]:
    """(SLURM job id, log text) of every job of a rule: .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<jobid>.log."""
    logs = sorted((work / ".snakemake" / "slurm_logs" / f"rule_{rule}").rglob("*.log"))
    return [(int(log.stem), log.read_text(errors="replace")) for log in logs if log.stem.isdigit()]


def accounting(job_id: int, fields: str) -> list[str]:
    line = sh("sacct", "-X", "-n", "-P", "-j", str(job_id), "-o", fields).strip().splitlines()[0]
    return line.split("|")


@pytest.mark.slow  # installs and starts a cluster, then submits the workflow to it
def test_the_cluster_is_up_and_takes_the_study(submitted):
    """The node answers with both partitions, and the submitted Snakemake has not failed at its start (it goes on in
    the background; the tests below read what it made)."""
    partitions = dict(line.split() for line in sh("sinfo", "-h", "-o", "%R %t").splitlines())
    assert set(partitions) == {"cpu", "gpu"} and not set(partitions.values()) & {"down", "drain", "unk", "fail"}, \
        partitions
    assert submitted.process.poll() in (None, 0), (submitted.work / "snakemake.err").read_text()[-4000:]


@pytest.mark.slow  # installs and starts a cluster, then runs the workflow on it
def test_every_cluster_job_went_through_sbatch(study):
    for rule, count in SLURM_RULES.items():
        jobs = slurm_jobs(study, rule)
        assert len(jobs) == count, f"{rule}: {len(jobs)} SLURM logs, expected {count}"
        for job_id, log in jobs:
            assert accounting(job_id, "State") == ["COMPLETED"]
            assert f"rule {rule}:" in log  # the job step's Snakemake ran that rule
    for rule in LOCAL_RULES:  # tiny bookkeeping jobs run in the submitting Snakemake
        assert not slurm_jobs(study, rule)
    assert (study / "results/tables/norm_vs_ood.tsv").stat().st_size > 0


@pytest.mark.slow  # installs and starts a cluster, then runs the workflow on it
def test_the_training_job_got_one_gpu_and_the_profiles_resources(study):
    [(job_id, log)] = slurm_jobs(study, "train")
    assert re.search(rf"task-prolog: job={job_id} step=0 CUDA_VISIBLE_DEVICES=\d+$", log, re.M), log[-2000:]
    partition, tres, limit = accounting(job_id, "Partition,AllocTRES,Timelimit")
    assert partition == "gpu" and limit == "1-00:00:00"
    assert {"gres/gpu=1", "cpu=8", "mem=32000M"} <= set(tres.split(","))


@pytest.mark.slow  # installs and starts a cluster, then runs the workflow on it
def test_cpu_jobs_get_no_gpu(study):
    for job_id, log in slurm_jobs(study, "prepare_dataset"):
        assert re.search(rf"task-prolog: job={job_id} step=0 CUDA_VISIBLE_DEVICES=unset$", log, re.M)
        partition, tres = accounting(job_id, "Partition,AllocTRES")
        assert partition == "cpu" and "gres/gpu" not in tres


@pytest.mark.parametrize("ci, opt_out, outcome", [("true", None, pytest.fail.Exception),
                                                   (None, None, pytest.skip.Exception),
                                                   ("true", "0", pytest.skip.Exception)])
def test_a_cluster_that_cannot_start_fails_in_ci(monkeypatch, ci, opt_out, outcome):
    for name, value in (("CI", ci), ("EMBNORM_SLURM_TEST", opt_out)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(outcome, match="cannot"):
        unavailable("SLURM cannot be installed here (not root)")

