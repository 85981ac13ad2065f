"""Atomic writers and safe readers. Every artifact of the workflow goes through here.

A writer first writes `<name>.tmp-<pid>` in the target folder and then renames it over the target, so a killed job
never leaves a file that looks finished. A write that fails because the disk is full says so, naming the file
(`atomic_path`).

Because every file passes through here, this is where a command's reads and writes are seen: inside
`journal_to(journal)` (embnorm.provenance opens one around each command) every reader tells `journal.read(path)` and
every writer, once the file is in place, `journal.wrote(path)`. Outside such a block nothing is noted.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from embnorm.errors import EmbnormError


class ArtifactError(EmbnormError):
    """A file the workflow needs is missing, truncated or corrupted. The message names the file."""


# The journal of the block now running (`journal_to`); context-local, so one block's journal never sees another's
# files.
_journal: contextvars.ContextVar = contextvars.ContextVar("embnorm.io.journal", default=None)


@contextlib.contextmanager
def journal_to(journal) -> Iterator[None]:
    """Tell `journal` of every file read (`journal.read(path)`) and written (`journal.wrote(path)`) in the block."""
    token = _journal.set(journal)
    try:
        yield
    finally:
        _journal.reset(token)


def _note_read(path) -> None:
    journal = _journal.get()
    if journal is not None:
        journal.read(path)


def _note_written(path) -> None:
    journal = _journal.get()
    if journal is not None:
        journal.wrote(path)


# errno values that mean the disk (or the user's quota on it) is full.
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# A writer that fails without an errno while less than this is free where it writes ran out of space: torch.save
# reports a failed write as `RuntimeError: [enforce fail at inline_container.cc:...] unexpected pos ...`.
FULL_BELOW_BYTES = 1 << 20


def free_bytes(folder) -> int:
    """Bytes an unprivileged writer may still use on the disk that holds `folder` (or its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def disk_full(error: BaseException, folder) -> bool:
    """Whether `error`, raised while writing into `folder`, means that the disk is full: an OSError with errno ENOSPC
    or EDQUOT (the error itself or one it was raised from), or a RuntimeError while less than FULL_BELOW_BYTES are
    free there."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return True
        cause = cause.__cause__ or cause.__context__
    return isinstance(error, RuntimeError) and free_bytes(folder) < FULL_BELOW_BYTES


def no_space_message(path, folder=None) -> str:
    """One line for a write of `path` that the disk had no room for."""
    free = free_bytes(folder or Path(path).parent)
    return (f"{path}: no space left on device ({free / 2**20:.1f} MiB free there); the file was not written and an "
            "earlier version of it, if any, is unchanged: free some space and run again")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block finishes. Whatever happens, the
    temporary file is removed and a file already at `path` stays as it was; when the disk is full (`disk_full`) the
    error is an ArtifactError naming `path` and saying "no space left on device"."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _note_written(path)
    except Exception as e:
        if disk_full(e, path.parent):  # before the temporary file goes: its blocks are what filled the disk
            raise ArtifactError(no_space_message(path)) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path) -> Any:
    _note_read(path)
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not valid JSON ({e})") from None


def write_npy(path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def read_npy(path, mmap: bool = False) -> np.ndarray:
    _note_read(path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except (ValueError, OSError, EOFError) as e:
        raise ArtifactError(f"{path}: not a readable .npy file ({e})") from None


def write_npz(path, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def read_npz(path) -> dict[str, np.ndarray]:
    _note_read(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError, ...
        raise ArtifactError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def write_tsv(path, frame) -> None:
    """Write a pandas DataFrame as TSV with full float precision."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.10g")


def read_tsv(path):
    import pandas as pd

    _note_read(path)
    try:
        return pd.read_csv(path, sep="\t")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except (ValueError, UnicodeDecodeError) as e:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise ArtifactError(f"{path}: not a readable TSV table ({type(e).__name__}: {str(e)[:200]})") from None


def save_torch(path, obj) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path, map_location="cpu"):
    """Load a checkpoint safely (weights_only=True); a truncated or foreign file raises ArtifactError."""
    import torch

    _note_read(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except Exception as e:
        raise ArtifactError(f"{path}: not a readable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None


def sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def md5(path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
