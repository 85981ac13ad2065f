"""Optimizers and the per-step learning rates.

One optimizer over the parameter groups the run's method declares (`Method.parameter_groups`): groups follow the
schedule, except a group marked `fixed_lr`, which keeps the peak lr throughout (SimSiam's predictor, the paper's
`fix_pred_lr`, which the authors reproduce with a second, unscheduled optimizer). Weight decay applies to every
parameter, biases and BatchNorm included, as in the authors' code. Adam's weight decay is the classic L2 term
(torch.optim.Adam), not AdamW's.
"""

from __future__ import annotations

import torch

from embnorm.train.schedule import lr_at, warmup_steps_of


def build_optimizer(params: dict, model) -> torch.optim.Optimizer:
    groups = model.parameter_groups()
    lr, wd = params["lr"], params["weight_decay"]
    fused = next(model.parameters()).is_cuda  # one kernel per step on the GPU; the CPU keeps the reference path
    if params["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=params["sgd_momentum"], nesterov=params["sgd_nesterov"],
                               weight_decay=wd, fused=fused or None)
    if params["optimizer"] == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=tuple(params["adam_betas"]), weight_decay=wd,
                                fused=fused or None)
    raise ValueError(f"unknown optimizer '{params['optimizer']}' (expected sgd or adam)")


def set_learning_rates(optimizer, params: dict, step: int, total_steps: int, steps_per_epoch: int) -> None:
    """Set the lr of optimizer step `step` (0-based, counted in optimizer steps, i.e. after gradient accumulation)."""
    warmup = warmup_steps_of(params, steps_per_epoch)
    for group in optimizer.param_groups:
        if group.get("fixed_lr"):
            group["lr"] = params["lr"]
        else:
            group["lr"] = lr_at(step, params["lr"], total_steps, warmup, params["lr_floor"], params["lr_schedule"])
