"""`embnorm audit`: is every file under results/ and resources/ what its provenance record says, and what the current
config and code would make?

Each artifact gets one status (STATUS_HELP). The reference is the set of provenance records (embnorm.provenance),
which the producing jobs wrote; `results/manifest.tsv` is checked against them too, because it is the table people
archive. "What the current config would make" is computed from the config itself (validated with the workflow's
schema and defaults, then `embnorm.config.run_table`), not from results/runs.tsv: runs.tsv is an artifact of the
last run, so it cannot show that the config changed since.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from embnorm import io, paths, provenance
from embnorm.analysis.registry import ANALYSES, analysis_runs, config_options, init_encoder_runs
from embnorm.config import ConfigError, find_schema, params_hash, role_datasets, run_table, validate_config
from embnorm.data.trees import inside
from embnorm.errors import EmbnormError

STATUS_HELP = {
    "ok": "the bytes match the record, and the current code, config and inputs would make the same file",
    "modified": "the bytes differ from what the job that wrote the file recorded (or the record itself is damaged)",
    "missing": "recorded, or expected by the current config, but not on disk",
    "orphan": "on disk, but no finished embnorm job recorded writing it (copied in, written by hand, or left by a "
              "killed job)",
    "stale": "unchanged, but made with other parameters, code or inputs than the current ones",
}
PROBLEMS = ("modified", "missing", "orphan", "stale")
EXPECTED_PER_RUN = (paths.RUN_PARAMS, paths.RUN_CHECKPOINT, paths.RUN_METRICS)
INPUT_PREFIX = "input "
# The options of the aggregate commands (analyses, simulations, claims) that the workflow sets from a config key, by
# argparse name, from their declarations (embnorm.analysis.registry): an aggregate made with another value is stale.
# tests/test_audit.py changes each key in a finished project and checks that the audit sees it.
AGGREGATE_OPTIONS = config_options()


def _template_regex(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$")


# Files that are not artifacts: logs (shell redirections of the jobs), Snakemake's HTML report, the records, and raw
# downloads (files from outside, which may be put there by hand; they are verified against the md5 their source
# publishes each time they are used, and downloads.json, an artifact, lists them).
NOT_ARTIFACTS = tuple(_template_regex(t) for t in (paths.LOGS, paths.RUN_LOG, paths.REPORT))
SNAKEMAKE_FILES = (".snakemake_timestamp",)  # Snakemake's mark in a directory() output
NOT_ARTIFACT_DIRS = (*provenance.RECORD_DIRS, paths.DOWNLOADS + "/")


class AuditFailed(EmbnormError):
    """The audit found problems; the table above the message lists them."""


@dataclass
class Finding:
    path: str
    status: str
    detail: str = ""
    record: dict = field(default_factory=dict, repr=False)
    rule: str = ""

    @property
    def inherited(self) -> bool:
        """Stale only because an input is (listed after the files whose own parameters or code changed)."""
        return self.detail.startswith(INPUT_PREFIX)

    def to_dict(self) -> dict:
        out = asdict(self)
        record = out.pop("record")
        out.update({k: record.get(k) for k in ("command", "run_id", "params_hash", "code_hash", "end")})
        out["sha256_recorded"] = record.get("sha256")
        return out


# ---- the current config ----

def _merge(base: dict, update: dict) -> dict:
    """Deep merge, as Snakemake merges several config files."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_config(files=(), config_json: dict | None = None, schema: Path | None = None, root: Path = Path(".")) -> dict:
    """The config the workflow would use now: files merged in order (or Snakemake's own, as JSON), validated."""
    config: dict = {}
    for name in files:
        try:
            loaded = yaml.safe_load(Path(name).read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{name}: not a readable YAML config ({type(e).__name__}: {e})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{name}: a config file must be a mapping of keys")
        _merge(config, loaded)
    if config_json is not None:
        _merge(config, copy.deepcopy(config_json))
    return validate_config(config, schema or find_schema(root))


# ---- the checks ----

def disk_artifacts(root: Path) -> tuple[set[str], dict[str, str]]:
    """Every file under results/ and resources/ except logs, the report, raw downloads, the provenance records and
    Snakemake's own marks; and the links that are not followed, each with why (`unfollowed_link`)."""
    found, links = set(), {}
    trees = [os.path.realpath(root / top) for top in provenance.ARTIFACT_DIRS]
    for top in provenance.ARTIFACT_DIRS:
        walked = {os.path.realpath(root / top)}
        for folder, dirs, files in os.walk(root / top, followlinks=True):
            followed = []
            for name in sorted(dirs):
                link = Path(folder) / name
                why = unfollowed_link(link, trees, walked)
                if why:
                    links[link.relative_to(root).as_posix()] = why
                else:
                    followed.append(name)
                    walked.add(os.path.realpath(link))
            dirs[:] = followed
            for name in files:
                if name in SNAKEMAKE_FILES:
                    continue
                full = Path(folder) / name
                rel = full.relative_to(root).as_posix()
                if rel.startswith(NOT_ARTIFACT_DIRS) or any(r.match(rel) for r in NOT_ARTIFACTS):
                    continue
                if full.is_symlink() and not full.exists():
                    links[rel] = f"a broken link (or a link loop) to {os.readlink(full)}"
                    continue
                found.add(rel)
    return found, links


def unfollowed_link(link: Path, trees: list[str], walked: set[str]) -> str | None:
    """Why the audit does not walk into the folder link `link`, or None for a plain folder or a link it follows. A link
    to a folder that contains it is a loop, which would repeat the same files until the path grows too long; a link back
    into results/ or resources/ (`trees`, resolved) would show files that are audited under their own names a second
    time, and so would a second link to a folder outside them. Each is reported once, as the link, instead of as every
    file it leads to."""
    if not link.is_symlink():
        return None
    target = os.path.realpath(link)
    if inside(os.path.realpath(link.parent), target):
        return f"a link loop: it points to {target}, a folder that contains it; not followed"
    if any(inside(target, tree) for tree in trees):
        return f"a link to {target}, whose files are audited under their own names; not followed"
    if target in walked:
        return f"a link to {target}, a folder already audited through another link; not followed"
    return None


class Auditor:
    """Gives every artifact one status. Stale is transitive: a file made from a stale or re-made input is stale."""

    def __init__(self, root: Path, config: dict | None):
        self.root = Path(root)
        self.records, self.bad_records = provenance.collect(self.root)
        self.on_disk, self.links = disk_artifacts(self.root)
        self.runs = {r["run_id"]: r for r in run_table(config)} if config is not None else None
        self.default_weight_decay = {m: spec["weight_decay"] for m, spec in config["models"].items()} \
            if config is not None else {}
        self.config = config
        self.findings: dict[str, Finding] = {}
        self._digests: dict[str, str] = {}

    def digest(self, path: str) -> str:
        if path not in self._digests:
            self._digests[path] = io.sha256(self.root / path)
        return self._digests[path]

    def run(self) -> list[Finding]:
        for path, why in self.bad_records.items():
            self.findings[path] = Finding(path, "modified", why)
        for path, why in self.links.items():
            self.findings[path] = Finding(path, "orphan", why)
        for path in sorted(self.on_disk | set(self.records)):
            self.check(path)
        init = set(init_encoder_runs(list(self.runs.values()), self.default_weight_decay)) if self.runs else set()
        expected = [(run, path) for run in sorted(self.runs or ())
                    for path in expected_files(self.runs[run], run in init)]
        for run, path in expected:
            if path not in self.findings:
                self.findings[path] = Finding(path, "missing", f"run '{run}' of the current config has no such file")
        self.check_manifest()
        order = {status: i for i, status in enumerate(PROBLEMS + ("ok",))}  # causes (modified, missing) first
        return sorted(self.findings.values(), key=lambda f: (order[f.status], f.inherited, f.path))

    def check(self, path: str, visiting: frozenset = frozenset()) -> Finding:
        if path in self.findings:
            return self.findings[path]
        record = self.records.get(path)
        if record is None:
            leftover = re.match(r"\..*\.tmp-\d+$", Path(path).name)
            why = "temporary file of a writer that was killed" if leftover else "no provenance record"
            finding = Finding(path, "orphan", why)
        elif path not in self.on_disk:
            finding = Finding(path, "missing", f"written by {_job(record)}, not on disk", record)
        elif (self.root / path).stat().st_size != record["bytes"] or self.digest(path) != record["sha256"]:
            finding = Finding(path, "modified", f"sha256 {self.digest(path)[:12]} on disk, {record['sha256'][:12]} "
                                                f"written by {_job(record)}", record)
        else:
            why = self.stale_reason(record, visiting | {path})
            finding = Finding(path, "stale" if why else "ok", why or "", record)
        self.findings[path] = finding
        return finding

    def stale_reason(self, record: dict, visiting: frozenset) -> str | None:
        changed = [f for f, digest in record.get("code_files", {}).items() if provenance.file_digest(f) != digest]
        if changed or "code_files" not in record:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            commit = str(record.get("git_commit"))[:12]
            return f"the code that made it changed since: {shown or 'not recorded'} (made at commit {commit})"
        if self.config is not None:
            why = self.config_reason(record)
            if why:
                return why
        for entry in record.get("inputs", []):
            why = self.input_reason(entry, visiting)
            if why:
                return why
        return None

    def config_reason(self, record: dict) -> str | None:
        """Parameters: a run's artifacts against the run table, a dataset's against its config entry."""
        run = record.get("run_id")
        if run is not None:
            if run not in self.runs:
                return f"run '{run}' is not in the current config"
            if record.get("params_hash") != params_hash(self.runs[run]):
                return self.params_change(run, record)
        args = record.get("args") or {}
        dataset = args.get("dataset")
        if run is None and "dataset" not in args:
            return self.aggregate_reason(args, record.get("argv"))
        if run is None and isinstance(dataset, str):
            spec = self.config["datasets"].get(dataset)
            if spec is None:
                return f"dataset '{dataset}' is not in the current config"
            if "spec" in args and _canonical(args["spec"]) != _canonical(spec):
                return f"datasets.{dataset} changed in the config since this file was made"
            if "base" in args and "parent" in args:  # the imbalanced split's own arguments
                law = spec.get("imbalance", {})
                made = (args["parent"], args["base"], args.get("n_max"))
                if made != (spec.get("parent"), law.get("base"), law.get("n_max")):
                    return f"datasets.{dataset}.parent or .imbalance changed in the config since this split was made"
        return None

    def aggregate_reason(self, args: dict, argv: list[str] | None) -> str | None:
        """An aggregate's runs (those of the params.json files it was given) and config-set options against the
        current config. Only options its command line gave count (a parsed default is not a setting)."""
        params = args.get("params")
        runs = None
        if isinstance(params, list):
            runs = [provenance.run_of(provenance.artifact_name(p, self.root) or "") for p in params]
            if None in runs:
                return f"made from a params file outside this project's runs: {params[runs.index(None)]}"
        if runs is not None and set(runs) != (wanted := self.aggregate_runs(args)):
            added, dropped = sorted(wanted - set(runs)), sorted(set(runs) - wanted)
            change = "; ".join(f"{what} {', '.join(ids[:2])}{' ...' if len(ids) > 2 else ''}"
                               for what, ids in (("added", added), ("dropped", dropped)) if ids)
            return f"made from another set of runs than the current config's ({change})"
        for option, key in AGGREGATE_OPTIONS.items():
            given = argv is None or f"--{option.replace('_', '-')}" in argv
            if option not in args or not given:
                continue
            current = self.config
            for part in key:
                current = current.get(part) if isinstance(current, dict) else None
            if current is not None and current != args[option]:
                return f"made with {'.'.join(key)} = {args[option]!r}, the current config gives {current!r}"
        return None

    def aggregate_runs(self, args: dict) -> set[str]:
        """The runs of the current config that the aggregate command of `args` reads (its declaration's `runs`)."""
        command = " ".join(str(args[k]) for k in ("command", "what") if args.get(k))
        analysis = next((a for a in ANALYSES.values() if a.command == command), None)
        if analysis is None:
            return set(self.runs)
        return set(analysis_runs(analysis, list(self.runs.values()), self.default_weight_decay))

    def params_change(self, run: str, record: dict) -> str:
        """Which hyper-parameters differ, read from the run's params.json when it is the one the file was made with."""
        current = self.runs[run]
        made = None
        with contextlib.suppress(OSError, ValueError):
            on_disk = json.loads((self.root / paths.fmt(paths.RUN_PARAMS, run=run)).read_text())
            made = on_disk if params_hash(on_disk) == record.get("params_hash") else None
        if made is None:
            return f"made with params {record.get('params_hash')}, the current config gives {params_hash(current)}"
        changed = sorted(k for k in set(made) | set(current) if made.get(k) != current.get(k))
        shown = ", ".join(f"{k} {made.get(k)!r} -> {current.get(k)!r}" for k in changed[:3])
        return f"made with other params: {shown}" + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")

    def input_reason(self, entry: dict, visiting: frozenset) -> str | None:
        path = entry["path"]
        if path in visiting:
            return None
        if path in self.records:
            if self.records[path]["sha256"] != entry.get("sha256"):
                return f"{INPUT_PREFIX}{path} was re-made after this file"
            status = self.check(path, visiting).status
            return f"{INPUT_PREFIX}{path} is {status}" if status in ("modified", "missing", "stale") else None
        full = self.root / path
        if full.is_file() and io.sha256(full) != entry.get("sha256"):
            return f"{INPUT_PREFIX}{path} changed since this file was made"
        return None

    def check_manifest(self) -> None:
        """The manifest must list exactly the records, with the same checksums (else it predates a re-run)."""
        finding = self.findings.get(paths.MANIFEST)
        if finding is None or finding.status != "ok":
            return
        listed = {row["path"]: row["sha256"] for row in provenance.read_manifest(self.root / paths.MANIFEST)}
        current = {name: r["sha256"] for name, r in self.records.items() if name != paths.MANIFEST}
        differ = sorted(set(listed) ^ set(current) | {p for p in set(listed) & set(current) if listed[p] != current[p]})
        if differ:
            finding.status = "stale"
            finding.detail = (f"{len(differ)} artifact(s) were made, re-made or dropped after it was written "
                              f"(first {differ[0]}); run the workflow or `embnorm manifest` again")


def expected_files(run: dict, init: bool = False) -> list[str]:
    """What every run of the config must have: its parameters, checkpoint, metrics and the embeddings of each role;
    with `init` (a run whose encoder at initialisation an analysis reads) those of the initial encoder too."""
    files = [paths.fmt(t, run=run["run_id"]) for t in EXPECTED_PER_RUN]
    embeddings = (paths.RUN_EMBEDDINGS, paths.RUN_EMBEDDINGS_INIT) if init else (paths.RUN_EMBEDDINGS,)
    return files + [paths.fmt(template, run=run["run_id"], dataset=d, split=s)
                    for template in embeddings for d, s in role_datasets(run).values()]


def _job(record: dict) -> str:
    return f"`embnorm {record.get('command')}` at {record.get('end')}"


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True)


def audit(results_dir="results", config: dict | None = None) -> list[Finding]:
    """All findings for the project whose results folder is `results_dir`, modified first and ok last."""
    root = Path(results_dir).absolute().parent
    if not Path(results_dir).is_dir():
        raise EmbnormError(f"{results_dir}: no such results folder")
    findings = Auditor(root, config).run()
    manifest = root / paths.MANIFEST
    if manifest.is_file():  # the rule names: only the workflow knows them, and it wrote them into the manifest
        with contextlib.suppress(io.ArtifactError):
            rules = {row["path"]: row.get("rule", "") for row in provenance.read_manifest(manifest)}
            for f in findings:
                f.rule = rules.get(f.path, "")
    return findings


# ---- the report ----

def summary(findings: list[Finding]) -> dict[str, int]:
    counts = {status: 0 for status in STATUS_HELP}
    for f in findings:
        counts[f.status] += 1
    return counts


def format_table(findings: list[Finding], show_ok: bool = False) -> str:
    shown = [f for f in findings if show_ok or f.status != "ok"]
    lines = []
    if shown:
        width = max(len(f.path) for f in shown)
        lines.append(f"{'STATUS':<9} {'ARTIFACT':<{width}}  DETAIL")
        lines += [f"{f.status:<9} {f.path:<{width}}  {f.detail}".rstrip() for f in shown]
    counts = summary(findings)
    lines.append(f"{len(findings)} artifacts: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "ok"))
    return "\n".join(lines)


def report(results_dir, config_files=(), config_json=None, schema=None, as_json=False, show_ok=False) -> None:
    """Print the audit (table or JSON) and raise AuditFailed if any artifact is not ok."""
    root = Path(results_dir).absolute().parent
    default = root / "config.yaml"
    if not config_files and config_json is None and default.is_file():
        config_files = [default]
    config = None
    if config_files or config_json is not None:
        config = load_config(config_files, config_json, Path(schema) if schema else None, root)
    findings = audit(results_dir, config)
    counts = summary(findings)
    source = ", ".join(map(str, config_files)) or ("the workflow's config" if config_json is not None else None)
    code = provenance.git_version()
    if as_json:
        print(json.dumps({"root": str(root), "config": source, "code": code, "summary": counts,
                          "artifacts": [f.to_dict() for f in findings]}, indent=2))
    else:
        print(f"audit of {root}: code at commit {code['git_commit'][:12]} (dirty: {code['git_dirty']}); "
              f"config {source or 'none given: parameters not checked'}")
        print(format_table(findings, show_ok))
    problems = sum(counts[s] for s in PROBLEMS)
    if problems:
        raise AuditFailed(f"{problems} of {len(findings)} artifacts are not ok ("
                          + ", ".join(f"{counts[s]} {s}" for s in PROBLEMS if counts[s]) + ")")
