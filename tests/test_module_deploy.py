"""embnorm deployed as a Snakemake module in another project, as `snakedeploy deploy-workflow` lays one out: the
shared tiny project (conftest) is such a project.

A fresh directory outside the repository gets `workflow/Snakefile` (a `module` declaration naming our Snakefile, then
`use rule * from embnorm`) and `config/config.yaml`, and runs `snakemake` there with no `-s` or `-d`. Every output
must land in that directory (paths, the schema, report captions and `include:`s resolve against the module, not the
working directory); then the report builds there both as HTML and as a zip, and the two show the same results.
"""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, deployed, project_copy, project_runs
from embnorm import paths


def report_results(html: str) -> dict:
    """The results a Snakemake report lists (its `var results = {...};` line), by workflow path."""
    start = html.index("var results = {") + len("var results = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


@pytest.fixture(scope="module")
def reported(finished, tmp_path_factory) -> Path:
    """A copy of the finished project with its report built there, as HTML and as a zip."""
    project = deployed(project_copy(finished, tmp_path_factory.mktemp("reported")))
    project.run("--report", "results/report.zip")
    project.run("--report", "results/report.html")
    return project.workdir


def test_module_runs_to_the_claims_table_in_its_own_directory(finished):
    project = finished.workdir
    claims = project / paths.fmt(paths.TABLE, name="claims")
    assert claims.is_file() and len(claims.read_text().splitlines()) > 1
    assert (project / paths.MANIFEST).is_file()
    assert sorted(p.name for p in (project / "results" / "runs").iterdir()) == project_runs()
    assert (project / paths.fmt(paths.DATASET_IMAGES, dataset="synth", split="train")).is_file()
    assert finished.repo_untouched, "the module wrote into the repository's results/ or resources/"


def test_conda_env_installs_the_package_from_the_module_source(finished):
    """envs/embnorm.yaml installs `-e ${EMBNORM_SOURCE}`; for a module read from a checkout, that is the checkout."""
    assert Path((finished.workdir / "embnorm_source.txt").read_text()) == REPO


def test_report_zip_shows_the_same_report_as_the_html(reported):
    html = report_results((reported / "results" / "report.html").read_text())
    with zipfile.ZipFile(reported / "results" / "report.zip") as z:
        zipped = report_results(z.read("report/report.html").decode())
        assert html.keys() == zipped.keys()
        assert paths.fmt(paths.TABLE_HTML, name="claims") in html  # the claims table, first in the report
        for path, entry in html.items():
            same = ("name", "caption", "category", "subcategory", "mime_type", "job_properties")
            assert {k: entry.get(k) for k in same} == {k: zipped[path].get(k) for k in same}, path
            data = (reported / path).read_bytes()
            assert base64.b64decode(re.sub(r"^data:[^,]*,", "", entry["data_uri"])) == data, path
            assert z.read("report/" + zipped[path]["data_uri"]) == data, path
