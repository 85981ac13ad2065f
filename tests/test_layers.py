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


SYNTH = {"source": "synthetic", "synthetic": {"n_train": 40, "n_test": 20}}
DATA_COMMANDS = {
    # a command that reads no config, and one that checks its dataset spec against the workflow's schema
    "params": (["params", "--spec", '{"run_id": "r"}', "--out", "results/runs/r/params.json"],
               "results/provenance/runs/r/params.json.json"),
    "prepare": (["prepare", "--dataset", "synth", "--spec", __import__("json").dumps(SYNTH),
                 "--train", "resources/datasets/synth/train", "--test", "resources/datasets/synth/test"],
                "resources/provenance/datasets/synth/train/images.npy.json"),
}


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
def test_a_data_or_training_command_runs_without_the_analysis_code(tmp_path, command):
    """The provenance record lists the modules a job imported as the code that made its files; a training or data
    command must not import the analyses (cli.build_parser registers them only for an analysis command; the schema
    check of a dataset spec lives in embnorm.config, not in the audit, which reads the analyses' declarations), or an
    edit to an analysis would make the audit call every checkpoint stale while the workflow rightly re-runs nothing."""
    import json
    import subprocess
    import sys

    argv, record_file = DATA_COMMANDS[command]
    probe = (f"import sys; from embnorm.cli import main; main({argv!r}); "
             "print(sorted(m for m in sys.modules if m.startswith(('embnorm.analysis', 'embnorm.present'))))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    record = json.loads((tmp_path / record_file).read_text())
    assert "cli.py" in record["code_files"]
    assert not [f for f in record["code_files"] if f.startswith(("analysis/", "present/"))]
