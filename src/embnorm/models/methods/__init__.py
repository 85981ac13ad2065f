"""The model table: every SSL method the workflow can train, by the name configs use (`grid.model`, `models.<name>`).

Adding a method is one module here plus one row in METHODS (docs/adding-a-method.md); everything else (the schema's
model list and defaults, which layers are embedded, the optimizer groups, the per-step hook) reads the method.
"""

from embnorm.models.methods.base import Method
from embnorm.models.methods.simclr import SimCLR
from embnorm.models.methods.simsiam import SimSiam

METHODS: dict[str, type[Method]] = {m.name: m for m in (SimCLR, SimSiam)}

__all__ = ["METHODS", "Method"]
