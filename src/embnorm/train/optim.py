"""Optimizers and the per-step learning rates (SGD or Adam; SimSiam's predictor keeps a constant lr)."""

from __future__ import annotations

import torch

from embnorm.train.schedule import lr_at


def build_optimizer(params: dict, model) -> torch.optim.Optimizer:
    groups = [{"params": model.encoder_parameters(), "name": "encoder"}]
    if model.predictor is not None:
        groups.append({"params": model.predictor_parameters(), "name": "predictor"})
    lr, wd = params["lr"], params["weight_decay"]
    if params["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=params["sgd_momentum"], nesterov=params["sgd_nesterov"],
                               weight_decay=wd)
    if params["optimizer"] == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=tuple(params["adam_betas"]), weight_decay=wd)
    raise ValueError(f"unknown optimizer '{params['optimizer']}' (expected sgd or adam)")


def set_learning_rates(optimizer, params: dict, step: int, total_steps: int, steps_per_epoch: int) -> None:
    """Encoder: warm-up + cosine. Predictor (SimSiam): the peak lr throughout, as in SimSiam's `fix_pred_lr`."""
    warmup = params["warmup_epochs"] * steps_per_epoch
    for group in optimizer.param_groups:
        if group["name"] == "predictor":
            group["lr"] = params["lr"]
        else:
            group["lr"] = lr_at(step, params["lr"], total_steps, warmup, params["lr_floor"], params["lr_schedule"])
