"""Cut-initialization for the workflow's models: the one implementation is the public `embnorm.mitigations.cut_init`;
`cut_initialization(model, c, scope)` is its name inside the models."""

from embnorm.mitigations import cut_init as cut_initialization

__all__ = ["cut_initialization"]
