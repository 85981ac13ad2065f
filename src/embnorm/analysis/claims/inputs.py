"""What every claim's rule reads: the analysis tables by key, the models' default weight decays and the bootstrap's
settings. One object, so that the declarations (`declarations.py`) can hand the same inputs to any rule."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

# A confidence claim's tables computed on each run's encoder at initialisation carry this suffix (`tables[key +
# UNTRAINED]`, same columns as the trained table); they are optional.
UNTRAINED = "_init"


@dataclass(frozen=True)
class Inputs:
    """The tables (`tables[key]`, keys as in `analysis.registry.CLAIM_TABLES`), `default_wd` ({model: its default
    weight decay}: a baseline run uses it), and the bootstrap's `resamples` and `seed`."""

    tables: dict[str, pd.DataFrame]
    default_wd: dict
    resamples: int = 1000
    seed: int = 0

    def __getitem__(self, key: str) -> pd.DataFrame:
        return self.tables[key]

    @property
    def training(self) -> pd.DataFrame:
        return self.tables["training"]

    def with_tables(self, **tables: pd.DataFrame) -> "Inputs":
        """The same inputs with some tables replaced (a read-gate's selection, or the untrained encoders' tables)."""
        return replace(self, tables={**self.tables, **tables})
