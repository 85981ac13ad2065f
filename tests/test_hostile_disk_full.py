"""A full disk: every atomic writer (embnorm.io) fails with one line that names the file and says "no space left on
device", leaves no partial file, and keeps the file it would have replaced. The disk is simulated: `full_disk` makes
every write into a temporary file fail with ENOSPC after a few bytes, as write(2) does; torch.save, whose C++ writer
reports the same failure as a RuntimeError without an errno, is replaced by one that fails that way."""

from __future__ import annotations

import builtins
import errno
import io as stdlib_io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from embnorm import checkpoint, cli, io
from embnorm.data import fetch

TORCH_FULL_DISK = "[enforce fail at inline_container.cc:672] . unexpected pos 1152 vs 1040"


class FullFile:
    """A file open for writing on a disk with `room` bytes left: the write that needs more writes what fits, then
    raises ENOSPC."""

    def __init__(self, f, room: int):
        self._f, self._room = f, room

    def write(self, data):
        if len(data) > self._room:
            self._f.write(data[:self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Writes into a writer's temporary file (`.<name>.tmp-<pid>`, a download's `<name>.part-<pid>`) run out of space
    after 16 bytes; every other file opens as usual."""
    real_open = builtins.open

    def opening(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        name = os.path.basename(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else ""
        temporary = ".tmp-" in name or ".part-" in name
        return FullFile(f, 16) if temporary and any(c in mode for c in "wax") else f

    monkeypatch.setattr(builtins, "open", opening)
    monkeypatch.setattr(stdlib_io, "open", opening)  # pathlib opens through io.open


def assert_refused(info, path: Path) -> None:
    message = str(info.value)
    assert message.startswith(f"{path}: no space left on device (") and "\n" not in message
    assert "free some space and run again" in message


def leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


WRITERS = {
    "text": ("notes.txt", lambda p: io.write_text(p, "new text " * 20)),
    "json": ("params.json", lambda p: io.write_json(p, {"run_id": "r", "lr": 0.5, "many": list(range(50))})),
    "npy": ("images.npy", lambda p: io.write_npy(p, np.arange(1000))),
    "npz": ("synth-test.npz", lambda p: io.write_npz(p, projector=np.ones((50, 8), np.float32))),
    "tsv": ("metrics.tsv", lambda p: io.write_tsv(p, pd.DataFrame({"epoch": range(30), "loss": np.linspace(1, 0, 30)}))),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, full_disk, kind):
    name, write = WRITERS[kind]
    path = tmp_path / name
    path.write_bytes(b"the finished file")  # not a temporary file: written in full
    with pytest.raises(io.ArtifactError) as info:
        write(path)
    assert_refused(info, path)
    assert path.read_bytes() == b"the finished file"
    assert leftovers(tmp_path, name) == []


def test_a_full_disk_before_the_first_file_of_a_folder(tmp_path, full_disk):
    path = tmp_path / "new" / "params.json"
    with pytest.raises(io.ArtifactError) as info:
        io.write_json(path, {"a": "b" * 100})
    assert_refused(info, path)
    assert leftovers(path.parent, "") == []


def failing_torch_save(obj, f, *args, **kwargs):
    """torch.save on a full disk: part of the archive is written, then the C++ writer raises."""
    Path(f).write_bytes(b"PK\x03\x04 partial archive")
    raise RuntimeError(TORCH_FULL_DISK)


def tiny_model():
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def test_torch_save_on_a_full_disk_names_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", failing_torch_save)
    monkeypatch.setattr(io, "free_bytes", lambda folder: 4096)
    model, optimizer = tiny_model()
    resume = tmp_path / "resume.pt"
    resume.write_bytes(b"the last resumable state")
    with pytest.raises(io.ArtifactError) as info:
        checkpoint.save_resume(resume, {"run_id": "r"}, model, optimizer, checkpoint.RunState(epoch=3))
    assert_refused(info, resume)
    assert resume.read_bytes() == b"the last resumable state"
    final = tmp_path / "checkpoint.pt"
    with pytest.raises(io.ArtifactError) as info:
        checkpoint.save_final(final, {"run_id": "r"}, model, 32, 10, 3, "digest")
    assert_refused(info, final)
    assert leftovers(tmp_path, "resume.pt") == []


def test_torch_errors_with_room_on_the_disk_are_not_called_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", failing_torch_save)  # free_bytes: the real disk, which has room
    with pytest.raises(RuntimeError, match="unexpected pos"):
        io.save_torch(tmp_path / "checkpoint.pt", {"a": torch.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def test_the_cli_says_it_in_one_line(tmp_path, monkeypatch, capsys, full_disk):
    monkeypatch.chdir(tmp_path)
    out = Path("results/runs/r/params.json")
    out.parent.mkdir(parents=True)
    out.write_text('{"run_id": "r", "lr": 0.1}\n')
    assert cli.main(["params", "--spec", json.dumps({"run_id": "r", "lr": 0.2}), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"embnorm params: error: {out}: no space left on device")
    assert json.loads(out.read_text())["lr"] == 0.1
    assert leftovers(out.parent, "params.json") == []


def test_a_download_onto_a_full_disk(tmp_path, monkeypatch, full_disk):
    remote = fetch.Remote(group="toy", name="toy.tar.gz", url="https://example.org/toy.tar.gz", md5="0" * 32)

    class Response(stdlib_io.BytesIO):
        def __enter__(self):
            return self

    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout: Response(b"x" * 4096))
    dest = tmp_path / "toy" / "toy.tar.gz"
    with pytest.raises(fetch.DataSourceError) as info:
        fetch.download(remote, dest)
    assert_refused(info, dest)
    assert leftovers(dest.parent, "") == []
