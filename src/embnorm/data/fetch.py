"""Raw files from the internet, verified by md5: use a file already in place, or download it; never guess.

Every remote file lives at `<data_dir>/<group>/<name>` (data_dir: the dataset's `data_dir`, default
`resources/downloads`). A file already there is verified and used without any network access. A missing file is
downloaded only when the dataset's `download` is true; otherwise, or when the download fails, the error names the file,
its URL, its md5 and where to put it. A file whose md5 does not match is moved aside to `<name>.bad-md5` and the run
stops: a wrong file is never used, and never silently downloaded again in a loop.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from embnorm import io, paths
from embnorm.errors import EmbnormError

TIMEOUT_S = 60
CHUNK = 1 << 20


class DataSourceError(EmbnormError):
    """A raw file is missing, unreachable or corrupted; the message says which file and what to do."""


@dataclass(frozen=True)
class Remote:
    group: str  # folder under the data dir, e.g. "cifar10" or "cifar-n"
    name: str  # file name, e.g. "cifar-10-python.tar.gz"
    url: str
    md5: str


def data_dir(spec: dict) -> Path:
    return Path(spec.get("data_dir", paths.DOWNLOADS))


def destination(remote: Remote, spec: dict) -> Path:
    return data_dir(spec) / remote.group / remote.name


def ensure(remote: Remote, spec: dict) -> Path:
    """The verified local copy of `remote`: the file in place if its md5 matches, else a fresh download."""
    dest = destination(remote, spec)
    if dest.exists():
        verify(dest, remote)
        return dest
    if not spec.get("download", True):
        raise DataSourceError(missing_message(remote, dest, "downloads are off for this dataset (download: false)"))
    download(remote, dest)
    return dest


def verify(path: Path, remote: Remote) -> None:
    """Raise (and move the file aside) unless `path` has the md5 of `remote`."""
    actual = io.md5(path)
    if actual == remote.md5:
        return
    bad = path.with_name(path.name.split(".part-")[0] + ".bad-md5")
    try:
        os.replace(path, bad)
        kept = f"it was moved aside to {bad}; delete that file and re-run to download again, or"
    except OSError as e:  # a read-only data folder: leave it, but still refuse it
        kept = f"it could not be moved aside ({e.strerror}), so remove it yourself and re-run, or"
    raise DataSourceError(f"{path.with_name(remote.name)}: md5 is {actual}, expected {remote.md5} "
                          f"(from {remote.url}); {kept} place the correct file there")


def download(remote: Remote, dest: Path) -> None:
    """Stream `remote` into a temporary file beside `dest`, verify it, then rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    print(f"downloading {remote.url} -> {dest}", file=sys.stderr)
    try:
        with urllib.request.urlopen(remote.url, timeout=TIMEOUT_S) as response, open(part, "wb") as f:
            while block := response.read(CHUNK):
                f.write(block)
    except (urllib.error.URLError, OSError, ValueError) as e:
        full = io.disk_full(e, dest.parent) and io.no_space_message(dest)  # measured before the partial file goes
        part.unlink(missing_ok=True)
        if full:
            raise DataSourceError(full) from None
        reason = getattr(e, "reason", None) or e
        raise DataSourceError(missing_message(remote, dest, f"the download failed ({reason})")) from None
    verify(part, remote)
    os.replace(part, dest)


def missing_message(remote: Remote, dest: Path, why: str) -> str:
    return (f"{dest}: missing, and {why}. It is {remote.name} from {remote.url} (md5 {remote.md5}). "
            f"Download it on a machine with internet and put it at {dest.absolute()} "
            f"(or set the dataset's data_dir to a folder that holds {remote.group}/{remote.name}), then re-run.")


def record(remote: Remote, path: Path) -> dict:
    """One row of a dataset's downloads.json: what was verified, where it is, where it came from."""
    return {"name": remote.name, "path": str(path), "url": remote.url, "md5": remote.md5}


def gather(steps: Iterable[Callable[[], list[dict]]]) -> list[dict]:
    """The records of every step, run in turn; if any fail, one error listing every failure, one per line, so an
    offline user learns about every missing file at once."""
    records, problems = [], []
    for step in steps:
        try:
            records += step()
        except DataSourceError as e:
            problems.append(str(e))
    if problems:
        raise DataSourceError("\n".join(problems))
    return records
