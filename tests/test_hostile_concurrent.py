"""Two `snakemake` runs in one folder. The first holds Snakemake's lock while its jobs run, and the files a running job
has begun are marked incomplete; Snakemake plans the second run before it looks at the lock, so without a word from
the workflow the second is told that those files are incomplete (use --rerun-incomplete) and nothing about the other
run. The workflow says first that the folder is in use (rules/common.smk), and `snakemake --unlock` still works."""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode
from pathlib import Path

from conftest import Workflow, tiny_config
from embnorm import paths

IN_USE = "embnorm: this folder is in use by another snakemake run"


def hold_lock(workdir: Path, inputs: list[str], outputs: list[str]) -> None:
    """What a running `snakemake` leaves in its folder (Snakemake's file persistence): its lock, one file per line, and
    an incomplete mark for each output of a job it has started (a base64 name holding the job's external id)."""
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("\n".join(inputs) + "\n")
    (locks / "0.output.lock").write_text("\n".join(outputs) + "\n")
    incomplete = workdir / ".snakemake" / "incomplete"
    incomplete.mkdir()
    for output in outputs:
        (incomplete / urlsafe_b64encode(output.encode()).decode()).write_text(json.dumps({"external_jobid": None}))


def test_a_second_run_is_told_the_folder_is_in_use(tmp_path):
    wf = Workflow(tmp_path)
    wf.write_config(tiny_config())
    table = tmp_path / paths.RUNS_TABLE
    table.parent.mkdir(parents=True)
    table.write_text("run_id\n")  # the first run's runs_table job has written its output, not yet finished
    params = [paths.fmt(paths.RUN_PARAMS, run=run) for run in ("a", "b")]
    hold_lock(tmp_path, params, [paths.RUNS_TABLE])

    second = wf.run("--cores", "1", paths.RUNS_TABLE, check=False)
    assert second.returncode != 0
    lines = second.stderr.splitlines()
    assert lines[0].startswith(IN_USE) and "\n" not in lines[0]
    assert "snakemake --unlock" in lines[0]
    assert table.read_text() == "run_id\n"  # nothing of the first run's was touched

    assert wf.run("--unlock").stderr.startswith(IN_USE)  # said, and the unlock goes ahead
    assert not list((tmp_path / ".snakemake" / "locks").glob("*.lock"))
    assert IN_USE not in wf.run("-n", "--cores", "1", "--rerun-incomplete", paths.RUNS_TABLE).stderr
