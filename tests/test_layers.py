"""The package's layers import only downward (README "Layout"): an analysis or a figure never imports training code;
both reach the kNN classifier through `embnorm.evaluation`. No module imports, directly or through others, a module
that imports it back; the embed stage reads features and checkpoints without training code; and the data layer is
read by the config, never the reverse. Imports inside functions count as much as those at the top of a module."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import embnorm

PACKAGE = Path(embnorm.__file__).parent


def module_name(path: Path) -> str:
    """`.../embnorm/data/synthetic/__init__.py` -> `embnorm.data.synthetic`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """The modules a file imports, anywhere in it: `from a.b import c` names the module a.b.c if the package has one,
    else a.b (c is a name defined there). The package imports by absolute names only."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}:{node.lineno}: a relative import; write the module's absolute name"
            names.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                         for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports."""
    return {name: {m for m in imported_modules(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A chain of imports that leads back to where it started ([] when there is none), by depth-first search."""
    done, chain = set(), []

    def visit(node: str) -> list[str]:
        if node in chain:
            return chain[chain.index(node):] + [node]
        if node in done:
            return []
        chain.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        chain.pop()
        done.add(node)
        return []

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return []


def test_find_cycle_finds_a_loop_through_other_modules_and_only_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_module_imports_itself_through_others():
    cycle = find_cycle(import_graph())
    assert not cycle, f"import loop: {' -> '.join(cycle)}"


def imports_of(directory: str) -> dict[str, set[str]]:
    """`relative file` -> the modules it imports, for every file under `directory` of the package (or that file)."""
    files = sorted((PACKAGE / directory).rglob("*.py")) if (PACKAGE / directory).is_dir() else [PACKAGE / directory]
    return {path.relative_to(PACKAGE).as_posix(): imported_modules(path) for path in files}


def within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


@pytest.mark.parametrize("layer", ["analysis", "present", "evaluation", "embed.py"])
def test_upper_layers_do_not_import_training(layer):
    """None of them reads training code: the analyses and the figures reach the kNN classifier, and the embed stage
    a run's checkpoint and its features, through modules below training (embnorm.evaluation, embnorm.checkpoint)."""
    upward = {f"{file}: {name}" for file, names in imports_of(layer).items() for name in names
              if within(name, "embnorm.train")}
    assert not upward, f"{layer} imports training code: {sorted(upward)}"


def test_the_data_layer_does_not_import_the_config():
    """Checks that need the config live in embnorm.config, which reads the data layer's facts (sizes, specs)."""
    upward = {f"{file}: {name}" for file, names in imports_of("data").items() for name in names
              if within(name, "embnorm.config")}
    assert not upward, f"data/ imports the config: {sorted(upward)}"


def test_analyses_import_neither_presentation_nor_the_workflow():
    """The analyses' declarations (analysis/registry.py) are read by the rules and the commands, not the reverse."""
    upward = {f"{file}: {name}" for file, names in imports_of("analysis").items() for name in names
              if name.split(".")[0] == "snakemake" or within(name, "embnorm.present")}
    assert not upward, f"analysis/ imports presentation or Snakemake: {sorted(upward)}"


SYNTH = {"source": "synthetic", "synthetic": {"n_train": 40, "n_test": 20}}
DATA_COMMANDS = {
    # a command that reads no config, and one that checks its dataset spec against the workflow's schema
    "params": (["params", "--spec", '{"run_id": "r"}', "--out", "results/runs/r/params.json"],
               "results/provenance/runs/r/params.json.json"),
    "prepare": (["prepare", "--dataset", "synth", "--spec", json.dumps(SYNTH),
                 "--train", "resources/datasets/synth/train", "--test", "resources/datasets/synth/test"],
                "resources/provenance/datasets/synth/train/images.npy.json"),
}


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
def test_a_data_or_training_job_lists_no_analysis_code(tmp_path, command):
    """The provenance record lists the modules a job imported as the code that made its files, except those the
    command line loaded only to declare the analysis commands (cli.analysis_commands): a data or training job must
    not list analysis code (and the schema check of a dataset spec lives in embnorm.config, not in the audit, which
    reads the analyses' declarations), or an edit to an analysis would make the audit call every checkpoint stale
    while the workflow rightly re-runs nothing."""
    argv, record_file = DATA_COMMANDS[command]
    probe = (f"import json, sys; from embnorm.cli import main; main({argv!r}); "
             "print(json.dumps([m.__file__ for n, m in list(sys.modules.items()) if n.split('.')[0] == 'embnorm']))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    loaded = {Path(file).resolve().relative_to(PACKAGE.resolve()).as_posix() for file in json.loads(proc.stdout)}
    record = json.loads((tmp_path / record_file).read_text())
    assert "cli.py" in record["code_files"] and "io.py" in record["code_files"]
    assert not [f for f in record["code_files"] if f.startswith(("analysis/", "present/"))]
    left_out = loaded - set(record["code_files"]) - {"provenance.py", "audit.py"}
    assert all(f.startswith(("analysis/", "present/")) for f in left_out), sorted(left_out)


def test_an_analysis_job_lists_the_declarations_of_its_command(tmp_path):
    """The analysis commands are defined where they are declared (present/commands.py, from analysis/registry.py):
    for their jobs, that code made the files."""
    argv = ["simulate-gradients", "--checks", "results/c.tsv", "--gd", "results/g.tsv", "--png", "results/p.png",
            "--pdf", "results/p.pdf"]
    probe = ("from embnorm import cli, io; from embnorm.provenance import recording\n"
             f"args = cli.build_parser().parse_args({argv!r})\n"
             "with recording(args, declaring=cli.analysis_commands()[1]):\n"
             "    io.write_text('results/c.tsv', 'made\\n')")
    subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    record = json.loads((tmp_path / "results/provenance/c.tsv.json").read_text())
    assert {"cli.py", "present/commands.py", "analysis/registry.py"} <= set(record["code_files"])


PROCESS_WORDS = re.compile(r"\bissue [0-9]+|\bamendment of", re.IGNORECASE)


def process_references(path: Path) -> list[str]:
    """Lines of a source file that cite the project's process (an issue number, the amendment by its date): the code
    says what it does and why in its own words; the docs cite the process."""
    return [f"{path.name}:{number}: {line.strip()}" for number, line in enumerate(path.read_text().splitlines(), 1)
            if PROCESS_WORDS.search(line)]


def test_process_references_are_found(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('"""Set on learnability (issue 21)."""\nx = 1  # the Amendment of 2026-12-02\ny = "tissue 3x"\n')
    assert [hit.split(":")[1] for hit in process_references(source)] == ["1", "2"]


def test_the_package_cites_no_issue_and_no_amendment_by_date():
    hits = [hit for path in MODULES.values() for hit in process_references(path)]
    assert not hits, "\n".join(hits)


def test_no_test_module_imports_another():
    """Tests share code through conftest.py and tests/helpers/, never by importing a test module (which would collect
    its tests' module-level state twice and tie two files' fixtures together); a script a test runs counts too."""
    tests = Path(__file__).parent
    hits = [f"{path.relative_to(tests)}:{source[:match.start()].count(chr(10)) + 1}: {match.group(0).strip()}"
            for path in sorted(tests.rglob("*.py"))
            for source in [path.read_text()]
            for match in re.finditer(r"^[ \t]*(?:from|import)[ \t]+test_\w+", source, re.M)]
    assert not hits, "\n".join(hits)
