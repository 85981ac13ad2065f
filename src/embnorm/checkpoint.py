"""Checkpoints: a resumable one (resume.pt) and the final one (checkpoint.pt). Training writes both and the embed stage
reads the final one, so this module sits below `train/` and `embed.py`.

resume.pt holds the model, the optimizer (momentum / Adam moments), torch's RNG state, and the `RunState`: the
position (epoch, optimizer step within it), the metrics rows so far, and the loss sum and seconds of a partly done
epoch. The lr schedule is a function of the step index and the data order and augmentations are derived from (seed,
epoch, step), so these are re-created rather than stored. Both files are written atomically and loaded with
weights_only=True.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from embnorm import io
from embnorm.config import params_hash
from embnorm.errors import EmbnormError

# Settings that change how a run is executed or logged but not what it computes: a resume may change them.
EXECUTION_KEYS = ("threads", "checkpoint_every", "compile", "device")
RESUME_KEYS = ("params", "params_hash", "epoch", "step", "metrics", "partial", "model", "optimizer", "torch_rng")


class CheckpointMismatch(EmbnormError):
    pass


def _load(path, remedy: str) -> dict:
    """io.load_torch (weights_only=True), with an error that says what to do. PyTorch's own message for a file holding
    other objects suggests loading it with weights_only=False, which would run whatever code the file holds: that
    hint is never passed on."""
    try:
        return io.load_torch(path)
    except io.ArtifactError as e:
        message = str(e)
        if "weights only" in message.lower() or "weights_only" in message:
            message = (f"{path}: not an embnorm checkpoint (it holds objects other than tensors and plain values, "
                       "which are never unpickled)")
        raise io.ArtifactError(f"{message}; {remedy}") from None


def resume_hash(params: dict) -> str:
    return params_hash({k: v for k, v in params.items() if k not in EXECUTION_KEYS})


@dataclass
class RunState:
    """Where a run stands between two optimizer steps, besides its weights, optimizer and RNG: what the loop advances
    and resume.pt stores.

    `epoch` is the 0-based epoch in progress (equal to the number of finished epochs), `step` the optimizer steps
    already taken in it (0 at an epoch's start). `metrics` holds one row per finished epoch, epoch 0 (the untrained
    model) first. `loss_sum` and `seconds` are the sum of the micro-batch losses and the wall-clock time of those
    `step` steps, so that an epoch interrupted in the middle reports the same mean loss when it is finished later.
    """

    epoch: int = 0
    step: int = 0
    metrics: list[dict] = field(default_factory=list)
    loss_sum: float = 0.0
    seconds: float = 0.0


def save_resume(path, params: dict, model, optimizer, state: RunState) -> None:
    """Write resume.pt: the run's params (with the hash a resume checks), its state, its weights, the optimizer's
    state and torch's RNG state."""
    io.save_torch(path, {
        "params": params,
        "params_hash": resume_hash(params),
        "epoch": state.epoch,
        "step": state.step,
        "metrics": state.metrics,
        "partial": {"loss_sum": state.loss_sum, "seconds": state.seconds},
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    })


def load_resume(path, params: dict, model, optimizer) -> RunState | None:
    """Continue the run saved at `path`: load its weights into `model` and `optimizer`, restore torch's RNG state,
    and return where the run stood; None (and nothing changed) when there is no such file. A truncated file raises
    ArtifactError; a checkpoint of other hyper-parameters raises CheckpointMismatch naming the keys that differ."""
    if not Path(path).exists():
        return None
    saved = _load(path, f"delete it to start run {params.get('run_id')} from scratch")
    missing = [k for k in RESUME_KEYS if k not in saved] if isinstance(saved, dict) else list(RESUME_KEYS)
    if missing:
        raise io.ArtifactError(f"{path}: not an embnorm resume checkpoint (missing {missing})")
    if saved["params_hash"] != resume_hash(params):
        old = saved["params"]
        differ = sorted(k for k in set(old) | set(params)
                        if k not in EXECUTION_KEYS and old.get(k, "<absent>") != params.get(k, "<absent>"))
        detail = ", ".join(f"{k}: {old.get(k, '<absent>')!r} -> {params.get(k, '<absent>')!r}" for k in differ[:8])
        raise CheckpointMismatch(
            f"{path}: this resumable checkpoint was written for other hyper-parameters ({detail}). "
            f"Delete it to start run {params.get('run_id')} from scratch, or restore the old settings to continue it.")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["torch_rng"])
    return RunState(epoch=saved["epoch"], step=saved["step"], metrics=saved["metrics"],
                    loss_sum=saved["partial"]["loss_sum"], seconds=saved["partial"]["seconds"])


def save_final(path, params: dict, model, image_size: int, num_classes: int, epoch: int, init_digest: str):
    """`init_digest`: `initial.state_digest` of the model as built, before any step (the embed stage's rebuild of the
    initial encoder is checked against it)."""
    io.save_torch(path, {"params": params, "params_hash": params_hash(params), "model": model.state_dict(),
                         "image_size": image_size, "num_classes": num_classes, "epoch": epoch,
                         "init_digest": init_digest})


def load_final(path) -> dict:
    remedy = f"re-run rule train to write it again: snakemake --cores 1 --force {path}"
    state = _load(path, remedy)
    for key in ("params", "model", "image_size"):
        if not isinstance(state, dict) or key not in state:
            raise io.ArtifactError(f"{path}: not an embnorm checkpoint (no '{key}'); {remedy}")
    return state
