"""The execution profiles: what each gives the train and embed jobs, and the workstation's GPU wrapper.

profiles/slurm runs against a real scheduler in tests/test_slurm.py; here both profiles are checked as Snakemake
reads them (a dry run prints every job's resources), and profiles/local/gpu-shell is run directly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from conftest import REPO, tiny_config

GPU_SHELL = REPO / "profiles/local/gpu-shell"


def profile(name: str) -> dict:
    return yaml.safe_load((REPO / f"profiles/{name}/config.v8+.yaml").read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The dry-run output of the tiny config with each profile (`snakemake -n` prints every job's resources)."""
    from conftest import Workflow

    wf = Workflow(tmp_path_factory.mktemp("profiles"))
    (wf.workdir / "profiles").symlink_to(REPO / "profiles")
    wf.write_config(tiny_config())
    return {name: wf.run("-n", "--profile", f"profiles/{name}").stdout for name in ("slurm", "local")}


def job_resources(dry_run, profile_name: str, rule: str) -> list[str]:
    """The resources that the dry run with a profile prints for the first job of a rule."""
    block = re.search(rf"^(?:local)?rule {rule}:\n(.*?)\n\n", dry_run[profile_name] + "\n\n", re.M | re.S).group(1)
    return re.search(r"^\s+resources: (.*)$", block, re.M).group(1).split(", ")


# --- profiles/slurm ------------------------------------------------------------------------------------------------

def test_slurm_profile_gives_gpu_jobs_a_gpu_and_a_warning_signal(dry_run):
    resources = job_resources(dry_run, "slurm", "train")
    for item in ("slurm_partition=gpu", "gpu=1", "cpus_per_task=8", "mem_mb=32000", "runtime=1440",
                 "slurm_extra=--signal=TERM@300"):
        assert item in resources, resources


def test_slurm_profile_keeps_cpu_jobs_small_and_off_the_gpus(dry_run):
    resources = job_resources(dry_run, "slurm", "prepare_dataset")
    assert "slurm_partition=cpu" in resources and not [r for r in resources if r.startswith("gpu")]


@pytest.mark.process  # the plugin's list of forbidden options asks sbatch
def test_slurm_profile_resumes_and_uses_only_options_the_plugin_allows():
    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    config = profile("slurm")
    assert config["executor"] == "slurm" and config["retries"] >= 1 and config["rerun-incomplete"] is True
    assert "slurm-status-command" not in config  # the plugin's default, sacct: a real cluster has slurmdbd
    for rule, resources in config["set-resources"].items():
        extra = str(resources.get("slurm_extra", ""))
        assert not [name for pattern, name in get_forbidden_slurm_options().items() if re.search(pattern, extra)]


# --- profiles/local ------------------------------------------------------------------------------------------------

def test_local_profile_runs_gpu_jobs_in_the_gpu_shell(dry_run):
    resources = job_resources(dry_run, "local", "embed")
    assert "gpu=1" in resources and "shell_exec=profiles/local/gpu-shell" in resources
    assert os.access(GPU_SHELL, os.X_OK)


def gpu_shell(command: str, gpus: str, locks, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, EMBNORM_GPUS=gpus, EMBNORM_GPU_LOCKS=str(locks))
    return subprocess.Popen([str(GPU_SHELL), "-c", command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_concurrent_jobs_never_share_a_gpu(tmp_path):
    record = 'echo "$CUDA_VISIBLE_DEVICES $(date +%s.%N)"; sleep 1; echo "$(date +%s.%N)"'
    start = time.time()
    jobs = [gpu_shell(record, "3,5", tmp_path) for _ in range(4)]
    spans = []
    for job in jobs:
        out, _ = job.communicate(timeout=30)
        (gpu, began), (ended,) = (line.split() for line in out.split("\n")[:2])
        spans.append((gpu, float(began), float(ended)))
    assert {gpu for gpu, _, _ in spans} == {"3", "5"}
    for gpu in ("3", "5"):
        mine = sorted((b, e) for g, b, e in spans if g == gpu)
        assert all(e <= b2 for (_, e), (b2, _) in zip(mine, mine[1:])), f"GPU {gpu} was shared: {mine}"
    assert time.time() - start >= 2  # four 1-s jobs on two GPUs: two of them waited


def test_the_command_runs_in_strict_mode_and_its_status_is_returned(tmp_path):
    failing = gpu_shell("false; echo not reached", "0", tmp_path)
    assert failing.wait(timeout=30) == 1 and "not reached" not in failing.stdout.read()
    assert gpu_shell("exit 7", "0", tmp_path).wait(timeout=30) == 7


def test_a_killed_job_releases_its_gpu(tmp_path):
    holder = gpu_shell("echo holding $CUDA_VISIBLE_DEVICES; exec sleep 60", "0", tmp_path, start_new_session=True)
    assert holder.stdout.readline().strip() == "holding 0"  # the event: the command runs, so the lock is held
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    follower = gpu_shell("echo $CUDA_VISIBLE_DEVICES", "0", tmp_path)
    out, err = follower.communicate(timeout=30)
    assert out.strip() == "0" and "waited 0 s" in err


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi")
def test_no_gpu_is_an_error_that_says_what_to_set(tmp_path):
    job = subprocess.run([str(GPU_SHELL), "-c", "true"], capture_output=True, text=True, timeout=30,
                         env={k: v for k, v in os.environ.items() if k != "EMBNORM_GPUS"})
    assert job.returncode == 2 and "set EMBNORM_GPUS" in job.stderr
