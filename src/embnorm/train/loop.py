"""The training loop of one run: optimizer steps over a seeded data order, per-epoch metrics, checkpoints, resume.

A run trains whole epochs: `train.epochs` of them, or with `train.steps` the fewest that hold at least that many
optimizer steps on the run's own images (`schedule.budget`), so a small derived dataset trains as many steps as its
parent. metrics.tsv records the resulting schedule (`total_steps`, `warmup_steps`) beside every row.

On CUDA the next step's views are augmented on a side stream while the current step runs (`step.prefetched`); the
batches and views are the same as in the serial order, which the CPU runs.

Resumable at any optimizer-step boundary: the data order of an epoch and the augmentations of a step are derived
from (seed, epoch, step), and the lr from the step index, so a resumed run replays exactly what the uninterrupted
one would have done; on CPU it ends bit-identical. SIGTERM / SIGUSR1 (SLURM's warnings before a time limit) and
SIGINT (Ctrl-C) set a flag that is checked between optimizer steps, and the run then writes resume.pt and exits.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from embnorm import checkpoint, io, seeding
from embnorm.data.format import Split
from embnorm.errors import EmbnormError
from embnorm.evaluation import initial
from embnorm.evaluation.features import pick_device
from embnorm.models import build_model
from embnorm.train.augment import recipe_for
from embnorm.train.monitor import Monitor, bank_name
from embnorm.train.optim import build_optimizer, set_learning_rates
from embnorm.train.progress import Progress
from embnorm.train.schedule import Budget, budget, knn_epochs
from embnorm.train.step import micro_batches, optimizer_step, prefetched

TIMING_COLUMNS = ("seconds", "images_per_s")


class TrainingDiverged(EmbnormError):
    pass


class Interrupted(EmbnormError):
    pass


class StopFlag:
    """Turns SIGTERM/SIGUSR1 and SIGINT (Ctrl-C) into a flag that the loop checks between optimizer steps, so an
    interrupted run writes resume.pt at a step boundary instead of leaving a KeyboardInterrupt traceback and redoing
    the partial epoch. A second Ctrl-C, while that happens, is the usual KeyboardInterrupt: a user can always stop."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)

    def __init__(self):
        self.signal: str | None = None

    @contextlib.contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _handle(self, signum, frame):
        if signum == signal.SIGINT and self.signal == "SIGINT":
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name


def _check_finite(loss: float, params: dict, epoch: int, resume_path) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{params['run_id']}: the loss became {loss} in epoch {epoch + 1}; stopped without saving, so the last "
            f"good resumable checkpoint ({resume_path}, if any was written) is kept. Lower the learning rate or the "
            f"GradScale power.")


def overlap(device: torch.device) -> bool:
    """Whether the next step's augmentation is prepared while the current step runs (a CUDA side stream)."""
    return device.type == "cuda"


# ---- setup: small steps that `train` calls in order ----

def setup_device(params: dict, threads: int) -> torch.device:
    """The run's device, its CPU threads (the job's allotted cores, else the config's; 0 = torch's default) and cuDNN's
    autotuner on CUDA."""
    device = pick_device(params["device"])
    threads = threads or params["threads"]
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


def data_on_device(params: dict, keys: tuple, train_split: Split, test_split: Split, train_indices: np.ndarray | None,
                   run: Budget, device: torch.device) -> tuple[torch.Tensor, Monitor]:
    """The run's uint8 training images on the device, and the monitor with its seeded probe batch (drawn from those
    images), its kNN bank (those images, or for a derived dataset its parent's full train split) and queries."""
    split_images = torch.from_numpy(np.array(train_split.images)).to(device)  # copies: the split may be memory-mapped
    split_labels = torch.from_numpy(np.array(train_split.labels)).to(device)
    idx = np.arange(len(split_labels)) if train_indices is None else np.asarray(train_indices)
    images = split_images if train_indices is None else split_images[torch.from_numpy(idx).to(device)]
    probe = images[torch.from_numpy(initial.probe_positions(keys, params["probe_size"], len(idx))).to(device)]
    test_images = torch.from_numpy(np.array(test_split.images)).to(device)  # a copy: the split may be memory-mapped
    monitor = Monitor(params, probe, split_images, split_labels, test_images,
                      torch.from_numpy(test_split.labels).to(device), train_split.num_classes,
                      knn_at=knn_epochs(params, run),
                      bank_label=bank_name(params, len(split_labels), derived=train_indices is not None))
    return images, monitor


def model_and_optimizer(params: dict, image_size: int, device: torch.device):
    """The method's model (channels-last, compiled in place on CUDA when asked) and its optimizer."""
    model = build_model(params, image_size).to(device).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(params, model)
    if params["compile"] and device.type == "cuda":
        model.compile()  # compiles forward in place; state_dict keys are unchanged
    return model, optimizer


def steps_per_epoch(params: dict, images: int) -> int:
    """Optimizer steps in one epoch; the last incomplete step of an epoch is dropped."""
    batch, accumulate = params["batch_size"], params["accumulate"]
    steps = images // (batch * accumulate)
    if steps == 0:
        raise EmbnormError(f"{params['run_id']}: {images} training images are fewer than one optimizer step "
                           f"(batch_size {batch} x accumulate {accumulate})")
    return steps


def run_budget(params: dict, train_split: Split, train_indices: np.ndarray | None) -> Budget:
    """The run's length and warm-up in optimizer steps, on the images it trains on."""
    images = len(train_split.labels) if train_indices is None else len(train_indices)
    return budget(params, steps_per_epoch(params, images))


def start_or_resume(params: dict, model, optimizer, monitor: Monitor, resume_path) -> tuple[list, int, int, dict, bool]:
    """(metrics so far, epoch, step, partial epoch sums, resumed) to start from: epoch 0 with the untrained model's
    metrics, or the state of `resume_path`, which is loaded into the model, the optimizer and torch's RNG."""
    state = checkpoint.load_resume(resume_path, params)
    if state is None:
        return [{"epoch": 0, "step": 0, **monitor.evaluate(model, 0)}], 0, 0, {"loss_sum": 0.0, "seconds": 0.0}, False
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return state["metrics"], state["epoch"], state["step"], state["partial"], True


def epoch_order(keys: tuple, epoch: int, images: int, device: torch.device) -> torch.Tensor:
    """The seeded data order of one epoch."""
    return torch.from_numpy(np.random.default_rng(seeding.derive(*keys, seeding.ORDER, epoch)).permutation(images)
                            ).to(device)


def stop(flag: StopFlag, params: dict, model, optimizer, epoch: int, step: int, metrics: list, partial: dict,
         resume_path, progress: Progress):
    """A signal arrived: write resume.pt at this optimizer-step boundary (unless the loss diverged) and exit."""
    _check_finite(partial["loss_sum"], params, epoch, resume_path)
    checkpoint.save_resume(resume_path, params, model, optimizer, epoch, step, metrics, partial)
    progress.close()
    raise Interrupted(f"{params['run_id']}: stopped by {flag.signal} at epoch {epoch} step {step}; "
                      f"resumable checkpoint written to {resume_path}")


def epoch_row(params: dict, model, optimizer, monitor: Monitor, epoch: int, steps: int, loss_sum: torch.Tensor,
              t0: float, resume_path) -> dict:
    """The metrics row of a finished epoch: mean loss, lr, timing and the monitor's norms and kNN accuracy."""
    mean_loss = loss_sum.item() / (steps * params["accumulate"])  # waits for the device: timing is honest
    seconds = time.perf_counter() - t0
    _check_finite(mean_loss, params, epoch, resume_path)
    return {"epoch": epoch + 1, "step": (epoch + 1) * steps, "loss": mean_loss, "lr": optimizer.param_groups[0]["lr"],
            "seconds": seconds, "images_per_s": steps * params["batch_size"] * params["accumulate"] / seconds,
            **monitor.evaluate(model, epoch + 1)}


def write_metrics(metrics_path, params: dict, metrics: list[dict], run: Budget, protocol: str) -> None:
    """metrics.tsv: one row per evaluated epoch, the step columns first, then the run's schedule in optimizer steps
    (total and warm-up, the same in every row) and the kNN protocol beside every number."""
    frame = pd.DataFrame(metrics)
    first = [c for c in ("epoch", "step", "loss", "lr", *TIMING_COLUMNS) if c in frame]
    frame = frame[first + [c for c in frame if c not in first]]
    frame.insert(0, "run_id", params["run_id"])
    frame["total_steps"], frame["warmup_steps"] = run.total_steps, run.warmup_steps
    frame["knn_protocol"] = protocol
    io.write_tsv(metrics_path, frame)


# ---- the loop ----

def train(params: dict, train_split: Split, test_split: Split, train_indices: np.ndarray | None,
          checkpoint_path, resume_path, metrics_path, threads: int = 0, stop_after_epochs: int | None = None) -> None:
    """Train one run end to end (or continue it from `resume_path`) and write its checkpoint and metrics.
    `stop_after_epochs` ends the run early with a resumable checkpoint (used by tests)."""
    device = setup_device(params, threads)
    keys = (params["base_seed"], params["seed"])
    torch.manual_seed(seeding.derive(*keys, seeding.INIT))
    run = run_budget(params, train_split, train_indices)
    images, monitor = data_on_device(params, keys, train_split, test_split, train_indices, run, device)
    model, optimizer = model_and_optimizer(params, train_split.image_size, device)
    init_digest = initial.state_digest(model)  # the final checkpoint records it: embed --init checks its rebuild
    batch, accumulate, epochs, steps = params["batch_size"], params["accumulate"], run.epochs, run.steps_per_epoch
    total_steps, recipe = run.total_steps, recipe_for(params)
    metrics, start_epoch, start_step, partial, resumed = start_or_resume(params, model, optimizer, monitor, resume_path)
    last_epoch = epochs if stop_after_epochs is None else min(epochs, stop_after_epochs)
    progress = Progress(params["run_id"], epochs, steps, batch * accumulate, start_epoch * steps + start_step)
    if resumed:
        progress.message(f"resuming {params['run_id']} at epoch {start_epoch} step {start_step} from {resume_path}")
    flag = StopFlag()
    model.train()
    with flag.installed():
        for epoch in range(start_epoch, last_epoch):
            order = epoch_order(keys, epoch, len(images), device)
            loss_sum = torch.tensor(partial["loss_sum"], dtype=torch.float32, device=device)
            t0 = time.perf_counter() - partial["seconds"]
            def views_of(step, epoch=epoch, order=order):  # a step's micro-batches, made up front when prefetched
                views = micro_batches(images, order, step, batch, accumulate, recipe, (*keys, seeding.AUGMENT, epoch))
                return list(views) if overlap(device) else views

            first = start_step if epoch == start_epoch else 0
            for step, views in prefetched(views_of, range(first, steps), device, overlap(device)):
                if flag.signal:
                    stop(flag, params, model, optimizer, epoch, step, metrics,
                         {"loss_sum": loss_sum.item(), "seconds": time.perf_counter() - t0}, resume_path, progress)
                set_learning_rates(optimizer, params, epoch * steps + step, total_steps, steps)
                loss_sum += optimizer_step(model, optimizer, views, accumulate, device, params["amp"])
                model.after_step(epoch * steps + step, total_steps)  # the method's hook (BYOL's EMA)
                progress.step()
            metrics.append(epoch_row(params, model, optimizer, monitor, epoch, steps, loss_sum, t0, resume_path))
            progress.epoch(metrics[-1])
            partial = {"loss_sum": 0.0, "seconds": 0.0}
            due = (epoch + 1) % params["checkpoint_every"] == 0 or epoch + 1 == last_epoch
            if due and epoch + 1 < epochs:
                checkpoint.save_resume(resume_path, params, model, optimizer, epoch + 1, 0, metrics, partial)
    progress.close()
    if last_epoch < epochs:  # a deliberate partial run: resume.pt was written above
        return
    write_metrics(metrics_path, params, metrics, run, monitor.protocol())
    checkpoint.save_final(checkpoint_path, params, model, train_split.image_size, train_split.num_classes, epochs,
                          init_digest)
    Path(resume_path).unlink(missing_ok=True)
