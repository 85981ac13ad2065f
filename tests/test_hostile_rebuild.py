"""A file deleted from a finished project is made again by a plain `snakemake`, as `embnorm audit` says ("missing, run
snakemake"). The embed jobs declare the files they write, one job per run and dataset (rules/embed.smk): a deleted
`.npz` inside a run's `embeddings/` or `embeddings_init/` is a missing output of its job, where a folder output that
still exists would leave Snakemake with "Nothing to be done". Both rules declare their outputs through the same
`embed_outputs`; the file deleted here is an initial encoder's, whose re-made file the init analyses and the claims
read again. A trained run's file re-runs every aggregate analysis that reads embeddings: the test took 32-35 CPU s
that way, 13 this way (2026-12-03, `make test` timed per test)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PROJECT_CONFIG, RUN, deployed
from embnorm import audit, paths

pytestmark = pytest.mark.slow


def test_a_deleted_embedding_file_is_made_again_by_a_plain_run(project):
    deleted = paths.fmt(paths.RUN_EMBEDDINGS_INIT, run=RUN,  # a run on synth, whose OOD partner is synth_ood
                         dataset="synth_ood", split="test")
    (project / deleted).unlink()
    found = {f.path: f for f in audit.audit(project / paths.RESULTS, audit.load_config([project / PROJECT_CONFIG]))}
    assert found[deleted].status == "missing"

    wf = deployed(project)
    jobs = wf.planned_jobs()
    assert jobs.get("embed_init") == 1 and "train" not in jobs and "embed" not in jobs  # that file's job alone
    wf.run("--cores", "2")
    assert (project / deleted).is_file()
    proc = subprocess.run([sys.executable, "-m", "embnorm.cli", "audit", paths.RESULTS, "--config", PROJECT_CONFIG],
                          cwd=project,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
