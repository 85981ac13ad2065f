"""The two monitoring examples run as a user runs them (default arguments, CPU, one thread) and print their metrics
for every monitored epoch. No time limit: one would fail on a loaded machine (pytest's --durations shows the time)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO


def run_example(name: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, str(REPO / "examples" / name), *args], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
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
