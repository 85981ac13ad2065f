"""Killing a training job with SIGKILL and rerunning the workflow resumes the run from its last checkpoint."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, tiny_config

pytestmark = pytest.mark.slow
RUN = "simclr-sgd-none-synth-small-s0"


def training_pids(workdir: Path) -> list[int]:
    """`embnorm train` processes whose working directory is this test's workflow folder (ours, and only ours)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(part.endswith(b"embnorm") for part in cmdline) and b"train" in cmdline and Path(cwd) == workdir:
            pids.append(int(entry.name))
    return pids


def test_kill_9_then_rerun_resumes(workflow):
    config = tiny_config()
    config["train"].update(epochs=6, checkpoint_every=1, knn_every=3)
    config["datasets"]["synth"]["synthetic"].update(n_train=256, n_test=64)
    config["grid"] = {"model": ["simclr"], "optimizer": ["sgd"], "mitigation": ["none"], "dataset": ["synth"]}
    config["include"] = []
    workflow.write_config(config)
    run_dir = workflow.workdir / "results" / "runs" / RUN
    target = f"results/runs/{RUN}/checkpoint.pt"

    env = dict(os.environ, PYTHONUNBUFFERED="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [shutil.which("snakemake", path=env["PATH"]), "-s", str(REPO / "Snakefile"), "-d", str(workflow.workdir),
           target, "--cores", "2", "--set-threads", "train=1"]
    first = subprocess.Popen(cmd, cwd=workflow.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    # Wait for one of two events, however long the machine takes: the first resume.pt (then kill the training job),
    # or the end of the workflow (then it was never seen with one, and the test fails)
    killed = False
    while not killed and first.poll() is None:
        if (run_dir / "resume.pt").exists():
            for pid in training_pids(workflow.workdir):
                os.kill(pid, signal.SIGKILL)
                killed = True
        time.sleep(0.02)
    output = first.communicate()[0]
    assert killed, f"the training job was never seen with a resume.pt:\n{output[-3000:]}"
    assert first.returncode != 0 and not (run_dir / "checkpoint.pt").exists()
    assert (run_dir / "resume.pt").exists()

    workflow.run(target, "--cores", "2", "--set-threads", "train=1")
    log = (run_dir / "train.log").read_text()
    assert f"resuming {RUN} at epoch" in log
    resumed_at = int(log.split(f"resuming {RUN} at epoch ")[1].split()[0])
    assert resumed_at >= 1
    epochs_logged = [line for line in log.splitlines() if line.startswith(f"{RUN} epoch ")]
    assert len(epochs_logged) == 6 - resumed_at  # only the remaining epochs were trained
    metrics = pd.read_csv(run_dir / "metrics.tsv", sep="\t")
    assert metrics.epoch.tolist() == list(range(7))
    assert not (run_dir / "resume.pt").exists()
