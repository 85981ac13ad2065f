"""Checkpoints: a resumable one (model, optimizer, position, metrics so far) and the final one the embed stage reads.

Both are written atomically and loaded with weights_only=True.
"""

from __future__ import annotations

from pathlib import Path

import torch

from embnorm import io
from embnorm.config import params_hash
from embnorm.errors import EmbnormError


class CheckpointMismatch(EmbnormError):
    pass


def save_resume(path, params: dict, model, optimizer, epoch: int, step: int, metrics: list[dict], partial: dict):
    io.save_torch(path, {
        "params_hash": params_hash(params), "epoch": epoch, "step": step, "metrics": metrics, "partial": partial,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
    })


def load_resume(path, params: dict) -> dict | None:
    """The resumable state at `path`, or None if there is none; refuses a checkpoint of other hyper-parameters."""
    if not Path(path).exists():
        return None
    state = io.load_torch(path)
    if state.get("params_hash") != params_hash(params):
        raise CheckpointMismatch(
            f"{path}: this checkpoint was written for other hyper-parameters (hash {state.get('params_hash')}, "
            f"this run has {params_hash(params)}). Delete it to start the run from scratch.")
    return state


def save_final(path, params: dict, model, image_size: int, num_classes: int, epoch: int):
    io.save_torch(path, {"params": params, "params_hash": params_hash(params), "model": model.state_dict(),
                         "image_size": image_size, "num_classes": num_classes, "epoch": epoch})


def load_final(path) -> dict:
    state = io.load_torch(path)
    for key in ("params", "model", "image_size"):
        if key not in state:
            raise io.ArtifactError(f"{path}: not an embnorm checkpoint (no '{key}')")
    return state
