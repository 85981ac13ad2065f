"""The model table: every SSL method the workflow can train, by the name configs use (`grid.model`, `models.<name>`).

A row names the method's module and class and its defaults at the paper's scale. The table imports no torch (the
workflow reads it when it parses the config: the model names and defaults of `models.<name>` come from here,
`embnorm.config.complete_models`); `METHODS[name].load()` imports the method's module, whose constructor takes the
row's model settings as keyword arguments with these values as defaults. Adding a method is one module in this folder
plus one row here (docs/adding-a-method.md); everything else (which layers are embedded, the optimizer groups, the
per-step hook) reads the method.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MethodRow:
    path: str  # "module:Class" of the method (an embnorm.models.methods.base.Method)
    defaults: dict = field(default_factory=dict)  # hyper-parameters of `models.<name>` and their paper values

    def load(self):
        module, name = self.path.split(":")
        return getattr(importlib.import_module(module), name)


METHODS: dict[str, MethodRow] = {
    "simclr": MethodRow("embnorm.models.methods.simclr:SimCLR", {
        "lr_per_256": 0.18, "weight_decay": 1.0e-6, "batch_size": 256, "accumulate": 1, "embed_dim": 256,
        "hidden_dim": 0, "temperature": 0.5, "loss": "ntxent"}),
    "simsiam": MethodRow("embnorm.models.methods.simsiam:SimSiam", {
        "lr_per_256": 0.12, "weight_decay": 5.0e-4, "batch_size": 256, "accumulate": 4, "embed_dim": 2048,
        "predictor_dim": 512}),
    "byol": MethodRow("embnorm.models.methods.byol:BYOL", {  # solo-learn's CIFAR config (see byol.py)
        "lr_per_256": 0.12, "weight_decay": 1.0e-5, "batch_size": 256, "accumulate": 1, "embed_dim": 256,
        "hidden_dim": 4096, "predictor_dim": 4096}),
}

__all__ = ["METHODS", "MethodRow"]
