"""Shared test fixtures: repository paths, the shared data folder, a workflow runner, the tiny project that the
workflow tests share, and a network guard.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
sys.path.insert(0, str(REPO / "src"))

from embnorm import paths  # noqa: E402  (after the src/ path insert)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test opens a network socket to anything but loopback."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            raise RuntimeError(f"test tried to open a network connection to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        reason = f"{SHARED_DATA} is absent (the real label files live outside this repo)"
        if os.environ.get("CI", "").lower() == "true":  # CI must not pass without the tests that read the real data
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return SHARED_DATA


def validated(config: dict) -> dict:
    """A config dict validated and completed with the schema's and the model table's defaults, as the workflow does."""
    from snakemake.utils import validate

    from embnorm.config import complete_models

    # snakemake's validate looks up a global named `workflow` in its caller's module; here that name is the fixture
    # below, so call it from a namespace without one.
    exec("validate(config, schema)", {"validate": validate, "config": config, "schema": str(SCHEMA)})
    complete_models(config)
    return config


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def tiny_config(**train) -> dict:
    """The default config made tiny: few images, 2 epochs (a budget in epochs, 2 warm-up epochs), small batches
    (seconds on a CPU)."""
    config = default_config()
    for name in ("synth", "synth_ood"):
        config["datasets"][name]["synthetic"].update(n_train=400, n_test=100)
    config["datasets"]["synthimb"]["imbalance"]["n_max"] = 40
    config["models"] = {"simclr": {"batch_size": 64, "embed_dim": 32},
                        "simsiam": {"batch_size": 32, "accumulate": 2, "embed_dim": 64, "predictor_dim": 16},
                        "byol": {"batch_size": 32, "embed_dim": 32, "hidden_dim": 64, "predictor_dim": 64}}
    config["analysis"] = {"simulation_epochs": 5, "bootstrap": 200}
    config["optimizers"]["sgd"] = {"warmup_epochs": 2, "warmup_steps": None}
    config["train"].update({"epochs": 2, "steps": None, "knn_fractions": None, "knn_every": 1, "checkpoint_every": 1,
                            "probe_size": 64, "knn_k": 20, **train})
    return config


class Workflow:
    """Runs the real Snakefile in a working directory: the repository's, or (snakefile None) the one Snakemake finds
    there itself, as in a project that uses embnorm as a module (`deployed`). Its config is the file `config_file`."""

    def __init__(self, workdir: Path, snakefile: Path | None = REPO / "Snakefile", config_file: str = "config.yaml"):
        self.workdir = workdir
        self.snakefile = snakefile
        self.config_file = config_file

    def write_config(self, config: dict) -> Path:
        path = self.workdir / self.config_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def run(self, *args: str, check: bool = True, timeout: int = 1200,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        env.pop("EMBNORM_SOURCE", None)  # the Snakefile sets it, from where it is read
        where = ["-s", str(self.snakefile), "-d", str(self.workdir)] if self.snakefile else []
        cmd = [shutil.which("snakemake", path=env["PATH"]) or "snakemake", *where, *args]
        proc = subprocess.run(cmd, cwd=self.workdir, env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def planned_jobs(self, *args: str) -> dict[str, int]:
        """Job counts per rule of a dry run (`snakemake -n`)."""
        out = self.run("-n", *args, "--quiet", "rules").stdout
        counts = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
                counts[parts[0]] = int(parts[1])
        return counts


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    return Workflow(tmp_path)


# ---- the tiny project that the workflow tests share: built once per session, deployed as a module ----

# What `snakedeploy deploy-workflow` writes (its use_module.smk.jinja), with a local path where it writes github(...),
# plus one rule of the project's own: it records the package source that the jobs' conda env (envs/embnorm.yaml)
# would install.
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
PROJECT_CONFIG = "config/config.yaml"


def deployed(root: Path) -> Workflow:
    """A project laid out as snakedeploy lays one out (workflow/Snakefile declares the module, PROJECT_CONFIG is its
    config), run as its user runs it: `snakemake` in its directory, with no -s or -d."""
    return Workflow(root, snakefile=None, config_file=PROJECT_CONFIG)


def project_config() -> dict:
    """tiny_config with the five runs the workflow tests read: SimCLR without mitigation on synth and on its
    imbalanced split synthimb, SimCLR with cut-initialization on synth (a mitigated run), and BYOL without mitigation
    on both (a second method); the smallest simulations and bootstraps the schema allows."""
    cfg = tiny_config()
    cfg["grid"] = {"model": ["simclr"], "optimizer": ["sgd"], "mitigation": ["none", "cut"], "dataset": ["synth"],
                   "seed": [0]}
    cfg["include"] = [{"model": model, "optimizer": "sgd", "mitigation": "none", "dataset": dataset, "seed": 0}
                      for model, dataset in (("simclr", "synthimb"), ("byol", "synth"), ("byol", "synthimb"))]
    cfg["analysis"].update(bootstrap=100, simulation_epochs=2, simulation_runs=1)
    return cfg


RUN = "simclr-sgd-none-synth-small-s0"  # the project's run that tests read first and damage


def project_runs() -> list[str]:
    """The run ids of project_config, sorted (the order of results/runs/)."""
    from embnorm.config import run_table

    return sorted(run["run_id"] for run in run_table(validated(project_config())))


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its modification time (ns); {} where root does not exist."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} \
        if root.exists() else {}


class Project(Workflow):
    """The finished tiny project, with what its build left: Snakemake's output (`log`), and whether the repository's
    own results/ and resources/ stayed as they were (`repo_untouched`)."""

    log: subprocess.CompletedProcess
    repo_untouched: bool


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Project:
    """project_config deployed as a module in a fresh directory outside the repository and run to the end (`all`,
    and the project's own rule) with the workstation profile and two pretend GPUs, once per session. Tests read it;
    a test that changes it works on a copy (`project`, `project_copy`)."""
    root = tmp_path_factory.mktemp("project")
    assert REPO not in root.parents
    project = Project(root, snakefile=None, config_file=PROJECT_CONFIG)
    (root / "workflow").mkdir()
    (root / "workflow" / "Snakefile").write_text(PROJECT_SNAKEFILE.format(snakefile=REPO / "Snakefile"))
    project.write_config(project_config())
    (root / "profiles").symlink_to(REPO / "profiles")  # the profile's GPU shell path is relative to the project
    before = {name: tree(REPO / name) for name in (paths.RESULTS, paths.RESOURCES)}
    gpus = {"EMBNORM_GPUS": "0 1", "EMBNORM_GPU_LOCKS": str(tmp_path_factory.mktemp("gpu-locks"))}
    project.log = project.run("all", "embnorm_source.txt", "--profile", "profiles/local", "--cores", "2",
                              "--resources", "gpu=2", env=gpus)
    project.repo_untouched = before == {name: tree(REPO / name) for name in (paths.RESULTS, paths.RESOURCES)}
    return project


def project_copy(wf: Workflow, dest: Path) -> Path:
    """A copy of the finished project (its workflow and config, resources, results and Snakemake's records of the
    jobs) that a test may change."""
    shutil.copytree(wf.workdir, dest, symlinks=True, dirs_exist_ok=True, copy_function=shutil.copy2)
    return dest


@pytest.fixture
def project(finished, tmp_path) -> Path:
    return project_copy(finished, tmp_path)


def split_folders(name: str) -> dict[str, str]:
    """Folders for a prepared dataset's two splits that the library-level tests write, `prepared/<name>/<split>` (any
    folders do; the workflow's resources/ layout is its rules' choice)."""
    return {split: f"prepared/{name}/{split}" for split in ("train", "test")}
