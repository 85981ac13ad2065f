"""Checkpoints: a resumable one (resume.pt) and the final one (checkpoint.pt). Training writes both and the embed stage
reads the final one, so this module sits below `train/` and `embed.py`.

resume.pt holds the model, the optimizer (momentum / Adam moments), the position (epoch, optimizer step within it),
the metrics rows so far, the partial loss sum of an interrupted epoch, and the torch RNG state. The lr schedule is
a function of the step index and the data order and augmentations are derived from (seed, epoch, step), so these
are re-created rather than stored. Both files are written atomically and loaded with weights_only=True.
"""

from __future__ import annotations

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


def save_resume(path, params: dict, model, optimizer, epoch: int, step: int, metrics: list[dict], partial: dict):
    """Write the state after `step` optimizer steps of epoch `epoch` (0-based; step 0 = the epoch's start)."""
    io.save_torch(path, {
        "params": params, "params_hash": resume_hash(params), "epoch": epoch, "step": step, "metrics": metrics,
        "partial": partial, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    })


def load_resume(path, params: dict) -> dict | None:
    """The resumable state at `path`, or None if there is none. A truncated file raises ArtifactError; a checkpoint
    of other hyper-parameters raises CheckpointMismatch naming the keys that differ."""
    if not Path(path).exists():
        return None
    state = _load(path, f"delete it to start run {params.get('run_id')} from scratch")
    missing = [k for k in RESUME_KEYS if k not in state] if isinstance(state, dict) else list(RESUME_KEYS)
    if missing:
        raise io.ArtifactError(f"{path}: not an embnorm resume checkpoint (missing {missing})")
    if state["params_hash"] != resume_hash(params):
        old = state["params"]
        differ = sorted(k for k in set(old) | set(params)
                        if k not in EXECUTION_KEYS and old.get(k, "<absent>") != params.get(k, "<absent>"))
        detail = ", ".join(f"{k}: {old.get(k, '<absent>')!r} -> {params.get(k, '<absent>')!r}" for k in differ[:8])
        raise CheckpointMismatch(
            f"{path}: this resumable checkpoint was written for other hyper-parameters ({detail}). "
            f"Delete it to start run {params.get('run_id')} from scratch, or restore the old settings to continue it.")
    return state


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
