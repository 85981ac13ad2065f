"""A folder, a zip or a tar archive seen the same way: relative file names and their bytes.

Archives are read in place rather than extracted, so a verified archive is all a dataset needs (the data folder may be
read-only, nothing is left half-extracted, and Tiny-ImageNet's 120,000 small files never touch the disk). A user who has
already extracted an archive can put the folder there instead.

Every folder of files on disk (an extracted archive here, an `imagefolder` class folder, an ImageNet class folder) is
walked by `walk`, one rule for all: hidden files and hidden folders (a name starting with '.', such as `.thumbnails/`
or `.DS_Store`) are left out, and symbolic links are followed only while they stay inside a boundary (the dataset's
root, or for an image folder its class folder): a link out of it, a link loop and a folder reached twice are errors
naming the link, since each would silently add images from elsewhere or count some twice.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from embnorm.errors import EmbnormError


def hidden(name: str) -> bool:
    """A hidden file or folder (a dotfile): thumbnails, editor backups and OS metadata, never data."""
    return name.startswith(".")


def hidden_path(name: str) -> bool:
    """A relative '/'-separated name with a hidden file or folder anywhere in it."""
    return any(hidden(part) for part in name.split("/"))


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def walk(top: Path, what: str = "the dataset's folder") -> Iterator[tuple[str, list[str], list[str]]]:
    """(folder, visible file names, hidden names skipped: folders with a trailing '/') for `top` and every visible
    folder below it, following links. A link (to a file or a folder) whose target leaves `top` (resolved: `top` may
    itself be a link) is an error naming it, and so is a link to a folder already walked (a loop, or the same images
    twice). `what` names `top` in the message."""
    base = os.path.realpath(top)
    seen = {base}
    for folder, dirs, fnames in os.walk(top, followlinks=True):
        skipped = sorted(d + "/" for d in dirs if hidden(d)) + sorted(f for f in fnames if hidden(f))
        dirs[:] = sorted(d for d in dirs if not hidden(d))
        for d in dirs:
            link = os.path.join(folder, d)
            target = os.path.realpath(link)
            if os.path.islink(link) and not inside(target, base):
                raise EmbnormError(f"{link}: a link to {target}, outside {what} {base}; copy the files in, or remove "
                                   "the link")
            if os.path.islink(link) and (target in seen or inside(base, target)):
                raise EmbnormError(f"{link}: a link to {target}, a folder already read (a link loop or a "
                                   "duplicate); remove the link")
        seen.update(os.path.realpath(os.path.join(folder, d)) for d in dirs)
        visible = []
        for f in sorted(f for f in fnames if not hidden(f)):
            full = os.path.join(folder, f)
            if os.path.islink(full) and not inside(os.path.realpath(full), base):
                raise EmbnormError(f"{full}: a link to {os.path.realpath(full)}, outside {what} {base}; copy the "
                                   "file in, or remove the link")
            visible.append(f)
        yield folder, visible, skipped


class Tree(ABC):
    """Files under one top folder; names are relative to it, with '/' separators. `where` says where, for messages."""

    where: str

    @abstractmethod
    def names(self) -> list[str]:
        """Every file (not folder), sorted."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """The bytes of one file."""


class FolderTree(Tree):
    """An extracted archive: its visible files, with links refused where they leave the folder (`walk`)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.where = str(self.root)

    def names(self) -> list[str]:
        found = []
        for folder, files, _ in walk(self.root):
            rel = Path(folder).relative_to(self.root).as_posix()
            found += [f if rel == "." else f"{rel}/{f}" for f in files if os.path.isfile(os.path.join(folder, f))]
        return sorted(found)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


class ZipTree(Tree):
    def __init__(self, archive: Path, top: str):
        self.zip = zipfile.ZipFile(archive)
        self.prefix = top.rstrip("/") + "/"
        self.where = f"{archive}:{self.prefix}"

    def names(self) -> list[str]:
        return sorted(n[len(self.prefix):] for n in self.zip.namelist()
                      if n.startswith(self.prefix) and not n.endswith("/") and not hidden_path(n[len(self.prefix):]))

    def read(self, name: str) -> bytes:
        return self.zip.read(self.prefix + name)


class TarTree(Tree):
    """A compressed tar cannot be read at random cheaply, so its files are read into memory in one pass.

    Only CIFAR's archives are tars here (about 180 MB unpacked).
    """

    def __init__(self, archive: Path, top: str):
        prefix = top.rstrip("/") + "/"
        self.files: dict[str, bytes] = {}
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and member.name.startswith(prefix) and not hidden_path(member.name[len(prefix):]):
                    self.files[member.name[len(prefix):]] = tar.extractfile(member).read()
        self.where = f"{archive}:{prefix}"

    def names(self) -> list[str]:
        return sorted(self.files)

    def read(self, name: str) -> bytes:
        return self.files[name]


def open_tree(path: Path, top: str = "") -> Tree:
    """A folder as is; an archive (zip or tar, any compression) restricted to the files under `top`."""
    path = Path(path)
    if path.is_dir():
        return FolderTree(path)
    if zipfile.is_zipfile(path):
        return ZipTree(path, top)
    return TarTree(path, top)
