"""The training loop of one run: optimizer steps over a seeded data order, per-epoch metrics, checkpoints, resume.

`train` reads top to bottom: set up the device, the data and the monitor, build the model and the optimizer, start
from the untrained model or from resume.pt, then loop over epochs and, inside each, over optimizer steps; after each
epoch it appends a metrics row and may write resume.pt; at the end it writes metrics.tsv and checkpoint.pt. Where the
run stands (epoch, step, metrics rows, the partial epoch's loss sum and time) is one `checkpoint.RunState`.

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


def stop_if_diverged(loss: float, params: dict, epoch: int, resume_path) -> None:
    """Raise TrainingDiverged when `loss` (of 0-based `epoch`) is NaN or infinite, before the run saves anything, so the
    last good resume.pt is kept."""
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


def epoch_order(keys: tuple, epoch: int, images: int, device: torch.device) -> torch.Tensor:
    """The seeded data order of one epoch."""
    return torch.from_numpy(np.random.default_rng(seeding.derive(*keys, seeding.ORDER, epoch)).permutation(images)
                            ).to(device)


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
    run_id, batch, accumulate = params["run_id"], params["batch_size"], params["accumulate"]
    device = setup_device(params, threads)
    prefetch = overlap(device)
    keys = (params["base_seed"], params["seed"])

    # Data, monitor, model and optimizer, in this order after seeding: the initial weights depend on the seed alone.
    torch.manual_seed(seeding.derive(*keys, seeding.INIT))
    run = run_budget(params, train_split, train_indices)
    epochs, steps, total_steps = run.epochs, run.steps_per_epoch, run.total_steps
    images, monitor = data_on_device(params, keys, train_split, test_split, train_indices, run, device)
    model, optimizer = model_and_optimizer(params, train_split.image_size, device)
    init_digest = initial.state_digest(model)  # the final checkpoint records it: embed --init checks its rebuild
    recipe = recipe_for(params)

    # Start from the untrained model (its metrics are epoch 0), or where resume.pt left off.
    state = checkpoint.load_resume(resume_path, params, model, optimizer)
    resumed = state is not None
    if not resumed:
        state = checkpoint.RunState(epoch=0, step=0, metrics=[{"epoch": 0, "step": 0, **monitor.evaluate(model, 0)}])
    last_epoch = epochs if stop_after_epochs is None else min(epochs, stop_after_epochs)
    progress = Progress(run_id, epochs, steps, batch * accumulate, state.epoch * steps + state.step)
    if resumed:
        progress.message(f"resuming {run_id} at epoch {state.epoch} step {state.step} from {resume_path}")

    stop = StopFlag()
    model.train()
    with stop.installed():
        for epoch in range(state.epoch, last_epoch):
            order = epoch_order(keys, epoch, len(images), device)
            augment_keys = (*keys, seeding.AUGMENT, epoch)
            loss_sum = torch.tensor(state.loss_sum, dtype=torch.float32, device=device)  # stays on the device
            started = time.perf_counter() - state.seconds

            def views_of(step):
                """Step `step`'s micro-batches of this epoch; made up front when prefetched on a side stream."""
                views = micro_batches(images, order, step, batch, accumulate, recipe, augment_keys)
                return list(views) if prefetch else views

            for step, views in prefetched(views_of, range(state.step, steps), device, prefetch):
                if stop.signal:  # save where the run stands, at this step boundary, and exit
                    state.step, state.loss_sum, state.seconds = step, loss_sum.item(), time.perf_counter() - started
                    stop_if_diverged(state.loss_sum, params, epoch, resume_path)
                    checkpoint.save_resume(resume_path, params, model, optimizer, state)
                    progress.close()
                    raise Interrupted(f"{run_id}: stopped by {stop.signal} at epoch {epoch} step {step}; "
                                      f"resumable checkpoint written to {resume_path}")
                run_step = epoch * steps + step
                set_learning_rates(optimizer, params, run_step, total_steps, steps)
                loss_sum += optimizer_step(model, optimizer, views, accumulate, device, params["amp"])
                model.after_step(run_step, total_steps)  # the method's hook (BYOL's EMA)
                progress.step()

            # The epoch's row: mean loss, the lr of its last step, timing, and the monitor's norms and kNN accuracy.
            mean_loss = loss_sum.item() / (steps * accumulate)  # waits for the device: the timing is honest
            seconds = time.perf_counter() - started
            stop_if_diverged(mean_loss, params, epoch, resume_path)
            row = {"epoch": epoch + 1, "step": (epoch + 1) * steps, "loss": mean_loss,
                   "lr": optimizer.param_groups[0]["lr"], "seconds": seconds,
                   "images_per_s": steps * batch * accumulate / seconds, **monitor.evaluate(model, epoch + 1)}
            state.metrics.append(row)
            progress.epoch(row)
            state = checkpoint.RunState(epoch=epoch + 1, step=0, metrics=state.metrics, loss_sum=0.0, seconds=0.0)
            due = (epoch + 1) % params["checkpoint_every"] == 0 or epoch + 1 == last_epoch
            if due and epoch + 1 < epochs:
                checkpoint.save_resume(resume_path, params, model, optimizer, state)
    progress.close()

    if last_epoch < epochs:  # a deliberate partial run: resume.pt was written above
        return
    write_metrics(metrics_path, params, state.metrics, run, monitor.protocol())
    checkpoint.save_final(checkpoint_path, params, model, train_split.image_size, train_split.num_classes, epochs,
                          init_digest)
    Path(resume_path).unlink(missing_ok=True)
