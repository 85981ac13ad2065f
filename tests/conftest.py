"""Shared test fixtures: repository paths, the shared data folder, a workflow runner, the tiny project that the
workflow tests share, a network guard, and the test tiers.

Tiers: every test that is neither `slow` nor starts a process is marked `fast` here, and `pytest -m fast` (`make
test-fast`) runs those, the unit tests; `make test` runs everything (CONTRIBUTING.md). Whether a test starts a process
is read from its code and its fixtures' (`starts_processes`), and checked while it runs: a `fast` test that starts
one fails, naming what it started (`guarded`).
"""

from __future__ import annotations

import _posixsubprocess
import contextlib
import dis
import inspect
import os
import shutil
import socket
import subprocess
import sys
import types
import zlib
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
sys.path.insert(0, str(REPO / "src"))

from embnorm import paths, provenance  # noqa: E402  (after the src/ path insert)


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


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Every test runs torch on one thread, whichever modules were collected: `make test`'s two workers fill the two
    cores, and no test's numbers depend on the machine's core count. (A test that needs another count sets it and puts
    this one back.)"""
    import torch

    torch.set_num_threads(1)


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

PROJECT_CONFIG = "config/config.yaml"  # where snakedeploy puts a project's config

# What `snakedeploy deploy-workflow` writes (its use_module.smk.jinja), with a local path where it writes github(...),
# plus one rule of the project's own: it records the package source that the jobs' conda env (envs/embnorm.yaml)
# would install.
PROJECT_SNAKEFILE = """\
configfile: "{config}"


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


def deployed(root: Path) -> Workflow:
    """A project laid out as snakedeploy lays one out (workflow/Snakefile declares the module, PROJECT_CONFIG is its
    config), run as its user runs it: `snakemake` in its directory, with no -s or -d."""
    return Workflow(root, snakefile=None, config_file=PROJECT_CONFIG)


def project_config() -> dict:
    """tiny_config with the four runs the workflow tests read: SimCLR without mitigation on synth and on its
    imbalanced split synthimb, SimCLR with cut-initialization on synth (a mitigated run), and BYOL without mitigation
    on synthimb (a second method, on the split that the minority/majority table reads, embedded on synth and
    synth_ood like every run); the smallest simulations and bootstraps the schema allows."""
    cfg = tiny_config()
    cfg["grid"] = {"model": ["simclr"], "optimizer": ["sgd"], "mitigation": ["none", "cut"], "dataset": ["synth"],
                   "seed": [0]}
    cfg["include"] = [{"model": model, "optimizer": "sgd", "mitigation": "none", "dataset": dataset, "seed": 0}
                      for model, dataset in (("simclr", "synthimb"), ("byol", "synthimb"))]
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
    snakefile = PROJECT_SNAKEFILE.format(config=PROJECT_CONFIG, snakefile=REPO / "Snakefile")
    (root / "workflow" / "Snakefile").write_text(snakefile)
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


# ---- tiers: which tests start a process, the `fast` mark, and the guard that checks it ----

SPAWNING_MODULES = frozenset({"subprocess", "multiprocessing", "pty", "concurrent.futures.process"})
OS_SPAWNING = frozenset({"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnl", "spawnle",
                         "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe"})
# Where a process is started, at the bottom: Popen (subprocess.run and the rest), multiprocessing's spawn and
# forkserver (through _posixsubprocess), os.fork (multiprocessing's fork, the DataLoader's workers) and its kin.
PROCESS_STARTERS = ((subprocess.Popen, "_execute_child"), (_posixsubprocess, "fork_exec"),
                    *((os, name) for name in sorted(OS_SPAWNING) if hasattr(os, name)))


def code_objects(code: types.CodeType):
    """A code object and those of the functions, lambdas and comprehensions defined inside it."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


def referred(func) -> tuple[set[str], list]:
    """The global, attribute and module names a function's code uses, and the objects they stand for: its globals,
    and what `from module import name` binds inside it (for a module already imported)."""
    names, objects = set(), []
    for code in code_objects(func.__code__):
        names.update(code.co_names)
        module = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "IMPORT_NAME":
                module = sys.modules.get(instruction.argval)
            elif instruction.opname == "IMPORT_FROM" and module is not None:
                objects.append(getattr(module, instruction.argval, None))
    objects += [func.__globals__[name] for name in names if name in func.__globals__]
    return names, objects


_STARTS: dict[types.CodeType, bool] = {}


def starts_processes(obj) -> bool:
    """Whether a function or class of the test suite (defined under tests/) starts a process, by what its code names:
    the subprocess, multiprocessing or pty module, os.system, os.fork and their kin, or another function or class of
    the suite that does. Library code is not read: the guard catches what it starts, and such a test is marked
    `process` by hand."""
    if isinstance(obj, type):
        return any(starts_processes(member) for member in vars(obj).values())
    if isinstance(obj, property):
        return any(starts_processes(f) for f in (obj.fget, obj.fset) if f)
    func = inspect.unwrap(getattr(obj, "__func__", obj))
    code = getattr(func, "__code__", None)
    if code is None or not Path(code.co_filename).is_relative_to(TESTS):
        return False
    if code not in _STARTS:
        _STARTS[code] = False  # while it is being read: a recursion back to it adds nothing
        names, objects = referred(func)
        _STARTS[code] = bool(names & {m.split(".")[0] for m in SPAWNING_MODULES}
                             or ("os" in names and names & OS_SPAWNING)
                             or any(getattr(o, "__name__" if isinstance(o, types.ModuleType) else "__module__", None)
                                    in SPAWNING_MODULES for o in objects)  # `import subprocess as sp`, `from ... import`
                             or any(callable(o) and starts_processes(o) for o in objects))
    return _STARTS[code]


def item_starts_processes(item: pytest.Item) -> bool:
    """Whether a test or one of the fixtures it uses (directly or through others, of any scope) starts a process."""
    fixtures = [defs[-1].func for name in item.fixturenames if (defs := item._fixtureinfo.name2fixturedefs.get(name))]
    return any(starts_processes(f) for f in (item.obj, *fixtures))


# Modules whose tests share one worker: the SLURM study runs in the background on its cluster while the learning runs
# train (test_slurm.py's `submitted`; `start_order` puts the learning runs between its first test and the others).
SHARED_GROUPS = {"test_slurm": "cluster-and-learning", "test_learning": "cluster-and-learning"}


def worker_group(item: pytest.Item) -> str:
    """The pytest-xdist group a test runs in (`--dist loadgroup`: a group's tests run on one worker): the shared tiny
    project's tests one group, so it is built once; the SLURM and learning tests one group (SHARED_GROUPS); a test with
    a module- or class-scoped fixture its module's group, so that fixture is made once; every other test its own group,
    to go wherever a worker is free."""
    fixtures = {name: defs[-1] for name, defs in item._fixtureinfo.name2fixturedefs.items()}
    if "finished" in fixtures and fixtures["finished"].scope == "session":
        return "project"
    if item.module.__name__ in SHARED_GROUPS:
        return SHARED_GROUPS[item.module.__name__]
    scopes = {fixture.scope for fixture in fixtures.values()}
    if scopes & {"module", "class", "package"}:
        return item.module.__name__
    return f"own-{zlib.crc32(item.nodeid.encode()):08x}"  # short: pytest-xdist appends it to the test's id


def start_order(item: pytest.Item) -> int:
    """Where a test starts in `make test` (pytest-xdist hands the groups out in this order, `--no-loadscope-reorder`,
    and a group's tests run in it): the shared project first, on one worker, since its build and then its tests are the
    longest chain; on the other, the SLURM test that starts the cluster and submits its study, then the learning runs
    while that study runs in the background, then the SLURM tests that read the finished study; then the other tests
    that start processes, and the unit tests last, which fill the end in small pieces. Read after the tiers and groups
    are marked."""
    if item.get_closest_marker("xdist_group").args[0] == "project":
        return 0
    if item.get_closest_marker("slurm"):
        return 3 if "study" in item.fixturenames else 1
    if item.module.__name__ == "test_learning":
        return 2
    if item.get_closest_marker("fast") is None:
        return 4
    return 5


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the xdist_group marks to group the tests
def pytest_collection_modifyitems(config, items):
    """Mark the tiers before `-m` selects: every test of the shared tiny project is `slow` (it builds the project), a
    test that starts a process is `process`, and every other test that is not `slow` or `slurm` is `fast`. Under
    pytest-xdist (`make test`: `-n 2 --dist loadgroup`) each test gets its `worker_group`.
    Then ask git for the checkout's commit, before any test runs: the provenance records ask it once per process
    (`provenance.git_version`, cached), so a unit test that runs a command in-process starts no process for it; and
    import torch, whose first import asks `ldconfig -p` for libdl (cuda.pathfinder), once, before the guard is on."""
    for item in items:
        if "finished" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(worker_group(item)))
        if not item.get_closest_marker("process") and item_starts_processes(item):
            item.add_marker(pytest.mark.process)
        if not any(item.get_closest_marker(name) for name in ("slow", "slurm", "process")):
            item.add_marker(pytest.mark.fast)
    items.sort(key=start_order)
    provenance.git_version()
    import torch  # noqa: F401


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under `--dist loadgroup` every test id a pytest-xdist worker collects ends in its `@group` (pytest-xdist writes
    it after `pytest_collection_modifyitems`). Without it the groups are lost without a word and each worker builds
    the shared project and every module fixture again: refuse that run."""
    ungrouped = [nodeid for nodeid in ids if "@" not in nodeid]
    if node.config.getoption("dist") == "loadgroup" and ungrouped:
        pytest.exit(f"pytest-xdist did not group the tests ({ungrouped[0]} has no @group): install the pytest that "
                    "requirements.txt pins", returncode=pytest.ExitCode.USAGE_ERROR)


@contextlib.contextmanager
def processes_refused():
    """Inside, every way of starting a process raises; the list it gives names each one tried."""
    started = []

    def refuse(starter: str):
        def starting(*args, **kwargs):
            started.append(starter)
            raise RuntimeError(f"a fast test started a process ({starter}); mark it `process` (tests/conftest.py)")
        return starting

    originals = [(owner, name, getattr(owner, name)) for owner, name in PROCESS_STARTERS]
    try:
        for owner, name, _ in originals:
            setattr(owner, name, refuse(f"{owner.__name__}.{name}"))
        yield started
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def guarded(item: pytest.Item):
    """Run a `fast` test's phase with processes refused, and fail it if it tried to start one (also where the error
    was caught): its fixtures' setup, of every scope, and the test itself."""
    if item.get_closest_marker("fast") is None:
        return (yield)
    with processes_refused() as started:
        result = yield
    if started:
        pytest.fail(f"{item.nodeid} is in the fast tier but started a process: {started}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from guarded(item))
