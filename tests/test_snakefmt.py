"""The Snakefile and every rule file are formatted as `snakefmt` formats them: the formatting check that the Snakemake
workflow catalog runs on listed workflows. Line length: pyproject.toml's [tool.snakefmt]."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SNAKEFILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]


def snakefmt(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or "snakefmt"
    return subprocess.run([exe, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_snakefmt_is_the_pinned_version():
    pin = next(line.split("==")[1].strip() for line in (REPO / "requirements.txt").read_text().splitlines()
               if line.startswith("snakefmt=="))
    assert snakefmt("--version").stdout.split()[-1] == pin


def test_snakefile_and_rules_are_snakefmt_clean():
    assert len(SNAKEFILES) > 1
    files = [str(f.relative_to(REPO)) for f in SNAKEFILES]
    check = snakefmt("--check", *files)
    if check.returncode != 0:
        diff = snakefmt("--diff", *files).stdout
        raise AssertionError(f"snakefmt would reformat (run: snakefmt {' '.join(files)}):\n{check.stderr}\n{diff[:6000]}")
