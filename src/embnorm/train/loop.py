"""The training loop of one run: optimizer steps over a seeded data order, per-epoch metrics, checkpoints, resume.

On CUDA the next step's views are augmented on a side stream while the current step runs (`step.prefetched`); the
batches and views are the same as in the serial order, which the CPU runs.

Resumable at any optimizer-step boundary: the data order of an epoch and the augmentations of a step are derived
from (seed, epoch, step), and the lr from the step index, so a resumed run replays exactly what the uninterrupted
one would have done; on CPU it ends bit-identical. SIGTERM / SIGUSR1 (SLURM's warnings before a time limit) set a
flag that is checked between optimizer steps, and the run then writes resume.pt and exits.
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

from embnorm import io, seeding
from embnorm.data.format import Split
from embnorm.errors import EmbnormError
from embnorm.models import build_model
from embnorm.train import checkpoint
from embnorm.train.augment import recipe_for
from embnorm.train.monitor import Monitor, knn_protocol
from embnorm.train.optim import build_optimizer, set_learning_rates
from embnorm.train.progress import Progress
from embnorm.train.step import micro_batches, optimizer_step, pick_device, prefetched

TIMING_COLUMNS = ("seconds", "images_per_s")


class TrainingDiverged(EmbnormError):
    pass


class Interrupted(EmbnormError):
    pass


class StopFlag:
    """Turns SIGTERM/SIGUSR1 into a flag that the loop checks between optimizer steps."""

    def __init__(self):
        self.signal: str | None = None

    @contextlib.contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGUSR1)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _handle(self, signum, frame):
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


def train(params: dict, train_split: Split, test_split: Split, train_indices: np.ndarray | None,
          checkpoint_path, resume_path, metrics_path, threads: int = 0, stop_after_epochs: int | None = None) -> None:
    """Train one run end to end (or continue it from `resume_path`) and write its checkpoint and metrics.
    `stop_after_epochs` ends the run early with a resumable checkpoint (used by tests)."""
    device = pick_device(params["device"])
    threads = threads or params["threads"]  # the job's allotted cores, else the config's; 0 = torch's default
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    keys = (params["base_seed"], params["seed"])
    torch.manual_seed(seeding.derive(*keys, seeding.INIT))

    idx = np.arange(len(train_split.labels)) if train_indices is None else np.asarray(train_indices)
    images = torch.from_numpy(np.asarray(train_split.images[idx])).to(device)  # the whole uint8 set on the device
    labels = torch.from_numpy(train_split.labels[idx]).to(device)
    probe_rng = np.random.default_rng(seeding.derive(*keys, seeding.PROBE))
    probe = images[torch.from_numpy(np.sort(probe_rng.permutation(len(idx))[: params["probe_size"]])).to(device)]
    test_images = torch.from_numpy(np.array(test_split.images)).to(device)  # a copy: the split may be memory-mapped
    monitor = Monitor(params, probe, images, labels, test_images, torch.from_numpy(test_split.labels).to(device),
                      train_split.num_classes)

    model = build_model(params, train_split.image_size).to(device).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(params, model)
    if params["compile"] and device.type == "cuda":
        model.compile()  # compiles forward in place; state_dict keys are unchanged

    batch, accumulate, epochs = params["batch_size"], params["accumulate"], params["epochs"]
    steps_per_epoch = len(idx) // (batch * accumulate)  # the last incomplete step of an epoch is dropped
    if steps_per_epoch == 0:
        raise EmbnormError(f"{params['run_id']}: {len(idx)} training images are fewer than one optimizer step "
                           f"(batch_size {batch} x accumulate {accumulate})")
    total_steps = steps_per_epoch * epochs
    recipe = recipe_for(params)

    state = checkpoint.load_resume(resume_path, params)
    if state is None:
        metrics = [{"epoch": 0, "step": 0, **monitor.evaluate(model, 0)}]
        start_epoch, start_step, partial = 0, 0, {"loss_sum": 0.0, "seconds": 0.0}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        metrics, start_epoch, start_step, partial = state["metrics"], state["epoch"], state["step"], state["partial"]

    last_epoch = epochs if stop_after_epochs is None else min(epochs, stop_after_epochs)
    progress = Progress(params["run_id"], epochs, steps_per_epoch, batch * accumulate,
                        start_epoch * steps_per_epoch + start_step)
    if state is not None:
        progress.message(f"resuming {params['run_id']} at epoch {start_epoch} step {start_step} from {resume_path}")
    flag = StopFlag()
    model.train()
    with flag.installed():
        for epoch in range(start_epoch, last_epoch):
            order = torch.from_numpy(np.random.default_rng(
                seeding.derive(*keys, seeding.ORDER, epoch)).permutation(len(idx))).to(device)
            loss_sum = torch.tensor(partial["loss_sum"], dtype=torch.float32, device=device)
            t0 = time.perf_counter() - partial["seconds"]
            def views_of(step, epoch=epoch, order=order):  # a step's micro-batches, made up front when prefetched
                views = micro_batches(images, order, step, batch, accumulate, recipe, (*keys, seeding.AUGMENT, epoch))
                return list(views) if overlap(device) else views

            first = start_step if epoch == start_epoch else 0
            for step, views in prefetched(views_of, range(first, steps_per_epoch), device, overlap(device)):
                if flag.signal:
                    partial = {"loss_sum": loss_sum.item(), "seconds": time.perf_counter() - t0}
                    _check_finite(partial["loss_sum"], params, epoch, resume_path)
                    checkpoint.save_resume(resume_path, params, model, optimizer, epoch, step, metrics, partial)
                    progress.close()
                    raise Interrupted(f"{params['run_id']}: stopped by {flag.signal} at epoch {epoch} step {step}; "
                                      f"resumable checkpoint written to {resume_path}")
                set_learning_rates(optimizer, params, epoch * steps_per_epoch + step, total_steps, steps_per_epoch)
                loss_sum += optimizer_step(model, optimizer, views, accumulate, device, params["amp"])
                model.after_step(epoch * steps_per_epoch + step, total_steps)  # the method's hook (BYOL's EMA)
                progress.step()
            mean_loss = loss_sum.item() / (steps_per_epoch * accumulate)  # waits for the device: timing is honest
            seconds = time.perf_counter() - t0
            _check_finite(mean_loss, params, epoch, resume_path)
            row = {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch, "loss": mean_loss,
                   "lr": optimizer.param_groups[0]["lr"], "seconds": seconds,
                   "images_per_s": steps_per_epoch * batch * accumulate / seconds,
                   **monitor.evaluate(model, epoch + 1)}
            metrics.append(row)
            progress.epoch(row)
            partial = {"loss_sum": 0.0, "seconds": 0.0}
            due = (epoch + 1) % params["checkpoint_every"] == 0 or epoch + 1 == last_epoch
            if due and epoch + 1 < epochs:
                checkpoint.save_resume(resume_path, params, model, optimizer, epoch + 1, 0, metrics, partial)
    progress.close()
    if last_epoch < epochs:  # a deliberate partial run: resume.pt was written above
        return

    frame = pd.DataFrame(metrics)
    first = [c for c in ("epoch", "step", "loss", "lr", *TIMING_COLUMNS) if c in frame]
    frame = frame[first + [c for c in frame if c not in first]]
    frame.insert(0, "run_id", params["run_id"])
    frame["knn_protocol"] = knn_protocol(params)
    io.write_tsv(metrics_path, frame)
    checkpoint.save_final(checkpoint_path, params, model, train_split.image_size, train_split.num_classes, epochs)
    Path(resume_path).unlink(missing_ok=True)
