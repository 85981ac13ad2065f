"""Backbones, the SSL methods (one module each under `methods/`, listed in METHODS) and the two norm mitigations
(GradScale, cut-initialization)."""

from __future__ import annotations

from embnorm.models.methods import METHODS, Method


def method_of(params: dict) -> type[Method]:
    """The method class a run's `model` names."""
    try:
        return METHODS[params["model"]]
    except KeyError:
        raise ValueError(f"unknown model '{params['model']}' (expected one of {sorted(METHODS)})") from None


def make_model(params: dict, image_size: int) -> Method:
    """The run's model as constructed (no cut-initialization): the shape a checkpoint is loaded into."""
    return method_of(params)(params, image_size)


def build_model(params: dict, image_size: int) -> Method:
    """The model of a run, with cut-initialization applied (seed the RNG before calling)."""
    model = make_model(params, image_size)
    model.cut_init(params["cut"], params["cut_scope"])
    return model


__all__ = ["METHODS", "Method", "build_model", "make_model", "method_of"]
