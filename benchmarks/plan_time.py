"""Planning-time benchmark (a script, not a test): how long `snakemake -n --configfile config/paper.yaml` takes to plan
the paper's grid, and how many jobs of each rule it plans.

It plans from a scratch working directory laid out as a checkout (config.yaml under the preset, an empty ImageNet root,
which the preset needs to plan), several times, and prints wall and CPU seconds (user + sys of the snakemake process)
for each repetition, next to `snakemake --version` (Snakemake's own start-up, the floor under any workflow).

It also says whether `scontrol show config` answers quickly. snakemake-executor-plugin-slurm calls it whenever
Snakemake starts; on a machine whose SLURM client names a controller that is not running it waits about 9 s, which
shows up here as wall time and is not the workflow's.

    .venv/bin/python benchmarks/plan_time.py            # 5 repetitions
    .venv/bin/python benchmarks/plan_time.py --repeat 3 --preset config/cifar-cpu.yaml
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (children's user + sys) and stdout of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def job_counts(dry_run_output: str) -> dict[str, int]:
    counts = {}
    for line in dry_run_output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "job":
            counts[parts[0]] = int(parts[1])
    return counts


def scontrol_seconds() -> float | None:
    if shutil.which("scontrol") is None:
        return None
    start = time.perf_counter()
    subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=60)
    return time.perf_counter() - start


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="config/paper.yaml")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    slow = scontrol_seconds()
    print("scontrol: not installed" if slow is None else f"scontrol show config: {slow:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REPO / "config.yaml", work / "config.yaml")
        (work / "resources/downloads/imagenet").mkdir(parents=True)
        plan = [SNAKEMAKE, "-n", "-s", str(REPO / "Snakefile"), "--configfile", str(REPO / args.preset),
                "--quiet", "rules"]
        startup = [timed([SNAKEMAKE, "--version"], work) for _ in range(args.repeat)]
        runs = [timed(plan, work) for _ in range(args.repeat)]
    counts = job_counts(runs[0][2])
    width = max(map(len, counts))
    print(f"\njobs planned by {args.preset}:")
    for rule, n in counts.items():
        print(f"  {rule:<{width}}  {n}")
    print(f"\nsnakemake --version : wall {summary([w for w, _, _ in startup])}; CPU {summary([c for _, c, _ in startup])}")
    print(f"plan ({args.repeat} runs)   : wall {summary([w for w, _, _ in runs])}; CPU {summary([c for _, c, _ in runs])}")


if __name__ == "__main__":
    main()
