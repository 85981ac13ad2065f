"""The promises of the repository's front page: two commands, pinned environments that agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from conftest import REPO


def test_readme_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    quick = text.split("```", 2)[1]
    commands = [line.strip() for line in quick.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]


def test_readme_is_a_front_door():
    """At most 160 lines, and the first screen (25 lines) holds a figure and the two commands; the rest points to docs/."""
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 160, f"README.md has {len(lines)} lines: move detail into docs/"
    first = "\n".join(lines[:25])
    image = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", first)
    assert image and (REPO / image.group(1)).is_file(), "no figure in the first 25 lines"
    assert "make run" in first and "make test" in first


def test_readme_links_resolve():
    """Every relative link of README.md names a file of the repository (a generated page included)."""
    text = (REPO / "README.md").read_text()
    targets = {m.split("#")[0] for m in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", m)}
    missing = sorted(t for t in targets if t and not (REPO / t).exists())
    assert not missing, f"README.md links files that do not exist: {missing}"


def test_conda_env_matches_pip_pins():
    pins = {line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    env = yaml.safe_load((REPO / "envs" / "embnorm.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {p for p in pip if re.match(r"^[A-Za-z]", p)} == pins


def test_ci_runs_what_the_readme_says():
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_the_config_reference_is_generated_from_the_schema_into_config_readme_only():
    from embnorm.present.schema_doc import BEGIN, END, reference_markdown, with_reference

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    text = (REPO / "config" / "README.md").read_text()
    block = text[text.index(BEGIN): text.index(END) + len(END)]
    assert block == reference_markdown(schema), "regenerate it: make config-reference"
    assert with_reference(text.replace(block, f"{BEGIN}\nstale\n{END}"), schema) == text
    assert BEGIN not in (REPO / "README.md").read_text()  # the README links config/README.md instead
    with pytest.raises(ValueError, match="no .* block"):
        with_reference("# a page without the markers\n", schema)


# ---- a release that the Snakemake ecosystem can list, deploy and cite ----

def _version() -> str:
    from embnorm import __version__

    return __version__


def test_version_is_written_once_and_followed():
    """`embnorm --version`, CITATION.cff and the changelog's latest release follow embnorm.__version__, and the package
    metadata reads it (pyproject.toml has no version of its own)."""
    version = _version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-m", "embnorm.cli", "--version"], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"embnorm {version}"
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["version"] == version
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    assert releases and releases[0] == version, "CHANGELOG.md's latest release heading"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "embnorm.__version__"}


def test_citation_cff_cites_the_paper_and_this_software():
    """The keys that CFF 1.2.0 requires, at the top level (this software) and in the preferred citation (the paper)."""
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors"} <= cff.keys() and cff["type"] == "software"
    assert cff["license"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]["text"]
    paper = cff["preferred-citation"]
    assert {"type", "title", "authors"} <= paper.keys()
    assert paper["title"] == "On the Importance of Embedding Norms in Self-Supervised Learning"
    assert paper["year"] == 2025 and "International Conference on Machine Learning" in paper["collection-title"]
    assert paper["authors"][0]["family-names"] == "Draganov"
    for author in cff["authors"] + paper["authors"]:
        assert "name" in author or "family-names" in author, author  # an entity or a person


def test_catalog_file_says_what_the_workflow_supports():
    """The catalog file's claims, in the catalog's documented format: conda deployment (every rule that runs a
    command names envs/embnorm.yaml), no container, a report zip (a Makefile target builds it)."""
    usage = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    assert usage["software-stack-deployment"] == {"conda": True, "apptainer": False, "apptainer+conda": False}
    assert usage["report"] is True
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M)[1:]:
            if "shell:" in block:
                assert '"../../envs/embnorm.yaml"' in block, f"{smk.name}: {block.splitlines()[0]} has no conda env"
    assert "--report results/report.zip" in (REPO / "Makefile").read_text()


def test_readme_links_the_release_files():
    text = (REPO / "README.md").read_text()
    for name in ("CHANGELOG.md", "LICENSE", "CITATION.cff", ".snakemake-workflow-catalog.yml", "config/README.md"):
        assert (REPO / name).is_file()
        assert f"]({name})" in text, f"README.md does not link {name}"


def test_conda_env_installs_the_package_from_another_directory(tmp_path):
    """Snakemake copies envs/embnorm.yaml to <workdir>/.snakemake/conda/<hash>.yaml, and conda's pip installer writes the
    pip entries to a requirements file beside it and runs pip there; so the entry that installs this package must not
    be a path relative to the env file (`-e ..` named .snakemake/). Replays that pip step from a fresh directory with
    the EMBNORM_SOURCE that the Snakefile sets for a local checkout (tests/test_module_deploy.py checks that value)."""
    env = yaml.safe_load((REPO / "envs" / "embnorm.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    package = [p for p in pip if not re.match(r"^[A-Za-z]", p)]  # the pins are checked against requirements.txt above
    assert package == ["-e ${EMBNORM_SOURCE}"]
    conda_dir = tmp_path / ".snakemake" / "conda"
    conda_dir.mkdir(parents=True)
    (conda_dir / "condaenv.requirements.txt").write_text("\n".join(package) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
                           "--no-build-isolation", "--disable-pip-version-check", "-r", "condaenv.requirements.txt"],
                          cwd=conda_dir, env=dict(os.environ, EMBNORM_SOURCE=str(REPO)), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"Would install embnorm-{_version()}" in proc.stdout  # the package metadata carries __version__
