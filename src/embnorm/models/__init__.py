"""Backbones, heads, SimCLR and SimSiam, and the two norm mitigations (GradScale, cut-initialization)."""

from embnorm.models.ssl import SSLModel, build_model

__all__ = ["SSLModel", "build_model"]
