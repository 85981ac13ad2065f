"""Features of unaugmented images, as the training monitor, the embed stage and the initial encoder measure them.

Every feature an analysis reads is computed the same way: model in eval mode, float32 with autocast off (also inside
a bf16 autocast region of a training step), in input order. The initial and the trained encoder are measured on a
copy whose BatchNorm statistics are re-estimated on the run's probe images (`with_data_bn_statistics`), so their
norms come from one procedure. `pick_device` is the device training and embedding run on.
"""

from __future__ import annotations

import copy

import torch


def pick_device(name: str) -> torch.device:
    """`auto`: CUDA when a device is visible, else the CPU; `cuda` without a visible device is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


def to_float(images_uint8: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1]; channels_last memory for the model, or contiguous NCHW
    for the augmentation's per-channel arithmetic (faster on plain planes)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return torch.div(images_uint8.permute(0, 3, 1, 2), 255).contiguous(memory_format=fmt)


@torch.no_grad()
def embed_batches(model, images_uint8: torch.Tensor, layers, batch_size: int = 512):
    """Features of unaugmented images (model in eval mode), computed in float32 (autocast off, also inside an
    autocast region), in input order."""
    was_training = model.training
    model.eval()
    out = {layer: [] for layer in layers}
    for start in range(0, len(images_uint8), batch_size):
        x = to_float(images_uint8[start:start + batch_size])
        with torch.autocast(x.device.type, enabled=False):
            feats = model(x)
        for layer in layers:
            out[layer].append(feats[layer].float())
    model.train(was_training)
    return {layer: torch.cat(chunks) for layer, chunks in out.items()}


@torch.no_grad()
def with_data_bn_statistics(model, images_uint8: torch.Tensor, batch_size: int = 512):
    """A copy of `model` whose BatchNorm running statistics are estimated from `images` (cumulative average), in eval
    mode; `model` itself when it has no BatchNorm.

    At initialization the running statistics are the defaults (mean 0, variance 1), not statistics of any data, so
    eval-mode norms of an untrained network would be an artifact of those defaults (for SimSiam's BN-ended projector,
    orders of magnitude too small); later they are a moving average over past weights. Every monitor evaluation is
    therefore measured on such a copy; the model itself is untouched.
    """
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    calibrated = copy.deepcopy(model)
    norms = [m for m in calibrated.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    calibrated.train()
    for start in range(0, len(images_uint8), batch_size):
        x = to_float(images_uint8[start:start + batch_size])
        with torch.autocast(x.device.type, enabled=False):  # fp32 statistics, also inside an autocast region
            calibrated(x)
    return calibrated.eval()
