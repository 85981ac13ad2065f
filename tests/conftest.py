"""Shared test fixtures: repository paths, the shared data folder, a workflow runner, and a network guard."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
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
    """Runs the real Snakefile in a temporary working directory."""

    def __init__(self, workdir: Path):
        self.workdir = workdir

    def write_config(self, config: dict, name: str = "config.yaml") -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def run(self, *args: str, check: bool = True, timeout: int = 1200) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        cmd = [shutil.which("snakemake", path=env["PATH"]) or "snakemake", "-s", str(REPO / "Snakefile"),
               "-d", str(self.workdir), *args]
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


# ---- one finished tiny project shared by the audit and failure tests (built once per session) ----

def audited_config() -> dict:
    """tiny_config with two runs (balanced and imbalanced), so datasets, a split, runs and analyses all exist, and
    the smallest simulations and bootstraps the schema allows."""
    cfg = tiny_config()
    cfg["grid"].update(mitigation=["none"], dataset=["synth", "synthimb"])
    cfg["include"] = []
    cfg.setdefault("analysis", {}).update(bootstrap=100, simulation_epochs=2, simulation_runs=1)
    return cfg


def built_workflow(tmp_path_factory) -> Workflow:
    """The finished tiny workflow, built once per test session."""
    wf = Workflow(tmp_path_factory.getbasetemp() / "audited-workflow")
    if not (wf.workdir / paths.MANIFEST).exists():
        wf.workdir.mkdir(exist_ok=True)
        wf.write_config(audited_config())
        wf.run("--cores", "2")
    return wf


def project_copy(wf: Workflow, dest: Path) -> Path:
    """A copy of the finished project (config, resources, results) that a test may damage."""
    for name in (paths.RESULTS, paths.RESOURCES):
        shutil.copytree(wf.workdir / name, dest / name, copy_function=shutil.copy2)
    shutil.copy2(wf.workdir / "config.yaml", dest / "config.yaml")
    return dest


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Workflow:
    return built_workflow(tmp_path_factory)


@pytest.fixture
def project(finished, tmp_path) -> Path:
    return project_copy(finished, tmp_path)


def first_run(root: Path) -> str:
    return sorted(p.name for p in (root / "results/runs").iterdir())[0]


def split_folders(name: str) -> dict[str, str]:
    """Folders for a prepared dataset's two splits that the library-level tests write, `prepared/<name>/<split>` (any
    folders do; the workflow's resources/ layout is its rules' choice)."""
    return {split: f"prepared/{name}/{split}" for split in ("train", "test")}
