"""The promises of the repository's front page: two commands, pinned environments that agree."""

from __future__ import annotations

import re

import yaml

from conftest import REPO


def test_readme_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    quick = text.split("```", 2)[1]
    commands = [line.strip() for line in quick.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]


def test_conda_env_matches_pip_pins():
    pins = {line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    env = yaml.safe_load((REPO / "envs" / "embnorm.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {p for p in pip if re.match(r"^[A-Za-z]", p)} == pins


def test_ci_runs_what_the_readme_says():
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_config_reference_is_generated_from_the_schema():
    from embnorm.present.schema_doc import BEGIN, END, reference_markdown

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    text = (REPO / "README.md").read_text()
    block = text[text.index(BEGIN): text.index(END) + len(END)]
    assert block == reference_markdown(schema), "regenerate it: make config-reference"
