#!/usr/bin/env bash
# One-shot GPU check for a lent GPU machine (one NVIDIA H200, python3 with torch preinstalled, no snakemake, no
# network). Run from the repository root, with the wheels of .whl/ carried along (benchmarks/gpu_wheels.sh makes them):
#
#     bash benchmarks/gpu_check.sh
#
# Steps (each one's failure is reported, and the later independent steps still run):
#   1 install  the wheels of .whl/ (snakemake 9.27.1 and the dependencies the machine lacks) into /tmp/site, and
#              shims for `embnorm` (the console script of pyproject.toml) and `snakemake` on PATH
#   2 facts    nvidia-smi, torch/CUDA, snakemake --version, tools, and the versions of the preinstalled packages
#              that the wheels need, checked against the wheels' requirements
#   3 bench    benchmarks/train_speed.py --preset gpu (eager)
#   3b speed   benchmarks/speed.py: kNN/floor, augmentation/PIL, and the prefetched step against the compiled
#              model-only ceiling with the s/epoch (issue 16's ratios side by side); skipped by GPU_CHECK_SKIP_BENCH
#   3c monitor benchmarks/monitor_cost.py --device auto: NormMonitor's cost per probe image (docs/monitor.md)
#   4 workflow the default study through profiles/local on the GPU, as a user would:
#              EMBNORM_GPUS=0 snakemake --profile profiles/local --resources gpu=1 --cores N --configfile config.yaml
#              then `snakemake --report results/report.html` (as `make run` does) and `embnorm audit results`
#   5 evidence every train/embed job ran on CUDA through gpu-shell, no two of them at once on the one GPU; each run's
#              kNN accuracy (epoch 0 and final) and images/s; the claims table
#   6 collect  a small tarball of results/ (no checkpoints or embeddings) and the report into $OUT
#   7 compile  benchmarks/train_speed.py --preset gpu --compile (last: the slowest and least essential; it gets
#              what is left of the time budget)
#
# The one-GPU preset (issue 16): GPU_CHECK_PRESET=cifar-gpu runs config/cifar-gpu.yaml in step 4 instead of the
# default study (steps 3 and 7 are left out), shortened to GPU_CHECK_PRESET_EPOCHS epochs per run (default 3), on the
# built-in synthetic data at CIFAR size (50,000 train / 10,000 test images, 10 and 100 classes) when the CIFAR
# archives are not in resources/downloads; step 4d then extrapolates the preset's full wall time: the measured wall
# time plus the missing epochs at each run's median seconds per epoch. One command:
#
#     GPU_CHECK_PRESET=cifar-gpu GPU_CHECK_BUDGET_S=560 GPU_CHECK_WORKFLOW_S=360 bash benchmarks/gpu_check.sh
# Everything printed also goes to $OUT/gpu_check.log. Exit status 0 only if every step passed.
#
# Knobs (environment):
#   OUT                   where the files go (default /tmp/gpu-check-out)
#   GPU_CHECK_BUDGET_S    wall-clock budget of the whole script in seconds (default 400); each step's timeout is cut to
#                         what is left, and a step that cannot get its minimum is skipped (and counted as failed)
#   GPU_CHECK_QUICK=1     a tiny version for testing the script on a CPU machine: benchmark with 2 steps, and the
#                         workflow on config/ci-slurm.yaml (one 2-epoch run on 240 images) up to runs.tsv, training.tsv
#                         and norm_vs_ood.tsv
#   GPU_CHECK_ALLOW_CPU=1 do not fail when CUDA is absent (testing the script on a CPU machine)
#   GPU_CHECK_CONFIG      an extra --configfile merged over config.yaml; GPU_CHECK_TARGETS: snakemake targets
#   GPU_CHECK_WORKFLOW_S  the workflow step's time limit (default 300; also cut to the budget)
#   GPU_CHECK_SKIP_BENCH=1 skip the benchmark runs (testing the workflow steps alone)
#   GPU_CHECK_PRESET      cifar-gpu: the one-GPU preset above; GPU_CHECK_PRESET_EPOCHS its epochs per run
#   EMBNORM_GPUS          the GPU pool of profiles/local/gpu-shell (default "0")
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
REPO=$PWD
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT" || exit 2
LOG=$OUT/gpu_check.log
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!
export PYTHONUNBUFFERED=1

BUDGET=${GPU_CHECK_BUDGET_S:-400}
QUICK=${GPU_CHECK_QUICK:-0}
ALLOW_CPU=${GPU_CHECK_ALLOW_CPU:-0}
SITE=/tmp/site
SHIMS=/tmp/gpu-check-bin
CORES=$(nproc)
START=$SECONDS
FAILED=()
PASSED=()

elapsed() { echo $((SECONDS - START)); }
left() { echo $((BUDGET - (SECONDS - START))); }
# limit WANT MIN: a timeout of at most WANT seconds that leaves RESERVE seconds of the budget for later steps;
# prints nothing (and returns 1) when fewer than MIN seconds would be left.
limit() {
  local want=$1 min=$2 reserve=${3:-0} l
  l=$(( $(left) - reserve ))
  [ "$l" -lt "$want" ] && want=$l
  [ "$want" -lt "$min" ] && return 1
  echo "$want"
}
banner() { printf '\n==================== [t=%ss, %ss left] %s\n' "$(elapsed)" "$(left)" "$*"; }
pass() { PASSED+=("$1"); echo ">>> PASS: $1 ($(elapsed) s since start)"; }
fail() { FAILED+=("$1"); echo ">>> FAIL: $1 ($(elapsed) s since start)"; }
skip() { FAILED+=("$1 (skipped: $2)"); echo ">>> SKIPPED: $1: $2"; }
why() { case $1 in 124|137) echo "exit $1: timed out";; *) echo "exit $1";; esac; }

banner "gpu_check: $(date -u +%FT%TZ) host $(uname -n) repo $REPO OUT $OUT budget ${BUDGET}s quick=$QUICK cores=$CORES"
git -C "$REPO" log -1 --oneline 2>/dev/null || echo "(no git checkout here)"

# ---------------------------------------------------------------------------------------------------- 1 install
banner "1 install: .whl/*.whl -> $SITE; shims in $SHIMS"
install_ok=1
ls .whl/*.whl > /dev/null 2>&1 || { echo "no wheels in .whl/ (carry .whl)"; install_ok=0; }
if [ "$install_ok" = 1 ]; then
  echo "$(ls .whl/*.whl | wc -l) wheels, $(du -ch .whl/*.whl | tail -1 | cut -f1)"
  timeout -k 5 120 python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || { echo "pip install of the wheels failed"; install_ok=0; }
fi
PY=$(python3 -c 'import sys; print(sys.executable)')
export PYTHONPATH="$REPO/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$SHIMS"
# `embnorm` as pyproject.toml's [project.scripts] defines it (embnorm = "embnorm.cli:main"), written the way pip writes
# console scripts, for this machine's python3 (the repo's package comes from $REPO/src through PYTHONPATH)
cat > "$SHIMS/embnorm" <<EOF
#!$PY
import re
import sys
from embnorm.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?\$", "", sys.argv[0])
    sys.exit(main())
EOF
# `snakemake` likewise (snakemake = "snakemake.cli:main"), in case pip --target wrote no bin/snakemake
if [ ! -x "$SITE/bin/snakemake" ]; then
  sed 's/from embnorm.cli import main/from snakemake.cli import main/' "$SHIMS/embnorm" > "$SHIMS/snakemake"
fi
chmod +x "$SHIMS"/*
export PATH="$SHIMS:$SITE/bin:$PATH"
echo "python3: $PY; PYTHONPATH=$PYTHONPATH"
echo "embnorm: $(command -v embnorm); snakemake: $(command -v snakemake)"
if [ "$install_ok" = 1 ] && embnorm --help > /dev/null && snakemake --version > /dev/null; then
  pass install
else
  fail install
fi

# ---------------------------------------------------------------------------------------------------- 2 facts
banner "2 facts: GPU, torch, snakemake, tools, dependency versions"
facts_ok=1
nvidia-smi || { echo "nvidia-smi failed"; [ "$ALLOW_CPU" = 1 ] || facts_ok=0; }
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null
echo "cores $CORES; $(free -g 2>/dev/null | awk '/Mem:/{print "memory " $2 " GiB"}'); /dev/shm: $(df -h /dev/shm 2>/dev/null | awk 'NR==2{print $2 " total, " $4 " free"}')"
for tool in flock timeout tar gzip git gcc cc nvcc; do printf '%-8s %s\n' "$tool" "$(command -v $tool || echo MISSING)"; done
command -v flock > /dev/null || { echo "flock is missing: profiles/local/gpu-shell cannot lock a GPU"; facts_ok=0; }
timeout -k 5 120 python3 - <<'EOF' || facts_ok=0
import os, platform, sys, time
t = time.perf_counter()
import torch, torchvision
print(f"python {platform.python_version()} ({sys.executable}); torch {torch.__version__} (CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}); torchvision {torchvision.__version__}; import {time.perf_counter() - t:.1f} s")
if torch.cuda.is_available():
    t = time.perf_counter()
    torch.zeros(1, device="cuda")
    p = torch.cuda.get_device_properties(0)
    print(f"CUDA: {torch.cuda.device_count()} device(s); 0 = {p.name}, capability {p.major}.{p.minor}, "
          f"{p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs; first CUDA init {time.perf_counter() - t:.1f} s; "
          f"bf16 {torch.cuda.is_bf16_supported()}")
elif os.environ.get("GPU_CHECK_ALLOW_CPU") == "1":
    print("CUDA: not available (allowed: GPU_CHECK_ALLOW_CPU=1)")
else:
    print("CUDA: NOT AVAILABLE")
    sys.exit(1)
EOF
snakemake --version || facts_ok=0
# The wheels were installed with --no-deps: check every requirement of every installed wheel against what this machine
# has (the preinstalled packages' versions are the machine's, not ours).
timeout -k 5 60 python3 - "$SITE" <<'EOF' || facts_ok=0
import sys
from importlib import metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

site = sys.argv[1]
shipped = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=[site])}
problems, conflicts, used = [], [], {}
for dist in metadata.distributions(path=[site]):
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        try:
            version = metadata.version(req.name)  # sys.path order: the wheels first, then the machine's packages
        except metadata.PackageNotFoundError:
            problems.append(f"MISSING  {dist.metadata['Name']} needs {req}")
            continue
        if name not in shipped:
            used.setdefault(name, (version, set()))[1].add(f"{dist.metadata['Name']}: {req.specifier or 'any'}")
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            conflicts.append(f"CONFLICT {dist.metadata['Name']} needs {req}, found {req.name} {version}")
print(f"{len(shipped)} wheels installed: " + ", ".join(f"{n} {v}" for n, v in sorted(shipped.items())))
print("preinstalled packages they use: " + "; ".join(f"{n} {v} ({', '.join(sorted(w))})" for n, (v, w) in sorted(used.items())))
for name in ("numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "seaborn", "pyyaml", "tqdm", "pillow", "jsonschema"):
    try:
        print(f"  embnorm needs {name}: {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        problems.append(f"MISSING  embnorm needs {name}")
# a declared version conflict is reported but does not fail the step (the workflow step shows whether it matters)
print("\n".join(problems + [f"WARNING: {c}" for c in conflicts]) or "dependency check: every requirement is met")
sys.exit(1 if problems else 0)
EOF
if [ "$facts_ok" = 1 ]; then pass facts; else fail facts; fi

# ---------------------------------------------------------------------------------------------------- 3 bench
BENCH_ARGS=(--preset gpu)
if [ "$QUICK" = 1 ]; then BENCH_ARGS+=(--steps 2 --warmup 1 --rounds 1 --workers 1); fi
shm_free_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR==2{print $4}')
if [ -n "$shm_free_mb" ] && [ "$shm_free_mb" -lt 2048 ] && [ "$QUICK" != 1 ]; then
  echo "only ${shm_free_mb} MB free in /dev/shm: the PIL DataLoader runs in the main process (--workers 0)"
  BENCH_ARGS+=(--workers 0)
fi
# bench NAME OUTFILE WANT MIN RESERVE ARGS...: one train_speed.py run, its time limit cut to the budget
bench() {
  local name=$1 file=$2 want=$3 min=$4 reserve=$5 t rc
  shift 5
  banner "$name: python3 benchmarks/train_speed.py $*"
  if [ "${GPU_CHECK_SKIP_BENCH:-0}" = 1 ]; then
    skip "$name" "GPU_CHECK_SKIP_BENCH=1"
  elif t=$(limit "$want" "$min" "$reserve"); then
    timeout -k 10 "$t" python3 benchmarks/train_speed.py "$@" 2>&1 | tee "$OUT/$file"
    rc=${PIPESTATUS[0]}
    echo "(exit $rc; limit ${t}s)"
    if [ "$rc" = 0 ]; then pass "$name"; else fail "$name ($(why "$rc"))"; fi
  else
    skip "$name" "fewer than ${min} s of the ${BUDGET}s budget left"
  fi
}
PRESET=${GPU_CHECK_PRESET:-}
if [ -z "$PRESET" ]; then
  bench bench-eager bench_eager.txt 120 30 230 "${BENCH_ARGS[@]}"
fi

# ---------------------------------------------------------------------------------------------------- 3b speed
banner "3b speed: python3 benchmarks/speed.py (issue 16's ratios)"
SPEED_ARGS=()
[ "$QUICK" = 1 ] && SPEED_ARGS=(--rounds 1 --gpu-steps 2 --skip knn)
if [ "${GPU_CHECK_SKIP_BENCH:-0}" = 1 ]; then
  skip speed "GPU_CHECK_SKIP_BENCH=1"
elif t=$(limit 150 40 200); then
  timeout -k 10 "$t" python3 benchmarks/speed.py "${SPEED_ARGS[@]}" 2>&1 | tee "$OUT/speed.txt"
  rc=${PIPESTATUS[0]}
  echo "(exit $rc; limit ${t}s)"
  if [ "$rc" = 0 ]; then pass speed; else fail "speed ($(why "$rc"))"; fi
else
  skip speed "no time left"
fi

# ---------------------------------------------------------------------------------------------------- 3c monitor
# NormMonitor's cost per probe image on the GPU (docs/monitor.md states the CPU figure and awaits this one)
MONITOR_ARGS=(--device auto --threads 0 --probe 4096 --ood 2048 --batch 1024 --train-batch 512)
[ "$QUICK" = 1 ] && MONITOR_ARGS=(--device auto --probe 256 --ood 128 --rounds 1 --backbones small)
banner "3c monitor: python3 benchmarks/monitor_cost.py ${MONITOR_ARGS[*]}"
if [ "${GPU_CHECK_SKIP_BENCH:-0}" = 1 ]; then
  skip monitor "GPU_CHECK_SKIP_BENCH=1"
elif t=$(limit 60 15 230); then
  timeout -k 5 "$t" python3 benchmarks/monitor_cost.py "${MONITOR_ARGS[@]}" 2>&1 | tee "$OUT/monitor_cost.txt"
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then pass monitor; else fail "monitor ($(why "$rc"))"; fi
else
  skip monitor "fewer than 15 s of the ${BUDGET}s budget left"
fi

# ---------------------------------------------------------------------------------------------------- 4 workflow
CONFIG_ARGS=(--configfile config.yaml)
TARGETS=()
if [ "$QUICK" = 1 ]; then
  CONFIG_ARGS=(--configfile config.yaml config/ci-slurm.yaml)
  TARGETS=(results/runs.tsv results/tables/training.tsv results/tables/norm_vs_ood.tsv)
fi
if [ "$PRESET" = cifar-gpu ]; then
  # the preset, shortened; on synthetic data at CIFAR size when the CIFAR archives are absent (no network here)
  PRESET_EPOCHS=${GPU_CHECK_PRESET_EPOCHS:-3}
  OVERLAY=$OUT/cifar-gpu-check.yaml
  { echo "train: {epochs: $PRESET_EPOCHS, knn_every: 1, checkpoint_every: $PRESET_EPOCHS}"
    if [ ! -e resources/downloads/cifar10/cifar-10-python.tar.gz ] || [ ! -e resources/downloads/cifar100/cifar-100-python.tar.gz ]; then
      echo "datasets:"
      echo "  cifar10: {source: synthetic, synthetic: {family: 0, classes: 10, n_train: 50000, n_test: 10000}, human_labels: simulated}"
      echo "  cifar100: {source: synthetic, synthetic: {family: 1, classes: 100, n_train: 50000, n_test: 10000}, human_labels: simulated}"
    fi; } > "$OVERLAY"
  echo "config/cifar-gpu.yaml with $OVERLAY:"; cat "$OVERLAY"
  CONFIG_ARGS=(--configfile config.yaml config/cifar-gpu.yaml "$OVERLAY")
fi
[ -n "${GPU_CHECK_CONFIG:-}" ] && CONFIG_ARGS+=("$GPU_CHECK_CONFIG")
[ -n "${GPU_CHECK_TARGETS:-}" ] && read -r -a TARGETS <<< "$GPU_CHECK_TARGETS"
export EMBNORM_GPUS=${EMBNORM_GPUS:-0}
SMK=(snakemake "${TARGETS[@]}" --profile profiles/local --resources gpu=1 --cores "$CORES" "${CONFIG_ARGS[@]}")
banner "4 workflow: EMBNORM_GPUS=\"$EMBNORM_GPUS\" ${SMK[*]}"
# Snakemake runs gpu-shell as a program: a copy of the tree that lost its executable bit would fail every GPU job
if [ ! -x profiles/local/gpu-shell ]; then
  echo "WARNING: profiles/local/gpu-shell is not executable in this copy of the tree (git has it 100755): chmod +x"
  chmod +x profiles/local/gpu-shell
fi
# a previous check's outputs (a warm machine keeps ignored files) would make Snakemake skip every job
for d in results .snakemake; do
  if [ -e "$d" ]; then
    aside=$(mktemp -d /tmp/gpu-check-previous-XXXXXX)
    echo "moving the existing $d/ aside to $aside/"
    mv "$d" "$aside/"
  fi
done
workflow_ok=0
if t=$(limit "${GPU_CHECK_WORKFLOW_S:-300}" 60 45); then
  wf_start=$SECONDS
  timeout -k 10 "$t" "${SMK[@]}" 2>&1 | tee "$OUT/snakemake.log"
  rc=${PIPESTATUS[0]}
  wf_wall=$((SECONDS - wf_start))
  echo "(exit $rc after $wf_wall s; limit ${t}s)"
  if [ "$rc" = 0 ]; then pass workflow; workflow_ok=1; else fail "workflow ($(why "$rc"))"; fi
else
  skip workflow "no time left"
fi
if [ "$QUICK" != 1 ] && [ "$workflow_ok" = 1 ]; then
  banner "4b report: snakemake --cores $CORES ${CONFIG_ARGS[*]} --report results/report.html"
  if t=$(limit 90 20 30); then
    if timeout -k 5 "$t" snakemake --cores "$CORES" "${CONFIG_ARGS[@]}" --report results/report.html > "$OUT/report_step.txt" 2>&1; then
      tail -3 "$OUT/report_step.txt"; ls -la results/report.html; pass report
    else
      tail -20 "$OUT/report_step.txt"; fail report
    fi
    rm -f "$OUT/report_step.txt"
  else
    skip report "no time left"
  fi
fi
if [ "$PRESET" = cifar-gpu ]; then
  banner "4d preset: the full cifar-gpu preset's wall time, extrapolated from the shortened run"
  timeout -k 5 60 python3 - "${wf_wall:-0}" "$PRESET_EPOCHS" <<'EOF' || fail preset-estimate
import csv, glob, sys
import yaml

wall, epochs = float(sys.argv[1]), int(sys.argv[2])
full = yaml.safe_load(open("config/cifar-gpu.yaml"))["train"]["epochs"]
extra = 0.0
if not glob.glob("results/runs/*/metrics.tsv"):
    sys.exit("!! no run of the preset finished: nothing to extrapolate from")
for path in sorted(glob.glob("results/runs/*/metrics.tsv")):
    rows = [r for r in csv.DictReader(open(path), delimiter="\t") if r.get("seconds")]
    per_epoch = sorted(float(r["seconds"]) for r in rows)[len(rows) // 2]  # median: the first epoch warms up
    extra += (full - epochs) * per_epoch
    print(f"  {rows[0]['run_id']:40s} median {per_epoch:6.2f} s per epoch (training only, without the kNN monitor)")
print(f"cifar-gpu preset: {epochs} epochs per run took {wall:.0f} s in all (wall, workflow step); the full {full} "
      f"epochs: about {(wall + extra) / 60:.1f} min (the kNN monitor's later evaluations not included)")
EOF
fi
if [ "$QUICK" != 1 ] && [ -z "${GPU_CHECK_CONFIG:-}${GPU_CHECK_TARGETS:-}${PRESET}" ] && [ "$workflow_ok" = 1 ]; then
  banner "4c audit: embnorm audit results (every artifact against its provenance record)"
  if timeout -k 5 60 embnorm audit results 2>&1 | tail -15; then  # pipefail: the audit's status
    pass audit
  else
    fail audit
  fi
fi

# ---------------------------------------------------------------------------------------------------- 5 evidence
banner "5 evidence: GPU placement of the train/embed jobs, kNN accuracies, claims"
if timeout -k 5 60 python3 - "$OUT/snakemake.log" <<'EOF'; then pass evidence; else fail evidence; fi
import csv, glob, json, os, re, sys
from datetime import datetime

log = open(sys.argv[1]).read() if os.path.exists(sys.argv[1]) else ""
allow_cpu = os.environ.get("GPU_CHECK_ALLOW_CPU") == "1"
ok = True

# Snakemake's own account: how many train/embed jobs it started, and gpu-shell's line for each one it wrapped
started = {rule: len(re.findall(rf"^(?:local)?rule {rule}:", log, re.M)) for rule in ("train", "embed")}
shell_lines = re.findall(r"^gpu-shell: GPU .*$", log, re.M)
print(f"snakemake started: {started['train']} train and {started['embed']} embed jobs; gpu-shell lines: {len(shell_lines)}")
for line in shell_lines:
    print("   ", line)
if len(shell_lines) != started["train"] + started["embed"]:
    print("!! not every train/embed job went through profiles/local/gpu-shell")
    ok = False
planned = {}
stats = re.search(r"^Job stats:\n.*?\n-+ +-+\n(.*?)\n\n", log, re.M | re.S)
for line in (stats.group(1).splitlines() if stats else []):
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        planned[parts[0]] = int(parts[1])
print(f"snakemake planned: {planned.get('train', 0)} train, {planned.get('embed', 0)} embed, "
      f"{planned.get('total', 0)} jobs in all")
if not started["train"]:
    print("!! no train job ran")
    ok = False

# The jobs' own account: each artifact's provenance record names the device the process used
jobs = {}
for path in glob.glob("results/provenance/**/*.json", recursive=True):
    with open(path) as f:
        rec = json.load(f)
    if rec.get("command") in ("train", "embed"):
        key = (rec["command"], rec.get("run_id"), rec["start"])
        jobs.setdefault(key, {"end": rec["end"], "device": rec.get("device"), "artifacts": []})["artifacts"].append(
            rec["artifact"])
print(f"\nprovenance: {len(jobs)} train/embed job records")
for (command, run, start), job in sorted(jobs.items(), key=lambda kv: kv[0][2]):
    seconds = (datetime.fromisoformat(job["end"]) - datetime.fromisoformat(start)).total_seconds()
    print(f"  {command:5s} {run:40s} {start[11:23]} {seconds:6.1f} s  {job['device']}  ({len(job['artifacts'])} files)")
    if not str(job["device"]).startswith("cuda") and not allow_cpu:
        ok = False
not_cuda = [k for k, j in jobs.items() if not str(j["device"]).startswith("cuda")]
print(f"jobs on CUDA: {len(jobs) - len(not_cuda)} of {len(jobs)}" + ("" if not not_cuda else f"; NOT on CUDA: {len(not_cuda)}"))
finished = {c: sum(1 for k in jobs if k[0] == c) for c in ("train", "embed")}
for c in ("train", "embed"):
    print(f"{c} jobs finished (provenance): {finished[c]} of {planned.get(c, '?')} planned")
    if finished[c] < planned.get(c, 0):
        ok = False
# one GPU in the pool: no two GPU jobs may have overlapped in time (the records' times lie inside each process's life)
spans = sorted((datetime.fromisoformat(s), datetime.fromisoformat(j["end"]), c, r) for (c, r, s), j in jobs.items())
overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
for a, b in overlaps:
    print(f"!! overlap on the one GPU: {a[2]} {a[3]} and {b[2]} {b[3]}")
ok &= not overlaps and bool(jobs)
print("GPU jobs overlapping in time: " + ("none" if not overlaps else str(len(overlaps))))

# Results: per run, epoch-0 and final kNN accuracy, training speed (README's CPU reference: SimCLR none 84.7 %, SimSiam
# 84.3 % after 8 epochs, 82.0 % at initialization)
print("\nper run (results/runs/*/metrics.tsv): epochs, kNN acc at epoch 0 -> final, mean img/s after epoch 1, train s")
for path in sorted(glob.glob("results/runs/*/metrics.tsv")):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    knn = [(r["epoch"], r.get("knn_acc")) for r in rows if r.get("knn_acc")]
    speed = [float(r["images_per_s"]) for r in rows[2:] if r.get("images_per_s")]
    seconds = sum(float(r["seconds"]) for r in rows if r.get("seconds"))
    print(f"  {rows[0]['run_id']:40s} {rows[-1]['epoch']:>3s} ep  knn {float(knn[0][1]):.3f} -> {float(knn[-1][1]):.3f}"
          f"  {sum(speed) / max(len(speed), 1):8.0f} img/s  {seconds:6.1f} s")
for path in sorted(glob.glob("results/runs/*/train.log"))[:1]:
    print(f"\n{path}:")
    print(open(path).read().rstrip()[-1500:])
if os.path.exists("results/tables/training.tsv"):
    print("\nresults/tables/training.tsv (test kNN, k = 200, cosine, backbone):")
    for r in csv.DictReader(open("results/tables/training.tsv"), delimiter="\t"):
        print(f"  {r['run_id']:40s} init {float(r['init_knn_acc']):.3f} final {float(r['final_knn_acc']):.3f}"
              f"  norm growth {float(r['norm_growth']):.2f}")
if os.path.exists("results/tables/claims.tsv"):
    print("\nresults/tables/claims.tsv (verdicts):")
    for r in csv.DictReader(open("results/tables/claims.tsv"), delimiter="\t"):
        print(f"  {r.get('claim', '?'):4s} {r.get('verdict', '?'):14s} {r.get('claim_text', '')[:90]}")
if not glob.glob("results/runs/*/metrics.tsv"):
    print("!! no run finished")
    ok = False
sys.exit(0 if ok else 1)
EOF

# ---------------------------------------------------------------------------------------------------- 6 collect
banner "6 collect: results/ (no checkpoints, embeddings or PDFs) into $OUT"
if [ -d results ]; then
  extra=()
  [ -d .snakemake/log ] && extra+=(.snakemake/log)
  tar -czf "$OUT/results_small.tar.gz" --exclude='*.pt' --exclude='*.npz' --exclude='*.pdf' --exclude='report.html' \
    results "${extra[@]}" 2>&1
  size=$(stat -c %s "$OUT/results_small.tar.gz")
  if [ "$size" -gt $((15 * 1024 * 1024)) ]; then
    echo "tarball is $size bytes: again without figures and provenance"
    tar -czf "$OUT/results_small.tar.gz" --exclude='*.pt' --exclude='*.npz' --exclude='*.pdf' --exclude='*.png' \
      --exclude='report.html' --exclude='results/provenance' results "${extra[@]}"
  fi
  if [ -f results/report.html ] && [ "$(stat -c %s results/report.html)" -le $((15 * 1024 * 1024)) ]; then
    cp results/report.html "$OUT/report.html"
  fi
  ls -la "$OUT"
  pass collect
else
  fail "collect (no results/)"
fi

# ---------------------------------------------------------------------------------------------------- 7 compile
COMPILE_ARGS=("${BENCH_ARGS[@]}" --compile)
[ "$QUICK" = 1 ] || COMPILE_ARGS+=(--rounds 1)  # most of this run is compiling; one round of measures is enough
[ -z "$PRESET" ] && bench bench-compile bench_compile.txt 200 60 5 "${COMPILE_ARGS[@]}"

# ---------------------------------------------------------------------------------------------------- summary
banner "summary"
echo "passed: ${PASSED[*]:-none}"
status=0
if [ "${#FAILED[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${FAILED[@]}"
  status=1
fi
echo "gpu_check: exit $status after $(elapsed) s; files in $OUT:"
ls -la "$OUT"
{ echo "passed: ${PASSED[*]:-none}"; [ "${#FAILED[@]}" -gt 0 ] && printf 'FAILED: %s\n' "${FAILED[@]}"
  echo "exit $status after $(elapsed) s"; } > "$OUT/summary.txt"
exec 1>&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit "$status"
