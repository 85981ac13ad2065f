"""The two monitoring examples run as a user runs them (default arguments, CPU, one thread), print their metrics for
every monitored epoch, and take at most 60 s of CPU time each. The wall-clock limit is looser (180 s) so that a loaded
CI machine does not fail them; the CPU-time bound is the promise."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys


from conftest import REPO

CPU_LIMIT_S = 60


def run_example(name: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, str(REPO / "examples" / name), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=3 * CPU_LIMIT_S)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stderr[-3000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu <= CPU_LIMIT_S, f"{name} took {cpu:.1f} s of CPU time"
    return result.stdout


def test_plain_pytorch_example_prints_its_metrics_every_epoch(tmp_path):
    tsv = tmp_path / "norms.tsv"
    out = run_example("monitor_plain_pytorch.py", "--tsv", str(tsv))
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [int(re.match(r"epoch (\d+):", line).group(1)) for line in lines] == list(range(6))
    for line in lines:
        for field in ("norm mean", "RankMe", "OOD AUROC"):
            assert field in line, line
    assert len(tsv.read_text().splitlines()) == 1 + 6


def test_lightning_example_prints_the_logged_metrics(tmp_path):
    out = run_example("monitor_lightning.py", "--logs", str(tmp_path))
    table = out[out.index(" step "):].splitlines()
    assert table[0].split() == ["step", "norm_mean", "norm_p10", "norm_p90", "rankme", "ood_norm_mean", "ood_auroc"]
    assert [int(row.split()[0]) for row in table[1:6]] == [0, 16, 32, 48, 64]  # epoch 0, then 16 steps per epoch
    assert (tmp_path / "simclr" / "version_0" / "metrics.csv").is_file()
