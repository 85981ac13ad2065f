"""Provenance: every `embnorm` job records, for each artifact it wrote, what made it.

Why the job records it itself: the process that wrote a file is the only one that knows for sure which inputs,
parameters, code and machine made it, and the same record is written whether Snakemake, SLURM or a person ran the
stage. Every subcommand passes through `embnorm.cli.main`, which runs it inside `recording(args)`: a `Job` that
`embnorm.io` tells of each file read and each file (atomically) written for the length of the command
(`io.journal_to`). Only a job that finishes writes records, so a killed or failed job leaves none, and the audit calls
whatever it left behind an orphan.

Layout: the record of an artifact (a path under results/ or resources/, relative to the project root, which is the
working directory of the job) lives in the artifact's own tree: `results/provenance/runs/<run>/checkpoint.pt.json`,
`resources/provenance/datasets/<name>/train/images.npy.json`. A re-run overwrites it, so a record always describes the
latest job that wrote the file. `results/manifest.tsv` is every record as one table (`write_manifest`).
"""

from __future__ import annotations

import ast
import contextlib
import csv
import functools
import hashlib
import io as _io
import json
import os
import platform
import re
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from embnorm import io, paths
from embnorm.config import params_hash

ARTIFACT_DIRS = (paths.RESULTS, paths.RESOURCES)
PROVENANCE = "provenance"  # each artifact tree keeps its records: results/provenance/, resources/provenance/
RECORD_DIRS = tuple(f"{top}/{PROVENANCE}/" for top in ARTIFACT_DIRS)
KEY_PACKAGES = ("torch", "torchvision", "numpy", "embnorm", "snakemake")
PACKAGE_DIR = Path(__file__).resolve().parent
RECORD_FORMAT = 1
RECORDING_ONLY = ("embnorm.provenance", "embnorm.audit")
_RUN_DIR = re.compile(re.escape(paths.RUN_DIR.split("{run}")[0]) + r"(?P<run>[^/]+)/")
VERSION_COLUMNS = (*KEY_PACKAGES, "python")
MANIFEST_COLUMNS = ("path", "sha256", "bytes", "rule", "command", "run_id", "params_hash", "git_commit", "git_dirty",
                    "code_hash", *VERSION_COLUMNS, "host", "device", "start", "end")


# ---- what is recorded about the code and the machine ----

def _git(*args: str) -> str | None:
    """Output of a git command about the checkout the package was imported from, or None outside one."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # never take the index lock: jobs run in parallel
    try:
        proc = subprocess.run(["git", "-C", str(PACKAGE_DIR), *args], capture_output=True, text=True, timeout=30,
                              env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.cache
def git_version() -> dict:
    """Commit and dirty flag of the checkout the package was imported from; `unknown` when the package is not a
    tracked file of a git checkout (an installed wheel, a copied tree)."""
    tracked = _git("ls-files", "--error-unmatch", "__init__.py") is not None
    commit = _git("rev-parse", "HEAD") if tracked else None
    status = _git("status", "--porcelain") if commit else None
    return {"git_commit": commit or "unknown", "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


@functools.cache
def file_digest(relative: str) -> str | None:
    """Short sha256 of a package module's syntax tree without docstrings (path relative to the package), so that
    comments, docstrings and formatting do not count as a code change; None if the file no longer exists."""
    try:
        source = (PACKAGE_DIR / relative).read_bytes()
    except OSError:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return hashlib.sha256(source).hexdigest()[:12]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12]


def code_digest(*subpackages: str) -> str:
    """Short sha256 of the code of package sub-packages: each module's path and `file_digest`, so a docstring, comment
    or formatting edit is no change. The workflow's analysis rules carry it as a param (`workflow/rules/common.smk`);
    the audit compares the same per-module digests, so both call the same edits a code change.

        >>> len(code_digest("analysis", "present"))
        16
    """
    digest = hashlib.sha256()
    for sub in subpackages:
        for path in sorted((PACKAGE_DIR / sub).rglob("*.py")):
            relative = path.relative_to(PACKAGE_DIR).as_posix()
            digest.update(f"{relative}\0{file_digest(relative)}\0".encode())
    return digest.hexdigest()[:16]


def code_files(not_run: frozenset[str] = frozenset()) -> dict[str, str]:
    """The package modules this process imported, with their digests: exactly the code that made a job's files.

    The commit alone cannot say that (a dirty tree, no git), and a hash of the whole package would call every
    checkpoint stale after a change to a figure. Left out: the modules that only record (provenance, audit), and
    `not_run`, modules loaded only to declare commands the job did not run (`Job`)."""
    left_out = set(RECORDING_ONLY) | not_run
    files = {}
    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if (name == "embnorm" or name.startswith("embnorm.")) and name not in left_out and source:
            with contextlib.suppress(ValueError):  # a module from elsewhere is not this package's code
                relative = Path(source).resolve().relative_to(PACKAGE_DIR).as_posix()
                files[relative] = file_digest(relative)
    return dict(sorted(files.items()))


@functools.cache
def package_versions() -> dict:
    """Installed versions of the packages that decide the numbers (read from metadata: nothing is imported)."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    versions["python"] = platform.python_version()
    return versions


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def device() -> str:
    """The GPU the job used (CUDA was initialised in this process), else the CPU model."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return "cuda: " + torch.cuda.get_device_name(torch.cuda.current_device())
    return "cpu: " + cpu_model()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ---- where records live ----

def artifact_name(path, root: Path) -> str | None:
    """`path` relative to the project root if it is an artifact (under results/ or resources/, not a record)."""
    rel = Path(os.path.relpath(os.path.abspath(os.path.join(root, path)), root)).as_posix()
    if rel.split("/")[0] not in ARTIFACT_DIRS or rel.startswith(RECORD_DIRS):
        return None
    return rel


def record_path(root: Path, artifact: str) -> Path:
    """`results/runs/r/checkpoint.pt` -> `results/provenance/runs/r/checkpoint.pt.json`: records live in the tree of
    their artifact, so deleting results/ (`make clean`) does not orphan the prepared datasets under resources/."""
    top, rest = artifact.split("/", 1)
    return Path(root) / top / PROVENANCE / (rest + ".json")


def run_of(artifact: str) -> str | None:
    match = _RUN_DIR.match(artifact)
    return match["run"] if match else None


def read_record(path: Path) -> dict:
    """A record, checked to be one; a damaged record raises ArtifactError naming it."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise io.ArtifactError(f"{path}: unreadable provenance record ({type(e).__name__}: {e})") from None
    if not isinstance(record, dict) or not {"artifact", "sha256", "bytes"} <= set(record):
        raise io.ArtifactError(f"{path}: not a provenance record (no artifact, sha256 or bytes)")
    return record


def collect(root) -> tuple[dict[str, dict], dict[str, str]]:
    """Every record under `root`: ({artifact: record}, {record file: why it is unusable})."""
    root = Path(root)
    records, bad = {}, {}
    found = [(top, path) for top in ARTIFACT_DIRS for path in sorted((root / top / PROVENANCE).rglob("*.json"))]
    for top, path in found:
        name = f"{top}/" + path.relative_to(root / top / PROVENANCE).as_posix()[:-len(".json")]
        try:
            record = read_record(path)
        except io.ArtifactError as e:
            bad[path.relative_to(root).as_posix()] = str(e)
            continue
        if record["artifact"] != name:
            bad[path.relative_to(root).as_posix()] = f"record of '{record['artifact']}' filed under '{name}'"
            continue
        records[name] = record
    return records, bad


# ---- recording a job ----

class Job:
    """What one CLI command read and wrote, and when; `finish` turns it into one record per artifact it wrote.

    `declaring` are modules the command line loaded to declare commands (`cli.analysis_commands`: the analyses'). They
    are the code of the job when its command is defined among them, and otherwise not: a data or training job lists
    no analysis code, so an edit to an analysis leaves its checkpoints `ok` in the audit, as the workflow leaves them
    alone."""

    def __init__(self, args, root: Path, argv: list[str] | None = None, declaring: frozenset[str] = frozenset()):
        self.root = root
        self.args = {k: v for k, v in vars(args).items() if k != "func"}  # parsed, argparse defaults included
        self.argv = argv  # the command line as given
        command_module = getattr(getattr(args, "func", None), "__module__", None)
        self.not_run = frozenset() if command_module in declaring else declaring
        self.start = now()
        self.inputs: dict[str, dict] = {}
        self.written: list[str] = []

    def read(self, path) -> None:
        """Note a file the command read, with its digest now (a file that does not exist was not consumed)."""
        shown = artifact_name(path, self.root) or os.path.abspath(path)
        if shown not in self.inputs:
            entry = fingerprint(self.root, shown)
            if entry is not None:
                self.inputs[shown] = entry

    def wrote(self, path) -> None:
        """Note a file the command wrote; only artifacts (under results/ or resources/) get records."""
        name = artifact_name(path, self.root)
        if name is not None and name not in self.written:
            self.written.append(name)

    def finish(self) -> list[Path]:
        """Write the records of every artifact this job wrote that still exists; return their paths."""
        outputs = [a for a in self.written if (self.root / a).is_file()]
        if not outputs:
            return []
        end = now()
        code = code_files(self.not_run)
        shared = {
            "command": self.args.get("command"), "args": self.args, "argv": self.argv, "outputs": outputs,
            "inputs": [entry for path, entry in self.inputs.items() if path not in outputs],
            "start": self.start, "end": end, **git_version(), "code_files": code,
            "code_hash": params_hash(code), "versions": package_versions(),
            "host": socket.gethostname(), "device": device(), "format": RECORD_FORMAT,
        }
        written = []
        for artifact in outputs:
            stat = (self.root / artifact).stat()
            run = run_of(artifact)
            record = {"artifact": artifact, "sha256": io.sha256(self.root / artifact), "bytes": stat.st_size,
                      "mtime_ns": stat.st_mtime_ns, "run_id": run, "params_hash": self._params_hash(run), **shared}
            io.write_json(record_path(self.root, artifact), record)
            written.append(record_path(self.root, artifact))
        return written

    def _params_hash(self, run: str | None) -> str:
        """A run's artifacts carry the hash of the run's resolved hyper-parameters (params.json, as checkpoints do);
        any other artifact the hash of the command's arguments, which hold everything the command was told."""
        if run is not None:
            params_file = self.root / paths.fmt(paths.RUN_PARAMS, run=run)
            with contextlib.suppress(OSError, ValueError):
                return params_hash(json.loads(params_file.read_text()))
        return params_hash(self.args)


def fingerprint(root: Path, path: str) -> dict | None:
    """{path, sha256, bytes} of a file a job read. The digest comes from the file's own record when its size and
    modification time still match it (as git's index does), so a 20 GB dataset is hashed once, when it is written."""
    full = Path(root) / path
    try:
        stat = full.stat()
    except OSError:
        return None
    record = None
    if artifact_name(path, root) is not None and record_path(root, path).is_file():
        with contextlib.suppress(io.ArtifactError):
            record = read_record(record_path(root, path))
    if record and record["bytes"] == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
        digest = record["sha256"]
    else:
        try:
            digest = io.sha256(full)
        except OSError:
            digest = None
    return {"path": path, "sha256": digest, "bytes": stat.st_size}


@contextlib.contextmanager
def recording(args, argv=None, root=None, declaring: frozenset[str] = frozenset()):
    """Run a CLI command while noting its reads and writes; on success, write a record for each artifact it wrote."""
    job = Job(args, Path(root or os.getcwd()), argv, declaring)
    with io.journal_to(job):
        yield job
    job.finish()


# ---- the manifest: all records as one table ----

def producing_rule(artifact: str, rule_outputs: dict[str, list[str]]) -> str:
    """The workflow rule(s) whose output pattern matches `artifact` (Snakemake passes each rule's output regexes)."""
    rules = sorted(rule for rule, patterns in rule_outputs.items() if any(re.match(p, artifact) for p in patterns))
    return "|".join(rules)


def manifest_row(record: dict, rule_outputs: dict[str, list[str]]) -> dict:
    versions = record.get("versions", {})
    row = {k: versions.get(k) if k in VERSION_COLUMNS else record.get(k) for k in MANIFEST_COLUMNS}
    row.update(path=record["artifact"], rule=producing_rule(record["artifact"], rule_outputs))
    return {k: "" if v is None else v for k, v in row.items()}


def write_manifest(out, rule_outputs: dict[str, list[str]] | None = None, root=None) -> int:
    """Write every record (except the manifest's own) as one TSV row; return the number of rows."""
    root = Path(root or os.getcwd())
    records, bad = collect(root)
    if bad:
        path, why = next(iter(bad.items()))
        raise io.ArtifactError(f"{len(bad)} provenance record(s) are unusable, first {path}: {why}")
    own = artifact_name(out, root)
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, MANIFEST_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    rows = [manifest_row(r, rule_outputs or {}) for name, r in sorted(records.items()) if name != own]
    writer.writerows(rows)
    io.write_text(out, buffer.getvalue())
    return len(rows)


def read_manifest(path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise io.ArtifactError(f"{path}: unreadable manifest ({type(e).__name__}: {e})") from None
    if rows and not {"path", "sha256"} <= set(rows[0]):
        raise io.ArtifactError(f"{path}: not a manifest (no path or sha256 column)")
    return rows
