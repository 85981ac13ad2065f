"""Tiny-ImageNet-200: 200 classes, 500 train and 50 validation images each, 64 x 64; validation is the test split.

Read from `tiny-imagenet-200.zip` in place (or from an extracted `tiny-imagenet-200/` folder beside it). Classes are
the sorted WordNet ids of `wnids.txt`. Train images are in `torchvision.datasets.ImageFolder` order (class, then file
name). The validation images, which the archive keeps in one folder, are labelled by `val/val_annotations.txt` and kept
in their original order `val_0 .. val_9999`; that number is their original index. The unlabelled `test/` is not used.
An extracted folder is read like every folder of files (`trees.walk`): hidden files and folders are left out, and a
link out of the folder is an error naming it.
"""

from __future__ import annotations

import re

import numpy as np

from embnorm.data import fetch, images
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError, Remote
from embnorm.data.trees import FolderTree, Tree, open_tree

NATIVE_SIZE = 64
TOP = "tiny-imagenet-200"
REMOTE = Remote("tinyimagenet", "tiny-imagenet-200.zip", "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                "90528d7ca1a48142e341f4ef8d21d0de")
VAL_NAME = re.compile(r"val_(\d+)\.jpe?g$", re.IGNORECASE)


def locate(spec: dict) -> tuple[Tree, dict]:
    folder = fetch.data_dir(spec) / REMOTE.group / TOP
    if folder.is_dir():
        return FolderTree(folder), {"name": TOP, "path": str(folder), "url": REMOTE.url, "md5": None}
    archive = fetch.ensure(REMOTE, spec)
    return open_tree(archive, TOP), fetch.record(REMOTE, archive)


def _lines(tree: Tree, name: str, present: set[str]) -> list[str]:
    if name not in present:
        raise DataSourceError(f"{tree.where}/{name}: missing; this is not a Tiny-ImageNet-200 layout")
    return [line for line in tree.read(name).decode().splitlines() if line.strip()]


def index(tree: Tree) -> dict:
    """Classes, train files per class and labelled validation files, with the layout checked for consistency."""
    names = tree.names()
    present = set(names)
    classes = sorted(line.strip() for line in _lines(tree, "wnids.txt", present))
    label = {wnid: i for i, wnid in enumerate(classes)}
    train = {wnid: [] for wnid in classes}
    skipped: dict[str, list[str]] = {}
    for name in names:  # sorted, so each class's files come in ImageFolder order
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "train" and parts[2] == "images":
            if parts[1] not in train:
                raise DataSourceError(f"{tree.where}/{name}: class {parts[1]} is not in wnids.txt")
            reason = images.skip_reason(name)
            if reason:
                skipped.setdefault(parts[1], []).append(reason)
            else:
                train[parts[1]].append(name)
    for wnid, reasons in skipped.items():
        images.report_skipped(f"{tree.where}/train/{wnid}/images", reasons)
    empty = [w for w, files in train.items() if not files]
    if empty:
        raise DataSourceError(f"{tree.where}/train: no images for classes {empty[:5]} ({len(empty)} in all)")

    val = []
    for line in _lines(tree, "val/val_annotations.txt", present):
        file, wnid = line.split("\t")[:2]
        match = VAL_NAME.match(file)
        if not match or f"val/images/{file}" not in present or wnid not in label:
            raise DataSourceError(f"{tree.where}/val/val_annotations.txt: bad row {line!r} "
                                  f"(file missing, or class not in wnids.txt)")
        val.append((int(match.group(1)), f"val/images/{file}", label[wnid]))
    val.sort()
    n_val_images = sum(1 for n in names if n.startswith("val/images/") and images.is_image(n))
    if n_val_images != len(val):
        raise DataSourceError(f"{tree.where}/val: {n_val_images} images but {len(val)} annotations")
    return {"classes": classes, "train": train, "val": val, "words": _words(tree, classes, present)}


def _words(tree: Tree, classes: list[str], present: set[str]) -> list[str]:
    """Human-readable class names from words.txt (the WordNet id where that file is absent)."""
    words = {}
    if "words.txt" in present:
        for line in _lines(tree, "words.txt", present):
            wnid, _, text = line.partition("\t")
            words[wnid] = text.strip()
    return [words.get(w, w) for w in classes]


def fetch_raw(spec: dict) -> list[dict]:
    tree, rec = locate(spec)
    index(tree)
    return [rec]


def prepare(dataset: str, spec: dict, out: dict) -> None:
    tree, rec = locate(spec)
    found = index(tree)
    size = spec.get("image_size", NATIVE_SIZE)
    classes = found["classes"]
    train_files = [name for wnid in classes for name in found["train"][wnid]]
    train_labels = np.repeat(np.arange(len(classes)), [len(found["train"][w]) for w in classes])
    val_index, val_files, val_labels = (list(column) for column in zip(*found["val"]))
    extra = {"raw": rec, "class_words": found["words"]}
    train_images = images.decode_all(train_files, tree.read, size, tree.where)
    fmt.write_split(out["train"], dataset, "train", train_images, train_labels, classes, "tinyimagenet",
                    original_index=np.arange(len(train_files)), extra={**extra, "files": train_files})
    val_images = images.decode_all(val_files, tree.read, size, tree.where)
    fmt.write_split(out["test"], dataset, "test", val_images, np.array(val_labels), classes, "tinyimagenet",
                    original_index=np.array(val_index), extra={**extra, "files": val_files})
