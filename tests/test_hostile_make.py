"""A config file is code to Snakemake: one that sets `__use_yte__` is evaluated as a YTE template while it loads. The
make targets that pass --configfile refuse it before Snakemake reads it (embnorm.config.yte_problem)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from embnorm.config import yte_problem

EVIL = "__use_yte__: true\ntrain:\n  ?if True:\n    epochs: 2\n"


def test_a_plain_config_is_not_refused(tmp_path):
    assert yte_problem(REPO / "config.yaml") is None
    (tmp_path / "off.yaml").write_text("__use_yte__: false\ntrain: {epochs: 2}\n")
    assert yte_problem(tmp_path / "off.yaml") is None


def test_a_yte_config_is_refused_in_one_line(tmp_path):
    (tmp_path / "evil.yaml").write_text(EVIL)
    problem = yte_problem(tmp_path / "evil.yaml")
    assert problem is not None and "\n" not in problem
    assert "__use_yte__" in problem and f"snakemake --cores 2 --configfile {tmp_path / 'evil.yaml'}" in problem


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["run", "report-zip", "dag"])
def test_make_refuses_a_yte_config_before_snakemake(tmp_path, target):
    """Snakemake here is a stand-in that records being called (first on PATH; VENV points make's own PATH entry at a
    folder that does not exist): make must stop before it."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    marker = tmp_path / "snakemake-called"
    fake = venv / "bin" / "snakemake"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    python = venv / "bin" / "python"  # make's PATH puts VENV/bin first: its python must be this test's interpreter
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (tmp_path / "evil.yaml").write_text(EVIL)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["make", "-s", "-C", str(REPO), "-o", f"{venv}/.installed", target, f"VENV={venv}",
                           f"CONFIG={tmp_path / 'evil.yaml'}"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert not marker.exists()
    assert "sets __use_yte__" in done.stderr and "run snakemake directly" in done.stderr
