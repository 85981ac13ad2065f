"""embnorm deployed as a Snakemake module in another project, as `snakedeploy deploy-workflow` lays one out.

A fresh directory outside the repository gets `workflow/Snakefile` (a `module` declaration naming our Snakefile, then
`use rule * from embnorm`) and `config/config.yaml` (the tiniest study: two SimCLR runs of one epoch, balanced and
imbalanced), and runs `snakemake` there with no `-s` or `-d`. Every output must land in that directory (paths, the
schema, report captions and `include:`s resolve against the module, not the working directory); then the report
builds there both as HTML and as a zip, and the two show the same results.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import REPO, audited_config, paths

pytestmark = pytest.mark.slow

# What snakedeploy writes (its use_module.smk.jinja), with a local path where it writes github(...), plus one rule of
# the project's own: it records the package source that the jobs' conda env (envs/embnorm.yaml) would install.
PROJECT_SNAKEFILE = """\
configfile: "config/config.yaml"


module embnorm:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from embnorm


rule embnorm_source:
    output:
        "embnorm_source.txt",
    localrule: True
    shell:
        'printf %s "$EMBNORM_SOURCE" > {{output}}'
"""


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its modification time (ns)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} \
        if root.exists() else {}


def snakemake(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("EMBNORM_SOURCE", None)  # the module sets it
    cmd = [shutil.which("snakemake", path=env["PATH"]) or "snakemake", *args]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def report_results(html: str) -> dict:
    """The results a Snakemake report lists (its `var results = {...};` line), by workflow path."""
    start = html.index("var results = {") + len("var results = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


@dataclass
class Project:
    root: Path
    repo_untouched: bool  # the repository's results/ and resources/ are as they were before the run


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("project")
    assert REPO not in root.parents
    (root / "workflow").mkdir()
    (root / "workflow" / "Snakefile").write_text(PROJECT_SNAKEFILE.format(snakefile=REPO / "Snakefile"))
    config = audited_config()
    config["train"]["epochs"] = 1
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    before = {name: tree(REPO / name) for name in (paths.RESULTS, paths.RESOURCES)}
    snakemake(root, "--cores", "2", "all", "embnorm_source.txt")
    return Project(root, before == {name: tree(REPO / name) for name in (paths.RESULTS, paths.RESOURCES)})


@pytest.fixture
def project(deployed) -> Path:
    return deployed.root


def test_module_runs_to_the_claims_table_in_its_own_directory(deployed, project):
    claims = project / paths.fmt(paths.TABLE, name="claims")
    assert claims.is_file() and len(claims.read_text().splitlines()) > 1
    assert (project / paths.MANIFEST).is_file()
    assert sorted(p.name for p in (project / "results" / "runs").iterdir()) == [
        "simclr-sgd-none-synth-small-s0", "simclr-sgd-none-synthimb-small-s0"]
    assert (project / paths.fmt(paths.DATASET_IMAGES, dataset="synth", split="train")).is_file()
    assert deployed.repo_untouched, "the module wrote into the repository's results/ or resources/"


def test_conda_env_installs_the_package_from_the_module_source(project):
    """envs/embnorm.yaml installs `-e ${EMBNORM_SOURCE}`; for a module read from a checkout, that is the checkout."""
    assert Path((project / "embnorm_source.txt").read_text()) == REPO


def test_report_zip_shows_the_same_report_as_the_html(project):
    snakemake(project, "--report", "results/report.zip")
    snakemake(project, "--report", "results/report.html")
    html = report_results((project / "results" / "report.html").read_text())
    with zipfile.ZipFile(project / "results" / "report.zip") as z:
        zipped = report_results(z.read("report/report.html").decode())
        assert html.keys() == zipped.keys()
        assert paths.fmt(paths.TABLE_HTML, name="claims") in html  # the claims table, first in the report
        for path, entry in html.items():
            same = ("name", "caption", "category", "subcategory", "mime_type", "job_properties")
            assert {k: entry.get(k) for k in same} == {k: zipped[path].get(k) for k in same}, path
            data = (project / path).read_bytes()
            assert base64.b64decode(re.sub(r"^data:[^,]*,", "", entry["data_uri"])) == data, path
            assert z.read("report/" + zipped[path]["data_uri"]) == data, path
