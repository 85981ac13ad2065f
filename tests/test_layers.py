"""The package's layers import only downward (README "Layout"): an analysis or a figure never imports training code;
both reach the kNN classifier through `embnorm.evaluation`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import embnorm

PACKAGE = Path(embnorm.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["analysis", "present", "evaluation"])
def test_upper_layers_do_not_import_training(layer):
    upward = {f"{path.relative_to(PACKAGE)}: {name}" for path in sorted((PACKAGE / layer).rglob("*.py"))
              for name in imported_modules(path) if name == "embnorm.train" or name.startswith("embnorm.train.")}
    assert not upward, f"{layer}/ imports training code: {sorted(upward)}"


def test_analyses_import_neither_presentation_nor_the_workflow():
    """The analyses' declarations (analysis/registry.py) are read by the rules and the commands, not the reverse."""
    upward = {f"{path.relative_to(PACKAGE)}: {name}" for path in sorted((PACKAGE / "analysis").rglob("*.py"))
              for name in imported_modules(path)
              if name.split(".")[0] == "snakemake" or name == "embnorm.present" or name.startswith("embnorm.present.")}
    assert not upward, f"analysis/ imports presentation or Snakemake: {sorted(upward)}"
