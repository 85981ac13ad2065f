"""Backbones and the SSL methods (one module each under `methods/`, listed in the table METHODS), which apply the two
norm mitigations of `embnorm.mitigations` (GradScale, cut-initialization). Importing this package imports no torch:
the method modules are loaded when a model is built."""

from __future__ import annotations

from embnorm.models.methods import METHODS


def method_of(params: dict):
    """The method class (an `embnorm.models.methods.base.Method`) a run's `model` names."""
    if params["model"] not in METHODS:
        raise ValueError(f"unknown model '{params['model']}' (expected one of {sorted(METHODS)})")
    return METHODS[params["model"]].load()


def make_model(params: dict, image_size: int):
    """The run's model as constructed (no cut-initialization): the shape a checkpoint is loaded into."""
    return method_of(params).from_params(params, image_size)


def build_model(params: dict, image_size: int):
    """The model of a run, with cut-initialization applied (seed the RNG before calling)."""
    model = make_model(params, image_size)
    model.cut_init(params["cut"], params["cut_scope"])
    return model


__all__ = ["METHODS", "build_model", "make_model", "method_of"]
