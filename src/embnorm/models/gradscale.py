"""GradScale (Algorithm 1 of the paper) for the workflow's models: the one implementation is the public
`embnorm.mitigations.gradscale`; `grad_scale(z, power)` is its name inside the models."""

from embnorm.mitigations import gradscale as grad_scale

__all__ = ["grad_scale"]
