"""Config presets: read one, validate it against the schema, and list its runs."""

from __future__ import annotations

import copy

import yaml

from conftest import SCHEMA
from embnorm.config import run_table


def validated(config: dict) -> dict:
    """Schema-validated with defaults filled in, as the workflow does. (Not conftest.validated: snakemake's validate
    reads `workflow` from its caller's globals, and conftest's globals hold the `workflow` fixture.)"""
    from snakemake.utils import validate

    validate(config, str(SCHEMA))
    return config


def runs_of(config: dict) -> dict[str, dict]:
    return {run["run_id"]: run for run in run_table(validated(copy.deepcopy(config)))}


def load(path) -> dict:
    return yaml.safe_load(path.read_text())
