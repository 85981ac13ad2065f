"""The training loop of one run: two augmented views, loss, optimizer step; per-epoch norms and kNN; checkpoints.

Resumable anywhere at an optimizer-step boundary: the data order and every augmentation are derived from
(seed, epoch, step), so a resumed run replays exactly what the uninterrupted one would have done.
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
from tqdm import tqdm

from embnorm import io, seeding
from embnorm.data.format import Split
from embnorm.errors import EmbnormError
from embnorm.models import build_model
from embnorm.train import checkpoint
from embnorm.train.augment import RECIPES, to_float, two_views
from embnorm.train.knn import knn_accuracy
from embnorm.train.optim import build_optimizer, set_learning_rates

KNN_FEATURES = "backbone"


class TrainingDiverged(EmbnormError):
    pass


class Interrupted(EmbnormError):
    pass


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


class _StopFlag:
    """Turns SIGTERM/SIGUSR1 (sent by SLURM before a time limit) into a flag checked between optimizer steps."""

    def __init__(self):
        self.signal = None

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


@torch.no_grad()
def embed_batches(model, images_uint8: torch.Tensor, layers, batch_size: int = 512, amp: bool = False):
    """Features of unaugmented images (model in eval mode), float32, in input order."""
    was_training = model.training
    model.eval()
    out = {layer: [] for layer in layers}
    for start in range(0, len(images_uint8), batch_size):
        x = to_float(images_uint8[start:start + batch_size])
        with _autocast(x.device, amp):
            feats = model(x)
        for layer in layers:
            out[layer].append(feats[layer].float())
    model.train(was_training)
    return {layer: torch.cat(chunks) for layer, chunks in out.items()}


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _norm_stats(prefix: str, feats: torch.Tensor) -> dict[str, float]:
    norms = feats.norm(dim=1).cpu().numpy().astype(np.float64)
    return {f"{prefix}_norm_mean": norms.mean(), f"{prefix}_norm_median": np.median(norms),
            f"{prefix}_norm_p10": np.percentile(norms, 10), f"{prefix}_norm_p90": np.percentile(norms, 90)}


def train(params: dict, train_split: Split, test_split: Split, train_indices: np.ndarray | None,
          checkpoint_path, resume_path, metrics_path, threads: int = 0, stop_after_epochs: int | None = None) -> None:
    """Train one run end to end (or continue it from `resume_path`) and write its checkpoint and metrics."""
    device = pick_device(params["device"])
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seeding.derive(params["base_seed"], params["seed"], seeding.INIT))

    idx = np.arange(len(train_split.labels)) if train_indices is None else np.asarray(train_indices)
    images = torch.from_numpy(np.asarray(train_split.images[idx])).to(device)
    labels = torch.from_numpy(train_split.labels[idx]).to(device)
    test_images = torch.from_numpy(np.asarray(test_split.images)).to(device)
    test_labels = torch.from_numpy(test_split.labels).to(device)
    num_classes = train_split.num_classes

    model = build_model(params, train_split.image_size).to(device).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(params, model)
    step_model = torch.compile(model) if params["compile"] and device.type == "cuda" else model

    batch, accumulate = params["batch_size"], params["accumulate"]
    steps_per_epoch = len(idx) // (batch * accumulate)
    if steps_per_epoch == 0:
        raise EmbnormError(f"{params['run_id']}: {len(idx)} training images are fewer than one optimizer step "
                         f"(batch_size {batch} x accumulate {accumulate})")
    total_steps = steps_per_epoch * params["epochs"]
    recipe = RECIPES[params["augment"]]
    probe_gen = np.random.default_rng(seeding.derive(params["base_seed"], params["seed"], seeding.PROBE))
    probe = images[torch.from_numpy(np.sort(probe_gen.permutation(len(idx))[: params["probe_size"]])).to(device)]
    norm_layers = ["backbone", "projector"] + (["predictor"] if params["model"] == "simsiam" else [])

    def evaluate(epoch: int) -> dict:
        row = {}
        feats = embed_batches(model, probe, norm_layers, amp=params["amp"])
        for layer in norm_layers:
            row.update(_norm_stats(layer, feats[layer]))
        if epoch % params["knn_every"] == 0 or epoch == params["epochs"]:
            bank = embed_batches(model, images, [KNN_FEATURES], amp=params["amp"])[KNN_FEATURES]
            queries = embed_batches(model, test_images, [KNN_FEATURES], amp=params["amp"])[KNN_FEATURES]
            row["knn_acc"] = knn_accuracy(bank, labels, queries, test_labels, params["knn_k"],
                                          params["knn_temperature"], num_classes)
        return row

    state = checkpoint.load_resume(resume_path, params)
    if state is None:
        metrics = [{"epoch": 0, "step": 0, **evaluate(0)}]
        start_epoch, start_step, partial = 0, 0, {"loss_sum": 0.0, "seconds": 0.0}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        metrics, start_epoch, start_step, partial = state["metrics"], state["epoch"], state["step"], state["partial"]
        print(f"resuming {params['run_id']} at epoch {start_epoch} step {start_step} from {resume_path}", flush=True)

    protocol = (f"k={params['knn_k']} t={params['knn_temperature']} cosine {KNN_FEATURES} "
                f"bank=train(unaugmented) queries=test(unaugmented) eval-mode fp32")
    model.train()
    flag = _StopFlag()
    last_epoch = params["epochs"] if stop_after_epochs is None else min(params["epochs"], stop_after_epochs)
    bar = tqdm(range(start_epoch, last_epoch), desc=params["run_id"], unit="epoch", mininterval=5, initial=start_epoch,
               total=params["epochs"])
    with flag.installed():
        for epoch in bar:
            order = torch.from_numpy(np.random.default_rng(
                seeding.derive(params["base_seed"], params["seed"], seeding.ORDER, epoch)).permutation(len(idx))).to(device)
            loss_sum = torch.tensor(partial["loss_sum"], device=device)
            t0 = time.perf_counter() - partial["seconds"]
            first = start_step if epoch == start_epoch else 0
            for step in range(first, steps_per_epoch):
                if flag.signal:
                    partial = {"loss_sum": loss_sum.item(), "seconds": time.perf_counter() - t0}
                    checkpoint.save_resume(resume_path, params, model, optimizer, epoch, step, metrics, partial)
                    raise Interrupted(f"{params['run_id']}: stopped by {flag.signal} at epoch {epoch} step {step}; "
                                      f"resumable checkpoint written to {resume_path}")
                global_step = epoch * steps_per_epoch + step
                set_learning_rates(optimizer, params, global_step, total_steps, steps_per_epoch)
                optimizer.zero_grad(set_to_none=True)
                for micro in range(accumulate):
                    start = (step * accumulate + micro) * batch
                    gen = torch.Generator(device=device)
                    gen.manual_seed(seeding.derive(params["base_seed"], params["seed"], seeding.AUGMENT, epoch,
                                                   step, micro))
                    x1, x2 = two_views(images[order[start:start + batch]], recipe, gen)
                    with _autocast(device, params["amp"]):
                        loss, _ = step_model.loss(x1, x2)
                    (loss / accumulate).backward()
                    loss_sum += loss.detach()
                optimizer.step()
            seconds = time.perf_counter() - t0
            mean_loss = loss_sum.item() / (steps_per_epoch * accumulate)
            if not math.isfinite(mean_loss):
                raise TrainingDiverged(
                    f"{params['run_id']}: loss became {mean_loss} in epoch {epoch + 1}; the last good checkpoint "
                    f"({resume_path}, if any) is kept. Lower the learning rate or the GradScale power.")
            row = {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch, "loss": mean_loss,
                   "lr": optimizer.param_groups[0]["lr"], "seconds": seconds,
                   "images_per_s": steps_per_epoch * batch * accumulate / seconds, **evaluate(epoch + 1)}
            metrics.append(row)
            partial = {"loss_sum": 0.0, "seconds": 0.0}
            bar.set_postfix(loss=f"{mean_loss:.3f}", norm=f"{row['projector_norm_mean']:.2f}",
                            img_s=f"{row['images_per_s']:.0f}", knn=f"{row.get('knn_acc', float('nan')):.3f}")
            if (epoch + 1) % params["checkpoint_every"] == 0 and epoch + 1 < params["epochs"]:
                checkpoint.save_resume(resume_path, params, model, optimizer, epoch + 1, 0, metrics, partial)

    if last_epoch < params["epochs"]:  # a deliberate partial run (tests): leave a resumable checkpoint
        checkpoint.save_resume(resume_path, params, model, optimizer, last_epoch, 0, metrics, partial)
        return
    frame = pd.DataFrame(metrics)
    frame.insert(0, "run_id", params["run_id"])
    frame["knn_protocol"] = protocol
    io.write_tsv(metrics_path, frame)
    checkpoint.save_final(checkpoint_path, params, model, train_split.image_size, num_classes, params["epochs"])
    Path(resume_path).unlink(missing_ok=True)
