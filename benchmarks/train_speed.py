"""Training-speed benchmark (a script, not a test): our batched on-device augmentation against a per-image
PIL/torchvision-transforms DataLoader pipeline (what most SSL repositories use), and the training step fed by each
against the model-only ceiling.

For each preset it prints
  (a) augmentation throughput, two views per image: ours, PIL DataLoader, and their ratio;
  (b) the full training step's images/s fed by each pipeline;
  (c) the model-only step on pre-made tensors (the ceiling), and (b) as a fraction of (c);
and the estimated seconds per 50,000-image epoch. An "image" is one training image, i.e. a pair of views.

Presets: `cpu` (the CPU preset: small backbone, 32 px, SimCLR batch 256) always; `gpu` (ResNet-18 SimCLR, 32 px,
batch 512, bf16, channels_last) when CUDA is present. Examples:

    .venv/bin/python benchmarks/train_speed.py                      # cpu preset (and gpu if CUDA), defaults
    .venv/bin/python benchmarks/train_speed.py --preset gpu --compile --steps 30
    .venv/bin/python benchmarks/train_speed.py --preset cpu --batch 128 --steps 3 --workers 2
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from embnorm.models import build_model
from embnorm.train.augment import RECIPES, AugmentRecipe, two_views
from embnorm.train.step import micro_batches, optimizer_step

PRESETS = {
    "cpu": {"backbone": "small", "image_size": 32, "batch": 256, "embed_dim": 128, "steps": 4, "warmup": 2},
    "gpu": {"backbone": "resnet18", "image_size": 32, "batch": 512, "embed_dim": 256, "steps": 40, "warmup": 10},
}
EPOCH_IMAGES = 50_000
SIMSIAM_EMBED_DIM, SIMSIAM_PREDICTOR_DIM = 2048, 512  # the paper's SimSiam heads (config/paper.yaml)


def pil_transform(recipe: AugmentRecipe, size: int) -> T.Compose:
    """The authors' `get_transforms` for the same recipe: separate RandomApply blocks per jitter, ToTensor, no norm."""
    s = recipe.strength

    def jitter(**kw):
        return T.RandomApply([T.ColorJitter(**kw)], p=recipe.jitter_p)

    return T.Compose([
        T.RandomResizedCrop(size, scale=recipe.crop_scale), T.RandomHorizontalFlip(p=recipe.flip_p),
        jitter(brightness=0.8 * s), jitter(contrast=0.8 * s), jitter(saturation=0.8 * s), jitter(hue=0.2 * s),
        T.RandomGrayscale(p=recipe.gray_p), T.ToTensor(),
    ])


class TwoViewPIL(Dataset):
    """uint8 images -> PIL -> two independently transformed views (torchvision's CIFAR10 dataset + a pair wrapper)."""

    def __init__(self, images: np.ndarray, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = Image.fromarray(self.images[i])
        return self.transform(image), self.transform(image)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, steps: int, warmup: int, device) -> float:
    """Seconds per call of `fn` after `warmup` untimed calls, with the device drained before and after."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


def timed_loader(loader: DataLoader, consume, steps: int, warmup: int, device) -> float:
    """Seconds per batch of a fresh DataLoader iterator in steady state. The first batches (worker start-up and the
    prefetch queue, which workers fill before timing starts) are consumed untimed, and the iterator is closed
    afterwards so that no worker keeps running during the next measurement."""
    skip = max(warmup, loader.prefetch_factor * loader.num_workers + 1 if loader.num_workers else 0)
    it = iter(loader)
    try:
        return timed(lambda: consume(next(it)), steps, skip, device)
    finally:
        if hasattr(it, "_shutdown_workers"):
            it._shutdown_workers()
        del it


def bench(name: str, cfg: dict, args, device: torch.device) -> dict:
    batch, steps, warmup = cfg["batch"], cfg["steps"], cfg["warmup"]
    size, recipe = cfg["image_size"], RECIPES["simclr_cifar"]
    n_images = batch * (steps + max(warmup, 2 * args.workers + 1) + 1)
    host_images = np.random.default_rng(0).integers(0, 256, (n_images, size, size, 3), dtype=np.uint8)
    images = torch.from_numpy(host_images).to(device)
    order = torch.randperm(n_images, device=device)
    params = {"model": args.model, "backbone": cfg["backbone"], "hidden_dim": 0, "embed_dim": cfg["embed_dim"],
              "predictor_dim": SIMSIAM_PREDICTOR_DIM,
              "temperature": 0.5, "loss": "ntxent", "gradscale": 0.0, "cut": 1.0, "cut_scope": "all"}
    torch.manual_seed(0)
    model = build_model(params, size).to(device).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6,
                                fused=device.type == "cuda" or None)
    if args.compile and device.type == "cuda":
        model.compile()
    amp = device.type == "cuda" and not args.no_amp
    loader = DataLoader(TwoViewPIL(host_images, pil_transform(recipe, size)), batch_size=batch, shuffle=True,
                        drop_last=True, num_workers=args.workers, pin_memory=device.type == "cuda",
                        prefetch_factor=2 if args.workers else None)
    counter = {"step": 0}

    def our_views():  # the training loop's path: gather from the device-resident set, augment on the device
        step = counter["step"] % (n_images // batch)
        counter["step"] += 1
        return next(micro_batches(images, order, step, batch, 1, recipe, (0, 0, 2, 0)))

    def to_device(views):
        return tuple(v.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last) for v in views)

    def train_on(views):
        optimizer_step(model, optimizer, [views], 1, device, amp)

    fixed = two_views(images[:batch], recipe, torch.Generator(device=device).manual_seed(1))
    measures = {
        "aug_ours": lambda: timed(our_views, steps, warmup, device),
        "aug_pil": lambda: timed_loader(loader, to_device, steps, warmup, device),
        "model_only": lambda: timed(lambda: train_on(fixed), steps, warmup, device),
        "step_ours": lambda: timed(lambda: train_on(our_views()), steps, warmup, device),
        "step_pil": lambda: timed_loader(loader, lambda v: train_on(to_device(v)), steps, warmup, device),
    }
    if args.no_pil:
        measures = {k: v for k, v in measures.items() if not k.endswith("_pil")}
    seconds = {k: [] for k in measures}
    for _ in range(args.rounds):  # interleaved rounds, best of each: robust to other processes' bursts
        for key, measure in measures.items():
            seconds[key].append(measure())
    rate = {k: batch / min(v) for k, v in seconds.items()}
    rate.update({k: float("nan") for k in ("aug_pil", "step_pil") if k not in rate})
    return {"preset": name, "batch": batch, "rate": rate, "cfg": cfg, "amp": amp, "rounds": args.rounds,
            "epoch_images": args.epoch_images, "model": {"simclr": "SimCLR", "simsiam": "SimSiam"}[args.model]}


def report(result: dict, device: torch.device) -> None:
    r, cfg = result["rate"], result["cfg"]
    print(f"\n== preset {result['preset']}: {cfg['backbone']} {result['model']}, {cfg['image_size']} px, batch {result['batch']}, "
          f"device {device}{' bf16' if result['amp'] else ' fp32'}, best of {result['rounds']} rounds of "
          f"{cfg['steps']} timed steps after {cfg['warmup']} warm-up")
    print(f"(a) augmentation, two views   ours {r['aug_ours']:10.0f} img/s   PIL DataLoader {r['aug_pil']:10.0f} img/s"
          f"   ratio {r['aug_ours'] / r['aug_pil']:6.1f}x")
    print(f"(b) full training step        ours {r['step_ours']:10.0f} img/s   "
          f"PIL DataLoader {r['step_pil']:10.0f} img/s")
    print(f"(c) model-only step (ceiling)      {r['model_only']:10.0f} img/s")
    print(f"    full step / ceiling       ours {r['step_ours'] / r['model_only']:10.1%}         "
          f"PIL DataLoader {r['step_pil'] / r['model_only']:10.1%}")
    n = result["epoch_images"]
    print(f"    seconds per {n:,}-image epoch: ours {n / r['step_ours']:.1f} s, "
          f"PIL DataLoader {n / r['step_pil']:.1f} s, ceiling {n / r['model_only']:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=["auto", "cpu", "gpu"], default="auto",
                        help="auto: cpu, and gpu too when CUDA is present")
    parser.add_argument("--batch", type=int, help="override the preset's batch size")
    parser.add_argument("--steps", type=int, help="timed steps per measurement and round (preset: cpu 4, gpu 40)")
    parser.add_argument("--warmup", type=int, help="untimed steps before each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is reported")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="DataLoader workers of the PIL pipeline (default: min(8, CPU count))")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA only)")
    parser.add_argument("--no-amp", action="store_true", help="fp32 on CUDA instead of bf16 autocast")
    parser.add_argument("--backbone", help="override the preset's backbone (small, resnet18, resnet50)")
    parser.add_argument("--image-size", type=int, help="override the preset's image size (pixels)")
    parser.add_argument("--no-pil", action="store_true", help="skip the PIL DataLoader measurements")
    parser.add_argument("--model", choices=["simclr", "simsiam"], default="simclr",
                        help=f"simsiam: projector {SIMSIAM_EMBED_DIM}, predictor {SIMSIAM_PREDICTOR_DIM}")
    parser.add_argument("--epoch-images", type=int, default=EPOCH_IMAGES, help="images per epoch of the estimate")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    presets = ["cpu", "gpu"] if args.preset == "auto" else [args.preset]
    if not torch.cuda.is_available():
        presets = [p for p in presets if p != "gpu"] or ["cpu"]
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, PIL workers {args.workers}, "
          f"load average at start {os.getloadavg()[0]:.2f}"
          + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    for name in presets:
        cfg = dict(PRESETS[name])
        overrides = (("batch", args.batch), ("steps", args.steps), ("warmup", args.warmup),
                     ("backbone", args.backbone), ("image_size", args.image_size))
        cfg.update({k: v for k, v in overrides if v})
        if args.model == "simsiam":
            cfg["embed_dim"] = SIMSIAM_EMBED_DIM
        device = torch.device("cuda" if name == "gpu" else "cpu")
        report(bench(name, cfg, args, device), device)


if __name__ == "__main__":
    main()
