"""embnorm.memory: with glibc's thresholds raised, freeing and allocating the same large buffer again stops costing
fresh pages (each measured in its own process: the setting is process-wide)."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOOP = """
import resource, sys
import numpy as np
from embnorm import memory
if sys.argv[1] == "keep":
    assert memory.keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # as a training step does: several activation buffers alive at once, then all freed
    buffers = [np.ones(2 * 1024 * 1024, dtype=np.float32) for _ in range(5)]  # 8 MiB each, written (touched)
    del buffers
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    proc = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the thresholds are glibc's")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    default, kept = page_faults("default"), page_faults("keep")
    assert default > 10_000  # glibc's default trims the freed buffers: 41,659 faults here (204,800 pages written)
    assert kept < default / 10
