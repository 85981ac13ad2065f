"""CIFAR-10 and CIFAR-100 from the official python-version archives, in the original order.

The train split is `data_batch_1..5` (CIFAR-100: `train`) concatenated and the test split is `test_batch` (`test`), so
row i of the prepared train split is row i of CIFAR-10N/100N and row i of the test split is row i of CIFAR-10H; this is
also `torchvision.datasets.CIFAR10/100` order. Each batch member is checked against torchvision's published md5 before
it is unpickled (see `pickles.py`). URLs and md5s: torchvision/datasets/cifar.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from embnorm.data import fetch, images, pickles
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError, Remote
from embnorm.data.trees import FolderTree, Tree, open_tree

NATIVE_SIZE = 32


def _names(values) -> list[str]:
    """Class names as str (a batch read with encoding='bytes' style keys may hold bytes)."""
    return [v.decode("latin1") if isinstance(v, bytes) else str(v) for v in values]


@dataclass(frozen=True)
class CifarLayout:
    remote: Remote
    top: str  # the folder inside the archive; an extracted copy may sit beside the archive under this name
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    label_key: str
    names_key: str
    members: dict[str, str] = field(default_factory=dict)  # member -> md5
    coarse_key: str | None = None
    coarse_names_key: str | None = None


CIFAR10 = CifarLayout(
    remote=Remote("cifar10", "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                  "c58f30108f718f92721af3b95e74349a"),
    top="cifar-10-batches-py",
    train=("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"),
    test=("test_batch",), meta="batches.meta", label_key="labels", names_key="label_names",
    members={"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
             "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
             "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
             "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"},
)
CIFAR100 = CifarLayout(
    remote=Remote("cifar100", "cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                  "eb9058c3a382ffc7106e4002c42a8d85"),
    top="cifar-100-python",
    train=("train",), test=("test",), meta="meta", label_key="fine_labels", names_key="fine_label_names",
    members={"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
             "meta": "7973b15100ade9c7d40fb424638fde48"},
    coarse_key="coarse_labels", coarse_names_key="coarse_label_names",
)
LAYOUTS = {"cifar10": CIFAR10, "cifar100": CIFAR100}


def locate(layout: CifarLayout, spec: dict) -> tuple[Tree, dict]:
    """The batches as a tree (an extracted folder in place, else the verified archive) and its downloads record."""
    folder = fetch.data_dir(spec) / layout.remote.group / layout.top
    if folder.is_dir():
        tree = FolderTree(folder)
        rec = {"name": layout.top, "path": str(folder), "url": layout.remote.url, "members_md5": layout.members}
    else:
        archive = fetch.ensure(layout.remote, spec)
        tree = open_tree(archive, layout.top)
        rec = fetch.record(layout.remote, archive)
    return tree, rec


def read_members(layout: CifarLayout, tree: Tree) -> dict[str, dict]:
    """Every member, md5-checked, then unpickled with the numpy-only reader."""
    present = set(tree.names())
    batches = {}
    for member, md5 in layout.members.items():
        where = f"{tree.where}/{member}"
        if member not in present:
            raise DataSourceError(f"{where}: missing; the {layout.top} files are incomplete")
        data = tree.read(member)
        actual = hashlib.md5(data).hexdigest()
        if actual != md5:
            raise DataSourceError(f"{where}: md5 is {actual}, expected {md5}; this is not the official {layout.top} "
                                  f"(delete {tree.where} and re-run to use {layout.remote.url})")
        batches[member] = pickles.load_cifar_batch(data, where)
    return batches


def _stack(batches: dict[str, dict], members: tuple[str, ...], key: str, where: str):
    data = np.concatenate([np.asarray(batches[m]["data"], np.uint8) for m in members])
    labels = np.concatenate([np.asarray(batches[m][key], np.int64) for m in members])
    if data.ndim != 2 or data.shape[1] != 3 * NATIVE_SIZE ** 2 or len(labels) != len(data):
        raise DataSourceError(f"{where}: expected (N, 3072) uint8 rows and N labels, got {data.shape}, {len(labels)}")
    # each row is the red, green then blue 32x32 plane, row-major (the CIFAR python-version layout)
    return data.reshape(-1, 3, NATIVE_SIZE, NATIVE_SIZE).transpose(0, 2, 3, 1), labels


def fetch_raw(spec: dict) -> list[dict]:
    """Make sure the verified raw files are in place (downloading if allowed); their downloads.json rows."""
    layout = LAYOUTS[spec["source"]]
    tree, rec = locate(layout, spec)
    read_members(layout, tree)
    return [rec]


def prepare(dataset: str, spec: dict, out: dict) -> None:
    layout = LAYOUTS[spec["source"]]
    tree, rec = locate(layout, spec)
    batches = read_members(layout, tree)
    meta = batches[layout.meta]
    classes = _names(meta[layout.names_key])
    size = spec.get("image_size", NATIVE_SIZE)
    for split, members in (("train", layout.train), ("test", layout.test)):
        data, labels = _stack(batches, members, layout.label_key, tree.where)
        extra = {"raw": rec}
        if layout.coarse_key:
            extra["coarse_labels"] = np.concatenate([batches[m][layout.coarse_key] for m in members]).tolist()
            extra["coarse_classes"] = _names(meta[layout.coarse_names_key])
        fmt.write_split(out[split], dataset, split, images.resize_array(data, size), labels, classes, spec["source"],
                        original_index=np.arange(len(labels)), extra=extra)
