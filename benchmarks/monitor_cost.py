"""Monitor-cost benchmark (a script, not a test): what one `embnorm.monitor.NormMonitor` call costs per probe image.

For each backbone it builds the workflow's SimCLR model (`embnorm.models.build_model`: the CPU preset's small CNN
with a 128-d projector, and ResNet-18 with a 256-d projector, CIFAR stem, 32 px), monitors its backbone and projector
outputs on `--probe` random images with `--ood` random OOD images and 10 probe classes, and times
  embed  the forward passes (eval mode, fp32, mode and RNG restored),
  stats  norm_stats, rankme and norm_ood_auroc of both layers,
  total  one monitor(model) call,
the best of `--rounds` rounds after one warm-up call, in wall-clock and (on the CPU) process CPU seconds. Per probe
image = total / (probe + ood images). For scale it also times one SimCLR training step (two views, forward and
backward) per training image on the same model.

A second table is the training monitor's BatchNorm protocol (`embnorm.train.monitor`): every evaluation runs on a
copy of the model whose BatchNorm statistics are re-estimated on the `--probe` probe images. It times
  recal  with_data_bn_statistics: the copy and one train-mode forward pass over the probe,
  norms  the eval-mode forward pass over the probe that every evaluation makes anyway,
so recal is what the protocol adds per evaluation (per epoch), beside the training step's cost per image.

    .venv/bin/python benchmarks/monitor_cost.py                         # CPU, 1 thread, small and resnet18
    .venv/bin/python benchmarks/monitor_cost.py --device cuda --probe 4096 --ood 2048
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone

import torch

from embnorm.models import build_model
from embnorm.monitor import NormMonitor, norm_ood_auroc, norm_stats, rankme
from embnorm.evaluation.features import embed_batches, with_data_bn_statistics

EMBED_DIM = {"small": 128, "resnet18": 256, "resnet50": 256}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def model_params(backbone: str) -> dict:
    return {"model": "simclr", "backbone": backbone, "hidden_dim": 0, "embed_dim": EMBED_DIM[backbone],
            "predictor_dim": 0, "temperature": 0.5, "loss": "ntxent", "gradscale": 0.0, "cut": 1.0, "cut_scope": "all"}


def timed(fn, device: torch.device) -> tuple[float, float, object]:
    """(wall s, process CPU s, result) of fn(), CUDA work included."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def best_of(rounds: int, fn, device) -> tuple[float, float, object]:
    fn()  # warm-up (allocator, cuDNN algorithm choice, lazy imports)
    runs = [timed(fn, device) for _ in range(rounds)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def measure(backbone: str, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = build_model(model_params(backbone), image_size=32).to(device).train()
    probe = torch.rand(args.probe, 3, 32, 32)
    ood = torch.rand(args.ood, 3, 32, 32) if args.ood else None
    monitor = NormMonitor(probe, probe_labels=torch.arange(args.probe) % 10, ood_images=ood,
                          layers=["backbone", "projector"], batch_size=args.batch)
    embed_s, embed_cpu, _ = best_of(args.rounds, lambda: (monitor.embed(model, probe),
                                                          ood is not None and monitor.embed(model, ood)), device)
    z, z_ood = monitor.embed(model, probe), (monitor.embed(model, ood) if ood is not None else None)

    def stats():
        for layer in z:
            norm_stats(z[layer], monitor.probe_labels)
            rankme(z[layer])
            if z_ood is not None:
                norm_ood_auroc(z[layer], z_ood[layer])

    stats_s, stats_cpu, _ = best_of(args.rounds, stats, device)
    total_s, total_cpu, row = best_of(args.rounds, lambda: monitor(model, epoch=0), device)
    assert model.training, "the monitor must restore train mode"

    x = torch.rand(args.train_batch, 3, 32, 32, device=device)

    def train_step():
        model.zero_grad(set_to_none=True)
        model.loss(x, x.flip(3)).backward()

    step_s, step_cpu, _ = best_of(args.rounds, train_step, device)
    images = args.probe + args.ood
    return {"backbone": backbone, "images": images, "embed_s": embed_s, "stats_s": stats_s, "total_s": total_s,
            "total_cpu_s": total_cpu, "ms_per_image": 1e3 * total_s / images,
            "cpu_ms_per_image": 1e3 * total_cpu / images, "train_ms_per_image": 1e3 * step_s / args.train_batch,
            "train_cpu_ms_per_image": 1e3 * step_cpu / args.train_batch, "rankme": row["projector_rankme"]}


def measure_protocol(backbone: str, args, device: torch.device) -> dict:
    """What re-estimating BatchNorm statistics on the probe adds to one training-monitor evaluation."""
    torch.manual_seed(0)
    model = build_model(model_params(backbone), image_size=32).to(device).train()
    probe = torch.randint(0, 256, (args.probe, 32, 32, 3), dtype=torch.uint8, device=device)
    recal_s, recal_cpu, _ = best_of(args.rounds, lambda: with_data_bn_statistics(model, probe, args.batch), device)
    norms_s, norms_cpu, _ = best_of(args.rounds, lambda: embed_batches(model, probe, model.layers, args.batch), device)
    return {"backbone": backbone, "recal_s": recal_s, "recal_cpu_s": recal_cpu, "norms_s": norms_s,
            "norms_cpu_s": norms_cpu, "recal_ms_per_image": 1e3 * recal_s / args.probe,
            "recal_cpu_ms_per_image": 1e3 * recal_cpu / args.probe}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (CUDA when available)")
    parser.add_argument("--backbones", nargs="+", default=["small", "resnet18"], choices=sorted(EMBED_DIM))
    parser.add_argument("--probe", type=int, default=512, help="probe images")
    parser.add_argument("--ood", type=int, default=256, help="OOD images (0: none)")
    parser.add_argument("--batch", type=int, default=256, help="the monitor's batch size")
    parser.add_argument("--train-batch", type=int, default=128, help="batch of the reference training step")
    parser.add_argument("--rounds", type=int, default=3, help="timed repetitions; the best is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"monitor_cost: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, device {device} "
          f"({name}), torch {torch.__version__}, {torch.get_num_threads()} of {os.cpu_count()} CPU thread(s); "
          f"probe {args.probe} + OOD {args.ood} images 32 px, batch {args.batch}, best of {args.rounds}")
    print(f"{'backbone':9s} {'embed s':>8s} {'stats s':>8s} {'total s':>8s} {'CPU s':>7s} {'ms/img':>7s} "
          f"{'CPU ms/img':>10s} {'train ms/img':>12s} {'train CPU ms/img':>16s}")
    for backbone in args.backbones:
        r = measure(backbone, args, device)
        print(f"{r['backbone']:9s} {r['embed_s']:8.3f} {r['stats_s']:8.3f} {r['total_s']:8.3f} {r['total_cpu_s']:7.3f} "
              f"{r['ms_per_image']:7.3f} {r['cpu_ms_per_image']:10.3f} {r['train_ms_per_image']:12.3f} "
              f"{r['train_cpu_ms_per_image']:16.3f}")
    print("ms/img: one monitor call's wall time per probe or OOD image; train ms/img: one SimCLR step (two views, "
          "forward + backward) per training image. CPU columns: process CPU time (meaningless on CUDA).")
    print(f"\ntraining monitor, BatchNorm statistics re-estimated on {args.probe} probe images at every evaluation:")
    print(f"{'backbone':9s} {'recal s':>8s} {'recal CPU s':>11s} {'norms s':>8s} {'norms CPU s':>11s} "
          f"{'recal ms/img':>12s} {'recal CPU ms/img':>16s}")
    for backbone in args.backbones:
        r = measure_protocol(backbone, args, device)
        print(f"{r['backbone']:9s} {r['recal_s']:8.3f} {r['recal_cpu_s']:11.3f} {r['norms_s']:8.3f} "
              f"{r['norms_cpu_s']:11.3f} {r['recal_ms_per_image']:12.3f} {r['recal_cpu_ms_per_image']:16.3f}")
    print("recal: the copy and the train-mode pass over the probe that each evaluation adds; norms: the eval-mode pass "
          "over the probe that each evaluation makes anyway (kNN passes over bank and queries not included).")


if __name__ == "__main__":
    main()
