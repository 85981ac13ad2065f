"""One check of a lent GPU machine: every step is a command with a time limit and an evidence check.

Run it from the repository root on the GPU machine (one NVIDIA H200, python3 with torch preinstalled, no Snakemake,
no network), with the wheels that `benchmarks/gpu_wheels.sh` puts in `.whl/` carried along:

    python3 benchmarks/gpu_check.py                      # the default study and the benchmarks
    python3 benchmarks/gpu_check.py --preset cifar-gpu   # the one-GPU preset, shortened, and its full wall time
    python3 benchmarks/gpu_check.py --list               # the plan: each step's command, time limit and checks

The steps, in order (`plan()` below lists them as data; `--only` and `--skip` choose among them):

    install        the wheels of .whl/ into --site, and the console scripts `embnorm` and `snakemake` on PATH
    facts          the GPU, torch and CUDA, Snakemake, the tools gpu-shell needs, the packages embnorm needs
    bench-eager    benchmarks/train_speed.py --preset gpu: our pipeline against a PIL DataLoader and the ceiling
    speed          benchmarks/speed.py: the prefetched step against the compiled ceiling, kNN against its floor
    monitor        benchmarks/monitor_cost.py: what one NormMonitor call costs per probe image on the GPU
    workflow       the study through profiles/local, as a user runs it on a workstation with one GPU:
                   EMBNORM_GPUS=0 snakemake --profile profiles/local --resources gpu=1 --configfile config.yaml
    report         snakemake --report results/report.html, as `make run` does
    audit          embnorm audit results: every artifact against its provenance record
    collect        results/ without checkpoints, embeddings and PDFs, and the report, into --out
    bench-compile  train_speed.py --preset gpu --compile: last, as it is the slowest and the least essential

A step's evidence check is a plain function of the files the step left (its log under --out/logs/, and results/):
it returns a verdict, pass or fail, with one line that quotes the numbers of the run itself. A step passes when its
command exits 0 within its time limit and every one of its checks passes. Each step's limit is its own budget, cut
to what is left of --budget-s once the minimum of every later step is set aside; a step that would get less than
its own minimum is skipped, and so is one whose prerequisite did not pass. Skipped steps count as failed.

With `--preset cifar-gpu` the workflow step runs config/cifar-gpu.yaml shortened to --preset-epochs epochs per run
(on built-in synthetic data at CIFAR size when the CIFAR archives are not in resources/downloads), the benchmarks of
train_speed.py are left out, and one more check extrapolates the preset's full wall time: the measured wall time
plus the missing epochs at each run's median seconds per epoch.

What it leaves in --out (default $OUT, else /tmp/gpu-check-out), at most the 8 files the lent machine returns:
gpu_check.log (everything printed), summary.tsv (one row per check), logs.tar.gz (each step's log),
results_small.tar.gz and report.html. The exit status is 0 only if every step passed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, NamedTuple

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "benchmarks/gpu_check.py"
PROFILE = "profiles/local"
FILE_LIMIT = 15 * 2**20  # the lent machine returns files of at most 16 MiB: the tarball and the report stay below
HOUR_S = 3600  # config/cifar-gpu.yaml's promise: the paper's CIFAR figures in an hour on one GPU


# ---- verdicts and the evidence they read ----

class Verdict(NamedTuple):
    ok: bool
    reason: str  # one line


@dataclass(frozen=True)
class Evidence:
    """Where a run of the plan left its files: `out` (the steps' logs in out/logs/, the tarball) and `results`."""

    out: Path
    results: Path

    def log(self, step: str) -> str:
        """The log of one step ("" when it has none: the step did not run)."""
        path = self.out / "logs" / f"{step}.log"
        return path.read_text(errors="replace") if path.is_file() else ""


Check = Callable[[Evidence], Verdict]


def check_name(check: Check) -> str:
    return getattr(check, "func", check).__name__


def number(text: str) -> float:
    """A number as the benchmarks print it: '23526', '85.4%', '1,680' or 'nan'."""
    return float(text.replace(",", "").rstrip("%"))


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


# ---- the checks of each step: plain functions of the files it left ----

def installed(ev: Evidence) -> Verdict:
    """pip installed the wheels, and both console scripts answer."""
    log = ev.log("install")
    wheels = re.search(r"^Successfully installed (.+)$", log, re.M)
    snakemake = re.search(r"^snakemake --version: (\S+)$", log, re.M)
    embnorm = re.search(r"^embnorm --help: usage: embnorm", log, re.M)
    if not wheels:
        return Verdict(False, "pip installed nothing" + (f": {last_line(log)}" if log else " (no install log)"))
    if not (snakemake and embnorm):
        missing = [name for name, found in (("snakemake", snakemake), ("embnorm", embnorm)) if not found]
        return Verdict(False, f"{' and '.join(missing)} did not answer on PATH")
    packages = wheels.group(1).split()
    return Verdict(True, f"{len(packages)} wheels installed; snakemake {snakemake.group(1)} and embnorm answer")


def gpu_facts(ev: Evidence) -> Verdict:
    """CUDA is there, Snakemake answers, gpu-shell's flock exists, and nothing embnorm or the wheels need is missing."""
    log = ev.log("facts")
    cuda = re.search(r"^CUDA: (\d+) device\(s\); 0 = (.+?), capability (\S+), (\d+) GiB", log, re.M)
    torch = re.search(r"; torch (\S+) \(CUDA (\S+),", log)
    snakemake = re.search(r"^snakemake --version: (\S+)$", log, re.M)
    missing = re.findall(r"^MISSING +(.+)$", log, re.M)
    if not (cuda and torch):
        line = re.search(r"^CUDA: .*$", log, re.M)
        return Verdict(False, line.group(0) if line else "no CUDA facts in the log")
    if missing:
        return Verdict(False, f"{len(missing)} missing: " + "; ".join(missing))
    if not snakemake:
        return Verdict(False, "snakemake --version did not answer")
    conflicts = len(re.findall(r"^CONFLICT ", log, re.M))
    return Verdict(True, f"{cuda.group(2)} (capability {cuda.group(3)}, {cuda.group(4)} GiB), torch {torch.group(1)} "
                         f"on CUDA {torch.group(2)}, snakemake {snakemake.group(1)}; nothing missing"
                         + (f" ({conflicts} declared version conflicts)" if conflicts else ""))


def train_speed_on_gpu(ev: Evidence, step: str) -> Verdict:
    """benchmarks/train_speed.py measured its gpu preset on CUDA: the full step, its share of the ceiling, s/epoch."""
    log = ev.log(step)
    header = re.search(r"^== preset gpu: (.+)$", log, re.M)
    if not header:
        presets = re.findall(r"^== preset (\S+):", log, re.M)
        return Verdict(False, "no gpu preset measured" + (f" (only {', '.join(presets)})" if presets else ""))
    if "device cuda" not in header.group(1):
        return Verdict(False, f"the gpu preset ran off CUDA: {header.group(1)}")
    block = log[header.end():]
    aug = re.search(r"^\(a\) augmentation.* ratio +(\S+)x$", block, re.M)
    step_rate = re.search(r"^\(b\) full training step +ours +(\S+) img/s", block, re.M)
    ceiling = re.search(r"^\(c\) model-only step \(ceiling\) +(\S+) img/s", block, re.M)
    epoch = re.search(r"seconds per ([\d,]+)-image epoch: ours (\S+) s", block)
    if not (aug and step_rate and ceiling and epoch):
        return Verdict(False, "the gpu preset's report is incomplete")
    full, top = number(step_rate.group(1)), number(ceiling.group(1))
    return Verdict(True, f"full step {full:,.0f} img/s, {full / top:.1%} of the model-only ceiling ({top:,.0f}); "
                         f"{epoch.group(2)} s per {epoch.group(1)}-image epoch; augmentation {aug.group(1)}x the "
                         f"PIL DataLoader")


def speed_on_gpu(ev: Evidence) -> Verdict:
    """benchmarks/speed.py measured the GPU ratios: the prefetched step against the compiled ceiling, kNN on CUDA."""
    log = ev.log("speed")
    gpu = re.search(r"^gpu +step, prefetched .*$", log, re.M)
    knn = re.search(r"^knn-gpu .*$", log, re.M)
    summary = re.search(r"^summary: (.*)$", log, re.M)
    if not gpu:
        line = re.search(r"^gpu .*$", log, re.M)
        return Verdict(False, line.group(0).split(maxsplit=1)[1] if line else "no GPU measurement in the log")
    if not (knn and summary):
        return Verdict(False, "the GPU step was measured, kNN on the GPU and the summary are missing")
    return Verdict(True, summary.group(1))


def monitor_on_gpu(ev: Evidence) -> Verdict:
    """benchmarks/monitor_cost.py timed NormMonitor on CUDA: ms per probe image against ms per training image."""
    log = ev.log("monitor")
    header = re.search(r"^monitor_cost: .*?, device (\S+) \((.+?)\)", log, re.M)
    if not header:
        return Verdict(False, "no monitor_cost header in the log")
    if not header.group(1).startswith("cuda"):
        return Verdict(False, f"measured on {header.group(1)} ({header.group(2)}), not on CUDA")
    rows = re.findall(r"^(small|resnet18|resnet50) +" + " +".join([r"(\S+)"] * 8) + "$", log, re.M)
    if not rows or not re.search(r"^recal: ", log, re.M):
        return Verdict(False, "the monitor's cost tables are incomplete")
    costs = {backbone: (values[4], values[6]) for backbone, *values in rows}  # ms/img and train ms/img
    return Verdict(True, f"on {header.group(2)}: " + "; ".join(
        f"{b} {monitor} ms per probe image, training {train} ms per image" for b, (monitor, train) in costs.items()))


def workflow_finished(ev: Evidence) -> Verdict:
    """Snakemake's own count: every planned job done, none failed."""
    log = ev.log("workflow")
    progress = re.findall(r"^(\d+) of (\d+) steps \((\S+)\) done$", log, re.M)
    errors = re.findall(r"^Error in rule (\S+):$", log, re.M)
    if errors:
        return Verdict(False, f"{len(errors)} job(s) failed: rule " + ", ".join(sorted(set(errors))))
    if not progress:
        return Verdict(False, "no job finished" + (f": {last_line(log)}" if log else " (no workflow log)"))
    done, total, percent = progress[-1]
    elapsed = re.search(r"^Elapsed time: (\S+?)(?:\.\d+)?$", log, re.M)
    verdict = f"{done} of {total} steps ({percent}) done" + (f" in {elapsed.group(1)}" if elapsed else "")
    return Verdict(done == total, verdict)


def job_stats(log: str) -> dict[str, int]:
    """Snakemake's table of the jobs it planned (`Job stats:`), rule -> count."""
    table = re.search(r"^Job stats:\n.*?\n-+ +-+\n(.*?)\n\n", log, re.M | re.S)
    counts = {}
    for line in table.group(1).splitlines() if table else []:
        rule, _, count = line.rpartition(" ")
        if count.isdigit():
            counts[rule.strip()] = int(count)
    return counts


def gpu_jobs_through_gpu_shell(ev: Evidence, rules: tuple[str, ...]) -> Verdict:
    """Each job of a GPU rule (`rules`: those profiles/local runs through gpu-shell) took a GPU from gpu-shell."""
    log = ev.log("workflow")
    started = re.findall(r"^(?:local)?rule (\S+):$", log, re.M)
    gpu_jobs = {rule: started.count(rule) for rule in rules if rule in started}
    shells = re.findall(r"^gpu-shell: GPU (\S+) \(pool: [^;]*; waited (\d+) s\)$", log, re.M)
    if not gpu_jobs.get("train"):
        return Verdict(False, "no train job started")
    jobs = sum(gpu_jobs.values())
    listed = ", ".join(f"{rule} {n}" for rule, n in gpu_jobs.items())
    if len(shells) != jobs:
        return Verdict(False, f"{jobs} GPU jobs ({listed}) but {len(shells)} gpu-shell lines")
    gpus = sorted({gpu for gpu, _ in shells})
    return Verdict(True, f"{jobs} GPU jobs ({listed}), each through gpu-shell on GPU {', '.join(gpus)}, "
                         f"waited {max(int(w) for _, w in shells)} s at most")


def gpu_jobs(results: Path) -> dict[tuple, dict]:
    """The train and embed jobs that finished, from their artifacts' provenance records: (command, run, start) ->
    {end, device}. A job writes one record per artifact, all with its start, its end and the device it used."""
    jobs = {}
    for path in sorted(glob.glob(str(results / "provenance" / "**" / "*.json"), recursive=True)):
        with open(path) as f:
            record = json.load(f)
        if record.get("command") in ("train", "embed"):
            key = (record["command"], record.get("run_id"), record["start"])
            jobs[key] = {"end": record["end"], "device": str(record.get("device"))}
    return jobs


def gpu_jobs_on_cuda(ev: Evidence, rules: tuple[str, ...]) -> Verdict:
    """Every GPU job Snakemake planned finished, and each one's provenance record names a CUDA device."""
    jobs = gpu_jobs(ev.results)
    planned = sum(n for rule, n in job_stats(ev.log("workflow")).items() if rule in rules)
    if not jobs:
        return Verdict(False, "no train or embed job left a provenance record")
    off = sorted({job["device"] for job in jobs.values() if not job["device"].startswith("cuda")})
    if off:
        return Verdict(False, f"{sum(not j['device'].startswith('cuda') for j in jobs.values())} of {len(jobs)} "
                              f"GPU jobs ran off CUDA: {'; '.join(off)}")
    if len(jobs) < planned:
        return Verdict(False, f"{len(jobs)} of {planned} planned GPU jobs finished")
    devices = sorted({job["device"] for job in jobs.values()})
    return Verdict(True, f"{len(jobs)} of {planned} planned GPU jobs finished, on {'; '.join(devices)}")


def one_gpu_job_at_a_time(ev: Evidence) -> Verdict:
    """With one GPU in the pool no two GPU jobs overlap in time (each record's times lie inside its process's life)."""
    spans = sorted((datetime.fromisoformat(start), datetime.fromisoformat(job["end"]), f"{command} {run}")
                   for (command, run, start), job in gpu_jobs(ev.results).items())
    if not spans:
        return Verdict(False, "no GPU job left a provenance record")
    overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    if overlaps:
        (_, _, first), (_, _, second) = overlaps[0]
        return Verdict(False, f"{len(overlaps)} overlap(s) on the one GPU, the first: {first} and {second}")
    busy = sum((end - start).total_seconds() for start, end, _ in spans)
    return Verdict(True, f"none of the {len(spans)} GPU jobs overlapped; together they held the GPU {busy:.0f} s")


def runs_trained(ev: Evidence) -> Verdict:
    """Every run of results/runs.tsv trained to its last step; its kNN accuracy at init and at the end, and speed."""
    table = ev.results / "runs.tsv"
    if not table.is_file():
        return Verdict(False, "no results/runs.tsv")
    init, final, rates, short = [], [], [], []
    for run in read_tsv(table):
        path = ev.results / "runs" / run["run_id"] / "metrics.tsv"
        rows = read_tsv(path) if path.is_file() else []
        if not rows or rows[-1]["step"] != rows[-1]["total_steps"]:
            short.append(run["run_id"])
            continue
        knn = [number(r["knn_acc"]) for r in rows if r["knn_acc"]]
        init.append(knn[0])
        final.append(knn[-1])
        rates += [number(r["images_per_s"]) for r in rows[2:] if r["images_per_s"]]  # after the first epoch
    if short:
        return Verdict(False, f"{len(short)} run(s) without a finished metrics.tsv: {', '.join(short)}")

    def span(values):
        return f"{min(values):.3f}" if min(values) == max(values) else f"{min(values):.3f}-{max(values):.3f}"

    speed = f"; median {statistics.median(rates):,.0f} images/s after the first epoch" if rates else ""
    return Verdict(True, f"{len(final)} run(s) trained to their last step; kNN accuracy {span(init)} at init, "
                         f"{span(final)} at the end{speed}")


def claims_decided(ev: Evidence) -> Verdict:
    """results/tables/claims.tsv gives every claim a verdict; the counts of each verdict."""
    path = ev.results / "tables" / "claims.tsv"
    if not path.is_file():
        return Verdict(False, "no results/tables/claims.tsv")
    rows = read_tsv(path)
    undecided = [row["claim"] for row in rows if not row.get("verdict")]
    if not rows or undecided:
        return Verdict(False, f"claims without a verdict: {', '.join(undecided)}" if rows else "claims.tsv is empty")

    def counts(column):
        tally = {}
        for row in rows:
            tally[row[column]] = tally.get(row[column], 0) + 1
        return ", ".join(f"{n} {verdict}" for verdict, n in tally.items())

    return Verdict(True, f"{len(rows)} claims: {counts('verdict')} (amended rules: {counts('amended_verdict')})")


def report_written(ev: Evidence) -> Verdict:
    """Snakemake said it created the report, and results/report.html is there."""
    log = ev.log("report")
    report = ev.results / "report.html"
    if not re.search(r"^Report created", log, re.M):
        return Verdict(False, "Snakemake did not create the report" + (f": {last_line(log)}" if log else ""))
    if not report.is_file() or not report.stat().st_size:
        return Verdict(False, "results/report.html is missing or empty")
    added = len(re.findall(r"^Adding ", log, re.M))
    return Verdict(True, f"results/report.html, {report.stat().st_size / 2**20:.1f} MiB, {added} results added")


def audit_clean(ev: Evidence) -> Verdict:
    """`embnorm audit results` found every artifact ok."""
    summary = re.search(r"^(\d+) artifacts: (.*)$", ev.log("audit"), re.M)
    if not summary:
        return Verdict(False, "no audit summary in the log")
    counts = {status: int(n) for n, status in re.findall(r"(\d+) (\S+)", summary.group(2))}
    total = int(summary.group(1))
    return Verdict(total > 0 and counts.get("ok") == total, summary.group(0))


def collected(ev: Evidence, limit: int = FILE_LIMIT) -> Verdict:
    """results_small.tar.gz holds the run table and the runs' metrics, small enough to come back from the machine."""
    path = ev.out / "results_small.tar.gz"
    if not path.is_file():
        return Verdict(False, "no results_small.tar.gz")
    with tarfile.open(path) as tar:
        names = tar.getnames()
    size = path.stat().st_size
    metrics = [n for n in names if n.endswith("/metrics.tsv")]
    if "results/runs.tsv" not in names or not metrics:
        return Verdict(False, f"results_small.tar.gz lacks results/runs.tsv or the runs' metrics ({len(names)} files)")
    if size > limit:
        return Verdict(False, f"results_small.tar.gz is {size / 2**20:.1f} MiB, over {limit / 2**20:.0f} MiB")
    return Verdict(True, f"results_small.tar.gz: {len(names)} files, {size / 2**20:.1f} MiB")


def preset_estimate(ev: Evidence, full_epochs: int, hour_s: int = HOUR_S) -> Verdict:
    """The full preset's wall time: the shortened workflow's wall time plus every run's missing epochs at its median
    seconds per epoch (training only: the kNN monitor's later evaluations are not included)."""
    wall = re.search(r"^gpu_check: exit 0 after ([\d.]+) s", ev.log("workflow"), re.M)
    runs = sorted(glob.glob(str(ev.results / "runs" / "*" / "metrics.tsv")))
    if not wall or not runs:
        return Verdict(False, "no finished workflow to extrapolate from" if not wall else "no run finished")
    extra, epochs = 0.0, set()
    for path in runs:
        rows = [r for r in read_tsv(Path(path)) if r["seconds"]]  # the trained epochs (epoch 0 is the initial model)
        if not rows:
            return Verdict(False, f"{Path(path).parent.name} trained no epoch")
        epochs.add(int(rows[-1]["epoch"]))
        extra += (full_epochs - int(rows[-1]["epoch"])) * statistics.median(number(r["seconds"]) for r in rows)
    total = float(wall.group(1)) + extra
    shown = ", ".join(map(str, sorted(epochs)))
    return Verdict(total <= hour_s, f"{len(runs)} run(s) of {shown} epochs took {float(wall.group(1)):.0f} s; the full "
                                    f"{full_epochs} epochs: about {total / 60:.1f} min (training only; "
                                    f"{'within' if total <= hour_s else 'over'} {hour_s / 60:.0f} min)")


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("gpu_check: ")]
    return lines[-1].strip()[:200] if lines else ""


# ---- the plan ----

@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]
    budget_s: int  # the step's time limit, when the whole budget allows it
    min_s: int  # less than this and the step cannot show anything: skipped
    checks: tuple[Check, ...]
    needs: tuple[str, ...] = ()  # steps that must have passed first
    env: dict = field(default_factory=dict)


def gpu_rules(repo: Path = REPO) -> tuple[str, ...]:
    """The rules whose jobs profiles/local runs through gpu-shell (its `set-resources`)."""
    import yaml

    profile = yaml.safe_load((repo / PROFILE / "config.v8+.yaml").read_text())
    return tuple(rule for rule, resources in profile["set-resources"].items() if "shell_exec" in resources)


def preset_overlay(repo: Path, epochs: int) -> str:
    """The cifar-gpu preset shortened to `epochs` epochs per run, on synthetic data at CIFAR size without CIFAR."""
    lines = [f"train: {{epochs: {epochs}, knn_every: 1, checkpoint_every: {epochs}}}"]
    archives = ("cifar10/cifar-10-python.tar.gz", "cifar100/cifar-100-python.tar.gz")
    if not all((repo / "resources" / "downloads" / a).exists() for a in archives):
        lines += ["datasets:"] + [
            f"  {name}: {{source: synthetic, synthetic: {{family: {family}, classes: {classes}, n_train: 50000, "
            f"n_test: 10000}}, human_labels: simulated}}"
            for name, family, classes in (("cifar10", 0, 10), ("cifar100", 1, 100))]
    return "\n".join(lines) + "\n"


def plan(args, repo: Path = REPO) -> list[Step]:
    """The steps of one check, in order, with the options of the command line applied."""
    import yaml

    py = sys.executable
    cores = str(os.cpu_count() or 1)
    configs = ["config.yaml"]
    if args.preset == "cifar-gpu":
        configs += ["config/cifar-gpu.yaml", str(args.out / "logs" / "cifar-gpu-check.yaml")]
    configs += args.configfile
    rules = gpu_rules(repo)
    workflow_checks = [workflow_finished, functools.partial(gpu_jobs_through_gpu_shell, rules=rules),
                       functools.partial(gpu_jobs_on_cuda, rules=rules), one_gpu_job_at_a_time, runs_trained]
    if not args.targets:
        workflow_checks.append(claims_decided)
    if args.preset == "cifar-gpu":
        full = yaml.safe_load((repo / "config" / "cifar-gpu.yaml").read_text())["train"]["epochs"]
        workflow_checks.append(functools.partial(preset_estimate, full_epochs=full))
    workflow_s = 360 if args.preset else 300  # the preset's 50,000-image datasets take longer than the default study
    bench = [py, "benchmarks/train_speed.py", "--preset", "gpu"]
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free < 2 * 2**30:
        bench += ["--workers", "0"]  # too little shared memory for DataLoader workers: the PIL pipeline in-process
    steps = [
        Step("install", (py, SCRIPT, "install", "--wheels", str(args.wheels), "--site", str(args.site)),
             90, 30, (installed,)),
        Step("facts", (py, SCRIPT, "facts", "--site", str(args.site)), 60, 20, (gpu_facts,)),
        Step("bench-eager", tuple(bench), 120, 30, (functools.partial(train_speed_on_gpu, step="bench-eager"),)),
        Step("speed", (py, "benchmarks/speed.py"), 150, 40, (speed_on_gpu,)),
        Step("monitor", (py, "benchmarks/monitor_cost.py", "--device", "auto", "--threads", "0", "--probe", "4096",
                         "--ood", "2048", "--batch", "1024", "--train-batch", "512"), 60, 15, (monitor_on_gpu,)),
        Step("workflow", ("snakemake", *args.targets, "--profile", PROFILE, "--resources", "gpu=1", "--cores", cores,
                          "--configfile", *configs),
             workflow_s, 60, tuple(workflow_checks), needs=("install",),
             env={"EMBNORM_GPUS": os.environ.get("EMBNORM_GPUS", "0")}),
        Step("report", ("snakemake", "--cores", cores, "--configfile", *configs, "--report", "results/report.html"),
             90, 20, (report_written,), needs=("workflow",)),
        Step("audit", ("embnorm", "audit", "results", *(a for c in configs for a in ("--config", c))),
             60, 15, (audit_clean,), needs=("workflow",)),
        Step("collect", (py, SCRIPT, "collect", "--results", "results", "--out", str(args.out)),
             60, 10, (collected,)),
        Step("bench-compile", (*bench, "--compile", "--rounds", "1"), 200, 60,
             (functools.partial(train_speed_on_gpu, step="bench-compile"),)),
    ]
    if args.preset == "cifar-gpu":
        steps = [s for s in steps if not s.name.startswith("bench-")]
    if args.only:
        steps = [s for s in steps if s.name in args.only]
    limits = dict(args.limit)
    return [Step(s.name, s.command, limits.get(s.name, s.budget_s), s.min_s, s.checks, s.needs, s.env)
            for s in steps if s.name not in args.skip]


# ---- running the plan ----

class Row(NamedTuple):
    step: str
    check: str
    ok: bool
    exit: str
    seconds: float
    reason: str


def time_limit(step: Step, later: list[Step], left: float) -> int | None:
    """The step's own budget, cut to what is left once each later step's minimum is set aside; None below its
    minimum."""
    limit = int(min(step.budget_s, left - sum(s.min_s for s in later)))
    return limit if limit >= step.min_s else None


def run_command(command, log: Path, limit: int, env: dict, echo, cwd: Path) -> tuple[str, float]:
    """Run one step's command with its output in `log` and echoed; stop it (its whole process group: SIGTERM, then
    SIGKILL 10 s later) at `limit` seconds. Returns its exit ('0', '1', 'timeout', 'not found') and seconds."""
    start = time.monotonic()
    with open(log, "w") as f:
        def write(text):
            f.write(text)
            f.flush()
            echo(text)

        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    errors="replace", start_new_session=True, env=env, cwd=cwd)
        except OSError as e:
            write(f"{e}\n")
            exit_, seconds = "not found", time.monotonic() - start
        else:
            def pump():
                for line in proc.stdout:
                    write(line)

            reader = threading.Thread(target=pump)
            reader.start()
            try:
                exit_ = str(proc.wait(timeout=limit))
            except subprocess.TimeoutExpired:
                stop(proc)
                exit_ = "timeout"
            seconds = time.monotonic() - start
            reader.join(timeout=10)
        footer = f"exit {exit_}" if exit_ != "timeout" else "timed out"
        write(f"gpu_check: {footer} after {seconds:.1f} s (limit {limit} s)\n")
    return exit_, seconds


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the command's process group (Snakemake then removes its jobs' incomplete outputs), SIGKILL 10 s
    later."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_plan(steps: list[Step], out: Path, results: Path, budget_s: float, env: dict, echo=print,
             cwd: Path = REPO) -> list[Row]:
    """Run the steps in order, each within its time limit, and check each one's evidence; one row per check."""
    (out / "logs").mkdir(parents=True, exist_ok=True)
    evidence = Evidence(out, results)
    planned = {step.name for step in steps}
    start, rows, passed = time.monotonic(), [], set()
    for i, step in enumerate(steps):
        left = budget_s - (time.monotonic() - start)
        limit = time_limit(step, steps[i + 1:], left)
        unmet = [name for name in step.needs if name in planned and name not in passed]  # a step left out blocks none
        echo(f"\n==== [{time.monotonic() - start:.0f} s, {left:.0f} s left] {step.name}: {' '.join(step.command)}"
             + (f" (limit {limit} s)\n" if limit and not unmet else "\n"))
        if unmet or limit is None:
            why = f"needs {', '.join(unmet)}" if unmet else f"fewer than its {step.min_s} s left"
            rows.append(Row(step.name, "-", False, "skipped", 0.0, why))
            echo(f"skipped: {why}\n")
            continue
        exit_, seconds = run_command(step.command, out / "logs" / f"{step.name}.log", limit, {**env, **step.env},
                                     echo, cwd)
        step_rows = [Row(step.name, "exit", exit_ == "0", exit_, seconds,
                         f"exit {exit_}" if exit_ != "timeout" else f"timed out after {limit} s")]
        for check in step.checks:
            try:
                verdict = check(evidence)
            except Exception as e:  # evidence in a shape the check did not expect is a failed check, not a crash
                verdict = Verdict(False, f"{type(e).__name__}: {e}")
            step_rows.append(Row(step.name, check_name(check), verdict.ok, exit_, seconds, verdict.reason))
        if all(row.ok for row in step_rows):
            passed.add(step.name)
        rows += step_rows
        for row in step_rows[1:]:
            echo(f"{'PASS' if row.ok else 'FAIL'} {row.check}: {row.reason}\n")
    return rows


def summary_table(rows: list[Row]) -> str:
    """The rows as a table for the eye: one line per check, the step's exit and seconds on its first line."""
    lines = [f"{'step':14s} {'exit':>9s} {'seconds':>8s}  {'verdict':7s} {'check':28s} evidence"]
    shown = None
    for row in rows:
        first = row.step != shown
        shown = row.step
        lines.append(f"{row.step if first else '':14s} {row.exit if first else '':>9s} "
                     f"{f'{row.seconds:.1f}' if first and row.exit != 'skipped' else '':>8s}  "
                     f"{'PASS' if row.ok else 'FAIL':7s} {row.check:28s} {row.reason}")
    return "\n".join(lines)


def write_summary(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["step", "check", "verdict", "exit", "seconds", "reason"])
        writer.writerows([r.step, r.check, "pass" if r.ok else "fail", r.exit, f"{r.seconds:.1f}", r.reason]
                         for r in rows)


# ---- the helpers that steps run: install, facts, collect ----

def install(argv: list[str]) -> int:
    """pip-install the carried wheels into --site (no index, no dependencies: the machine's packages stay), and put
    console scripts for them and for embnorm in --site/bin."""
    p = argparse.ArgumentParser(prog="gpu_check.py install")
    p.add_argument("--wheels", type=Path, required=True)
    p.add_argument("--site", type=Path, required=True)
    args = p.parse_args(argv)
    wheels = sorted(args.wheels.glob("*.whl"))
    if not wheels:
        print(f"no wheels in {args.wheels}/: make them with benchmarks/gpu_wheels.sh and carry the folder")
        return 1
    print(f"{len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB", flush=True)
    code = subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
                            "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(args.site),
                            *map(str, wheels)])
    if code:
        return code
    write_console_scripts(args.site)
    for command in (["snakemake", "--version"], ["embnorm", "--help"]):  # through PATH, as the workflow finds them
        try:
            proc = subprocess.run(command, capture_output=True, text=True)
        except OSError as e:
            print(f"{' '.join(command)}: {e}")
            code = 1
            continue
        answer = (proc.stdout or proc.stderr).splitlines()
        print(f"{' '.join(command)}: {answer[0] if answer else '(nothing)'}")
        code = code or proc.returncode
    return code


def write_console_scripts(site: Path) -> None:
    """The console scripts of the wheels in `site` and of this repository's pyproject.toml, written the way pip
    writes them, for this Python (the repository's package comes from src/ on PYTHONPATH)."""
    import tomllib
    from importlib import metadata

    scripts = {ep.name: ep.value for dist in metadata.distributions(path=[str(site)])
               for ep in dist.entry_points if ep.group == "console_scripts"}
    scripts.update(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
    (site / "bin").mkdir(exist_ok=True)
    for name, target in scripts.items():
        module, attribute = target.split("[")[0].strip().split(":")  # "module:object.attribute [extra]"
        path = site / "bin" / name
        path.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {attribute.split('.')[0]}\n"
                        f"if __name__ == '__main__':\n    sys.exit({attribute}())\n")
        path.chmod(0o755)


def facts(argv: list[str]) -> int:
    """Print what the machine is and has: GPU, CPU, memory, tools, torch and CUDA, Snakemake, and every requirement
    of the installed wheels and of embnorm against the versions found. Fails (exit 1) when CUDA, flock, Snakemake or
    a required package is missing; a declared version conflict is printed but does not fail."""
    p = argparse.ArgumentParser(prog="gpu_check.py facts")
    p.add_argument("--site", type=Path, required=True)
    args = p.parse_args(argv)
    ok = True
    for command in (["nvidia-smi"], ["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version,clocks.max.sm",
                                     "--format=csv"]):
        try:
            print(subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.rstrip())
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"nvidia-smi: {e}")
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    shm = shutil.disk_usage("/dev/shm") if os.path.isdir("/dev/shm") else None
    print(f"cores {os.cpu_count()}; memory {memory:.0f} GiB; /dev/shm "
          + (f"{shm.total / 2**30:.1f} GiB total, {shm.free / 2**30:.1f} GiB free" if shm else "absent"))
    for tool in ("flock", "git", "gcc", "nvcc"):
        print(f"{tool:8s} {shutil.which(tool) or 'MISSING'}")
    if not shutil.which("flock"):
        print("MISSING  flock: profiles/local/gpu-shell cannot lock a GPU")
        ok = False
    ok &= torch_facts()
    proc = subprocess.run(["snakemake", "--version"], capture_output=True, text=True) if shutil.which("snakemake") \
        else None
    print(f"snakemake --version: {proc.stdout.strip()}" if proc and proc.returncode == 0 else "MISSING  snakemake")
    ok &= bool(proc and proc.returncode == 0)
    ok &= requirements_met(args.site)
    return 0 if ok else 1


def torch_facts() -> bool:
    import platform

    start = time.perf_counter()
    import torch
    import torchvision

    print(f"python {platform.python_version()} ({sys.executable}); torch {torch.__version__} (CUDA "
          f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}); torchvision {torchvision.__version__}; "
          f"import {time.perf_counter() - start:.1f} s")
    if not torch.cuda.is_available():
        print("CUDA: not available")
        return False
    start = time.perf_counter()
    torch.zeros(1, device="cuda")
    p = torch.cuda.get_device_properties(0)
    print(f"CUDA: {torch.cuda.device_count()} device(s); 0 = {p.name}, capability {p.major}.{p.minor}, "
          f"{p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs; first CUDA init "
          f"{time.perf_counter() - start:.1f} s; bf16 {torch.cuda.is_bf16_supported()}")
    return True


def requirements_met(site: Path) -> bool:
    """Every requirement of the wheels installed in `site` (installed without their dependencies) and of embnorm
    (pyproject.toml), against the version this Python finds: MISSING lines fail, CONFLICT lines are reported."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    shipped = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=[str(site)])}
    needs = [(d.metadata["Name"], Requirement(text)) for d in metadata.distributions(path=[str(site)])
             for text in d.requires or []]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    needs += [("embnorm", Requirement(text)) for text in project]
    problems, machine = [], {}
    for who, req in needs:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)  # sys.path order: the wheels first, then the machine's packages
        except metadata.PackageNotFoundError:
            problems.append(f"MISSING  {who} needs {req}")
            continue
        if canonicalize_name(req.name) not in shipped:
            machine[canonicalize_name(req.name)] = version
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            problems.append(f"CONFLICT {who} needs {req}, found {req.name} {version}")
    print(f"{len(shipped)} wheels installed: " + ", ".join(f"{n} {v}" for n, v in sorted(shipped.items())))
    print("the machine's packages they and embnorm use: " + ", ".join(f"{n} {v}" for n, v in sorted(machine.items())))
    print("\n".join(problems) or "every requirement is met")
    return not any(p.startswith("MISSING") for p in problems)


def collect(argv: list[str]) -> int:
    """Pack results/ (and Snakemake's logs) without checkpoints, embeddings, PDFs and the report into
    --out/results_small.tar.gz, again without figures and provenance when that is over the file limit; copy the
    report beside it when it is under the limit."""
    p = argparse.ArgumentParser(prog="gpu_check.py collect")
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if not args.results.is_dir():
        print(f"no {args.results}/")
        return 1
    tarball = args.out / "results_small.tar.gz"
    roots = [args.results] + [d for d in [args.results.parent / ".snakemake" / "log"] if d.is_dir()]
    for lean in (False, True):
        left_out = (".pt", ".npz", ".pdf", "report.html") + ((".png", "/provenance") if lean else ())
        with tarfile.open(tarball, "w:gz") as tar:
            for root in roots:
                tar.add(root, arcname=str(root.relative_to(args.results.parent)),
                        filter=lambda info: None if info.name.endswith(left_out) else info)
        if tarball.stat().st_size <= FILE_LIMIT:
            break
        print(f"{tarball.name} is {tarball.stat().st_size / 2**20:.1f} MiB: again without figures and provenance")
    print(f"{tarball}: {tarball.stat().st_size / 2**20:.1f} MiB")
    report = args.results / "report.html"
    if report.is_file() and report.stat().st_size <= FILE_LIMIT:
        shutil.copy(report, args.out / "report.html")
        print(f"{args.out / 'report.html'}: {report.stat().st_size / 2**20:.1f} MiB")
    return 0


HELPERS = {"install": install, "facts": facts, "collect": collect}


# ---- the command line ----

def set_tree_for_workflow(repo: Path, echo) -> None:
    """A fresh workflow: earlier outputs (a warm machine keeps ignored files) would make Snakemake skip every job, and a
    copy of the tree that lost gpu-shell's executable bit would fail every GPU job."""
    for name in ("results", ".snakemake"):
        if (repo / name).exists():
            aside = tempfile.mkdtemp(prefix="gpu-check-previous-")
            echo(f"moving the existing {name}/ aside to {aside}/\n")
            shutil.move(str(repo / name), aside)
    shell = repo / PROFILE / "gpu-shell"
    if not os.access(shell, os.X_OK):
        echo(f"{shell.relative_to(repo)} is not executable in this copy of the tree (git has it 100755): chmod +x\n")
        shell.chmod(0o755)


def step_limit(text: str) -> tuple[str, int]:
    name, _, seconds = text.partition("=")
    return name, int(seconds)


def parse_args(argv):
    names = ["install", "facts", "bench-eager", "speed", "monitor", "workflow", "report", "audit", "collect",
             "bench-compile"]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "/tmp/gpu-check-out"),
                   help="where the logs and files go (default: $OUT, else /tmp/gpu-check-out)")
    p.add_argument("--preset", choices=["cifar-gpu"], help="run config/cifar-gpu.yaml, shortened, instead of the "
                   "default study, without train_speed.py, and extrapolate its full wall time")
    p.add_argument("--preset-epochs", type=int, default=3, help="epochs per run of the shortened preset")
    p.add_argument("--budget-s", type=float, default=560, help="wall-clock budget of the whole check (default 560: "
                   "a lent machine runs a command for at most 600 s)")
    p.add_argument("--only", nargs="+", default=[], choices=names, metavar="STEP", help="run only these steps")
    p.add_argument("--skip", nargs="+", default=[], choices=names, metavar="STEP", help="leave these steps out")
    p.add_argument("--limit", nargs="+", default=[], metavar="STEP=SECONDS", type=step_limit,
                   help="a step's own time limit instead of its budget in the plan")
    p.add_argument("--configfile", nargs="+", default=[], help="more config files, merged over the study's")
    p.add_argument("--targets", nargs="+", default=[], help="Snakemake targets of the workflow step (default: all)")
    p.add_argument("--wheels", type=Path, default=Path(".whl"), help="the carried wheels (default .whl)")
    p.add_argument("--site", type=Path, default=Path("/tmp/site"), help="where the wheels are installed")
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    args = p.parse_args(argv)
    unknown = [name for name, _ in args.limit if name not in names]
    if unknown:
        p.error(f"--limit: no step {', '.join(unknown)} (the steps: {', '.join(names)})")
    args.out = args.out.absolute()
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in HELPERS:
        return HELPERS[argv[0]](argv[1:])
    args = parse_args(argv)
    steps = plan(args)
    if args.list:
        for s in steps:
            print(f"{s.name:14s} {s.budget_s:4d} s (at least {s.min_s:3d} s)  {' '.join(s.command)}\n"
                  f"{'':14s} checks: {', '.join(map(check_name, s.checks))}"
                  + (f"; needs {', '.join(s.needs)}" if s.needs else ""))
        return 0
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    with open(args.out / "gpu_check.log", "w") as log:
        def echo(text):
            sys.stdout.write(text)
            sys.stdout.flush()
            log.write(text)
            log.flush()

        echo(f"gpu_check: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}, {os.uname().nodename}, "
             f"{os.cpu_count()} cores, commit {git_head()}; out {args.out}; budget {args.budget_s:.0f} s\n")
        if args.preset == "cifar-gpu":
            overlay = preset_overlay(REPO, args.preset_epochs)
            (args.out / "logs" / "cifar-gpu-check.yaml").write_text(overlay)
            echo(f"config/cifar-gpu.yaml with logs/cifar-gpu-check.yaml:\n{overlay}")
        if any(s.name == "workflow" for s in steps):
            set_tree_for_workflow(REPO, echo)
        site = args.site.absolute()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": f"{site / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), str(site),
                                                           os.environ.get("PYTHONPATH")]))}
        rows = run_plan(steps, args.out, REPO / "results", args.budget_s, env, echo)
        write_summary(rows, args.out / "summary.tsv")
        with tarfile.open(args.out / "logs.tar.gz", "w:gz") as tar:
            tar.add(args.out / "logs", arcname="logs")
        shutil.rmtree(args.out / "logs")  # in logs.tar.gz: the lent machine returns at most 8 files
        failed = list(dict.fromkeys(row.step for row in rows if not row.ok))  # in the order of the plan
        echo(f"\n==== summary\n{summary_table(rows)}\n\n"
             + (f"FAILED: {', '.join(failed)}\n" if failed else "every step passed\n"))
    return 1 if failed else 0


def git_head() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True, timeout=10).stdout.strip()[:80] or "(no git checkout)"
    except OSError:
        return "(no git)"


if __name__ == "__main__":
    sys.exit(main())
