"""A folder, a zip or a tar archive seen the same way: relative file names and their bytes.

Archives are read in place rather than extracted, so a verified archive is all a dataset needs (the data folder may be
read-only, nothing is left half-extracted, and Tiny-ImageNet's 120,000 small files never touch the disk). A user who has
already extracted an archive can put the folder there instead.
"""

from __future__ import annotations

import tarfile
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path


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
    def __init__(self, root: Path):
        self.root = Path(root)
        self.where = str(self.root)

    def names(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


class ZipTree(Tree):
    def __init__(self, archive: Path, top: str):
        self.zip = zipfile.ZipFile(archive)
        self.prefix = top.rstrip("/") + "/"
        self.where = f"{archive}:{self.prefix}"

    def names(self) -> list[str]:
        return sorted(n[len(self.prefix):] for n in self.zip.namelist()
                      if n.startswith(self.prefix) and not n.endswith("/"))

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
                if member.isfile() and member.name.startswith(prefix):
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
