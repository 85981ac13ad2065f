"""Failure safety: damaged inputs give one clear line naming the file, writers never leave a finished-looking file,
loading is safe, and config strings cannot reach a shell. Damage is done to a copy of the shared tiny run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import RUN
from embnorm import audit, io, paths


def embnorm(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "embnorm.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def run_args(command: str, run: str) -> list[str]:
    """The paths the workflow's rule gives `embnorm train` or `embnorm embed` for `run`, a run on synth (whose OOD
    partner is synth_ood) of the shared tiny project (rules/train.smk, rules/embed.smk)."""
    folder = lambda dataset, split: paths.fmt(paths.DATASET_DIR, dataset=dataset, split=split)  # noqa: E731
    files = {"--params": paths.fmt(paths.RUN_PARAMS, run=run), "--checkpoint": paths.fmt(paths.RUN_CHECKPOINT, run=run)}
    if command == "train":
        files.update({"--train": folder("synth", "train"), "--test": folder("synth", "test"),
                      "--metrics": paths.fmt(paths.RUN_METRICS, run=run),
                      "--resume": paths.fmt(paths.RUN_RESUME, run=run)})
        return [command, *(x for item in files.items() for x in item)]
    splits = [folder(d, s) for d in ("synth", "synth_ood") for s in ("train", "test")]
    return [command, *(x for item in files.items() for x in item), "--splits", *splits,
            "--out", paths.fmt(paths.RUN_EMBEDDINGS_DIR, run=run)]


def assert_clear_error(proc: subprocess.CompletedProcess, command: str, path: str, what: str) -> None:
    """Exit 1, and stderr's last line is `embnorm <command>: error: <path>: ...<what>...`, with no traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"embnorm {command}: error: {path}: ") and what in last, last


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_checkpoint_is_named(project):
    checkpoint = paths.fmt(paths.RUN_CHECKPOINT, run=RUN)
    truncate(project / checkpoint)
    proc = embnorm(project, *run_args("embed", RUN), "--threads", "1")
    assert_clear_error(proc, "embed", checkpoint, "not a readable checkpoint")
    assert not [p for p in (project / checkpoint).parent.rglob("*") if ".tmp-" in p.name]


def test_truncated_resume_checkpoint_is_named(project):
    resume = paths.fmt(paths.RUN_RESUME, run=RUN)
    (project / resume).write_bytes((project / paths.fmt(paths.RUN_CHECKPOINT, run=RUN)).read_bytes()[:5000])
    proc = embnorm(project, *run_args("train", RUN), "--threads", "1")
    assert_clear_error(proc, "train", resume, "not a readable checkpoint")


@pytest.mark.parametrize("name", ["images.npy", "labels.npy"])
def test_truncated_dataset_file_is_named(project, name):
    path = f"resources/datasets/synth/test/{name}"
    truncate(project / path)
    proc = embnorm(project, *run_args("embed", RUN), "--threads", "1")
    assert_clear_error(proc, "embed", path, "not a readable .npy file")


def test_dataset_file_of_another_length_is_named(project):
    path = "resources/datasets/synth/test/labels.npy"
    np.save(project / path, np.zeros(3, np.int64))
    proc = embnorm(project, *run_args("embed", RUN))
    assert_clear_error(proc, "embed", "resources/datasets/synth/test", "meta.json says")


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_corrupted_embedding_file_is_named(project, damage):
    npz = project / paths.fmt(paths.RUN_EMBEDDINGS, run=RUN, dataset="synth", split="test")
    if damage == "truncated":
        truncate(npz)
    else:  # one byte inside the stored projector array: the zip CRC catches it
        with zipfile.ZipFile(npz) as z:
            info = z.getinfo("projector.npy")
        data = bytearray(npz.read_bytes())
        header = info.header_offset  # local header: 30 bytes, then the name and extra fields, then the data
        start = header + 30 + int.from_bytes(data[header + 26:header + 28], "little") + int.from_bytes(
            data[header + 28:header + 30], "little")
        data[start + info.file_size // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    runs = sorted(p.name for p in (project / "results/runs").iterdir())
    out = [f"--{k}" for k in ("tsv", "md", "png", "pdf")]
    proc = embnorm(project, "analyze", "ood", "--params", *[paths.fmt(paths.RUN_PARAMS, run=r) for r in runs],
                   "--embeddings", *[paths.fmt(paths.RUN_EMBEDDINGS_DIR, run=r) for r in runs],
                   *[x for o in out for x in (o, f"x.{o[2:]}")])
    assert_clear_error(proc, "analyze", paths.fmt(paths.RUN_EMBEDDINGS, run=RUN, dataset="synth", split="test"),
                       "not a readable .npz file")
    assert not any(Path(project, f"x.{o[2:]}").exists() for o in out)


def test_corrupted_params_json_is_named(project):
    params = paths.fmt(paths.RUN_PARAMS, run=RUN)
    (project / params).write_text('{"run_id": ')
    proc = embnorm(project, *run_args("embed", RUN))
    assert_clear_error(proc, "embed", params, "not valid JSON")

    (project / params).write_bytes(b"\xff\xfe\x00garbage")
    proc = embnorm(project, *run_args("embed", RUN))
    assert_clear_error(proc, "embed", params, "not valid JSON")


def test_unreadable_table_is_named(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(io.ArtifactError, match="empty.tsv: not a readable TSV table"):
        io.read_tsv(tmp_path / "empty.tsv")


def test_checkpoint_with_foreign_objects_is_refused(tmp_path):
    """weights_only=True: a checkpoint that would run code when unpickled is refused, and the file is named."""
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "hook": os.system}, path)
    with pytest.raises(io.ArtifactError, match="evil.pt: not a readable checkpoint"):
        io.load_torch(path)


def test_npy_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(io.ArtifactError, match="objects.npy: not a readable .npy file"):
        io.read_npy(path)


# ---- writers ----

def test_failed_writer_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results" / "tables" / "t.tsv"
    io.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed in the middle")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["t.tsv"]


def test_killed_writer_leaves_no_finished_file_and_the_audit_sees_its_temporary(tmp_path):
    (tmp_path / "results").mkdir()
    code = ("import os, signal\nfrom embnorm import io\n"
            "with io.atomic_path('results/tables/big.tsv') as tmp:\n"
            "    tmp.write_text('x' * 100000)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "results/tables/big.tsv").exists()
    found = {f.path: f for f in audit.audit(tmp_path / "results")}
    leftover = [f for f in found.values() if f.path.startswith("results/tables/.big.tsv.tmp-")]
    assert len(leftover) == 1 and leftover[0].status == "orphan" and "killed" in leftover[0].detail


# ---- config strings never reach a shell unquoted ----

def test_config_strings_are_quoted_for_the_shell(workflow):
    """A dataset path full of shell syntax reaches `embnorm prepare` as one quoted JSON argument: nothing it spells
    out runs (the path exists, so the job does run; whether the file is a usable dataset does not matter here)."""
    from conftest import tiny_config

    evil = "data'; touch pwned; echo '$(touch pwned2)`touch pwned3`.npz"
    (workflow.workdir / evil).write_bytes(b"not an npz")
    cfg = tiny_config()
    cfg["datasets"]["evil"] = {"source": "npz", "path": evil}
    cfg["grid"].update(dataset=["evil"], mitigation=["none"])
    cfg["include"] = []
    workflow.write_config(cfg)
    workflow.run("--cores", "1", "resources/datasets/evil/train/images.npy", check=False)
    assert (workflow.workdir / paths.fmt(paths.LOGS, name="prepare-evil")).exists()  # the job ran
    assert not [p.name for p in workflow.workdir.iterdir() if p.name.startswith("pwned")]
