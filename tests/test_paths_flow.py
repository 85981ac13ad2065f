"""Paths flow from the rules (issue 14, item 3): the workflow fills every path template, and each command takes the
files and folders it reads and writes as arguments.

Two checks: no package module outside the path scheme's owners builds an artifact path (a static check of the source),
and the data, training and embedding commands run into folders that are not the workflow's results/ and resources/
layout, writing exactly where they are told and nowhere else.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, tiny_config, validated
from embnorm import io
from embnorm.cli import main
from embnorm.config import role_datasets, run_table

PACKAGE = REPO / "src" / "embnorm"
# Who may read the results tree's templates: the scheme itself, the auditor and the provenance recorder (they map
# files back onto runs), and the analysis declarations, which name each aggregate's file (a template and the
# analysis's name, no run or dataset) for the workflow's rules to declare.
OWNERS = {"paths.py", "audit.py", "provenance.py", "analysis/registry.py"}
ARTIFACT_TEMPLATES = ("RUN_", "RUNS_", "DATASET_", "SPLIT_", "HUMAN_")


def path_building(source: str) -> list[str]:
    """`paths.X` uses in `source` that build an artifact path: a run's, a dataset's, a split's or the human labels'
    template, or `paths.fmt` of anything but a file name inside a folder given to the command (`*_FILE`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "paths":
            if node.attr.startswith(ARTIFACT_TEMPLATES):
                found.append(f"line {node.lineno}: paths.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fmt" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "paths":
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Attribute) and first.attr.endswith("_FILE")):
                found.append(f"line {node.lineno}: paths.fmt({ast.unparse(first) if first else ''})")
        elif isinstance(node, ast.ImportFrom) and node.module == "embnorm.paths":
            found += [f"line {node.lineno}: from embnorm.paths import {a.name}" for a in node.names
                      if a.name.startswith(ARTIFACT_TEMPLATES) or a.name == "fmt"]
    return found


def test_the_static_check_sees_a_path_built_from_a_run_id():
    assert path_building("from embnorm import paths\nx = paths.fmt(paths.RUN_CHECKPOINT, run=r)\n") == [
        "line 2: paths.fmt(paths.RUN_CHECKPOINT)", "line 2: paths.RUN_CHECKPOINT"]
    assert path_building("y = paths.fmt(paths.EMBEDDING_FILE, dataset=d, split=s)\nz = paths.DOWNLOADS\n") == []


def test_no_command_or_package_function_builds_an_artifact_path():
    offenders = {}
    for module in sorted(PACKAGE.rglob("*.py")):
        name = module.relative_to(PACKAGE).as_posix()
        if name in OWNERS:
            continue
        found = path_building(module.read_text())
        if found:
            offenders[name] = found
    assert offenders == {}, "these modules build artifact paths; take them as arguments from the rule instead"


def _json(obj) -> str:
    return json.dumps(obj)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_data_train_and_embed_write_where_they_are_told(in_tmp, capsys):
    """An imbalanced run made end to end by the commands alone, every path in a layout of our own (`mine/...`); the
    files land there, and no results/ or resources/ folder appears."""
    config = tiny_config(epochs=1)
    config["grid"].update(model=["simclr"], mitigation=["none"], dataset=["synthimb"])
    config["include"] = []
    config = validated(config)
    (params,) = run_table(config)
    datasets = config["datasets"]
    split = {(d, s): f"mine/data/{d}.{s}" for d in ("synth", "synth_ood") for s in ("train", "test")}
    for d in ("synth", "synth_ood"):
        assert main(["prepare", "--dataset", d, "--spec", _json(datasets[d]),
                     "--train", split[d, "train"], "--test", split[d, "test"]]) == 0
    assert main(["human-labels", "--dataset", "synth", "--spec", _json(datasets["synth"]),
                 "--train", split["synth", "train"], "--test", split["synth", "test"],
                 "--cifarn", "mine/human/n.npz", "--counts", "mine/human/c.npy", "--probs", "mine/human/p.npy"]) == 0
    law = datasets["synthimb"]["imbalance"]
    assert main(["split", "--dataset", "synthimb", "--parent", "synth", "--parent-train", split["synth", "train"],
                 "--base", str(law["base"]), "--n-max", str(law["n_max"]),
                 "--indices", "mine/imb/rows.npy", "--audit", "mine/imb/audit.tsv"]) == 0
    assert main(["check-dataset", "--dataset", "synthimb", "--spec", _json(datasets["synthimb"]),
                 "--parent-spec", _json(datasets["synth"]), "--train", split["synth", "train"],
                 "--test", split["synth", "test"], "--indices", "mine/imb/rows.npy", "--out", "mine/checked.json"]) == 0
    assert main(["params", "--spec", _json(params), "--out", "mine/run/p.json"]) == 0

    out = ["--checkpoint", "mine/run/final.pt", "--metrics", "mine/run/m.tsv", "--resume", "mine/run/r.pt"]
    train_args = ["train", "--params", "mine/run/p.json", "--train", split["synth", "train"],
                  "--test", split["synth", "test"], *out, "--threads", "1"]
    assert main(train_args) == 1, "an imbalanced run without its indices is refused"
    assert main([*train_args, "--indices", "mine/imb/rows.npy"]) == 0
    splits = [split[pair] for pair in role_datasets(params).values()]
    embed_args = ["embed", "--params", "mine/run/p.json", "--checkpoint", "mine/run/final.pt", "--out", "mine/emb"]
    capsys.readouterr()
    assert main([*embed_args, "--splits", *splits[:2]]) == 1, "the source train split of an imbalanced run needs them"
    assert "give its indices (--indices)" in capsys.readouterr().err and not Path("mine/emb").exists()
    assert main([*embed_args, "--splits", *splits[2:], "--threads", "1"]) == 0  # the workflow's job per dataset
    assert main([*embed_args, "--splits", *splits[:2], "--indices", "mine/imb/rows.npy", "--threads", "1"]) == 0

    assert sorted(p.name for p in Path("mine/emb").iterdir()) == sorted(
        f"{d}-{s}.npz" for d, s in role_datasets(params).values())
    assert Path("mine/run/final.pt").is_file() and Path("mine/run/m.tsv").is_file()
    assert not Path("mine/run/r.pt").exists()  # deleted once the final checkpoint is written
    trained = io.read_npz("mine/emb/synth-train.npz")["trained_on"]
    assert np.flatnonzero(trained).tolist() == sorted(io.read_npy("mine/imb/rows.npy").tolist())
    assert sorted(p.name for p in in_tmp.iterdir()) == ["mine"]  # no results/ or resources/ appeared

