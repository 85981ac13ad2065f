"""Image folders (one subfolder per class): the `imagefolder` source, and the listing that ImageNet-100 shares.

Files are listed in `torchvision.datasets.ImageFolder` order: classes are the sorted subfolder names, and within a class
the files of a sorted `os.walk`, each folder's names sorted. That order is the dataset's original order; the relative
file names are recorded in meta.json (`files`), and `original_index` is the position in the full listing.

An `imagefolder` root either holds `train/` and `test/` (each with the class subfolders; `val/` or `validation/`
stand in for a missing `test/`), or holds the class subfolders itself; then a seeded, per-class split sets
`test_fraction` of each class aside (default 0.2, seed `split_seed`).

Symbolic links are followed only where they stay inside their class folder and reach each folder and image once: a
link that leaves the class folder (it would relabel another class's image, or pull in images from elsewhere), a link
loop, and an image reached twice (a duplicate across classes or splits) are errors naming the link. A class folder
may itself be a link (`root/cat -> /data/cat`). Hidden files and folders are not read, and a file in no format PIL
decodes is skipped; each class's skipped files are counted on one line of the log (`trees.walk`, `images`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from embnorm.data import format as fmt
from embnorm.data import images, trees
from embnorm.errors import EmbnormError

DEFAULT_SIZE = 32
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0
TEST_FOLDERS = ("test", "val", "validation")  # the first of these beside train/ is the test split
SPLIT_NAMES = {"train", "test", "val", "valid", "validation"}


def class_names(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def class_files(root: Path, name: str) -> list[str]:
    """The images of one class, relative to `root`, in ImageFolder order. Links that leave the class folder, loops
    and folders reached twice are errors, hidden files and folders are left out (`trees.walk`); a file of no format
    PIL decodes is skipped, and the skipped files are counted on one log line for the class."""
    top = root / name
    walked, skipped = [], []
    for folder, fnames, hidden in trees.walk(top, what="its class folder"):
        skipped += ["hidden folder" if h.endswith("/") else "hidden file" for h in hidden]
        reasons = {f: images.skip_reason(f) for f in fnames}
        skipped += [reason for reason in reasons.values() if reason]
        walked.append((folder, [f for f, reason in reasons.items() if not reason]))
    images.report_skipped(str(top), skipped)
    return [f"{Path(folder).relative_to(root).as_posix()}/{f}" for folder, fnames in sorted(walked) for f in fnames]


def check_unique(root: Path, files: list[str]) -> None:
    """No image file is read twice (through links, under two classes or in both splits)."""
    first: dict[str, str] = {}
    for name in files:
        real = os.path.realpath(root / name)
        if real in first:
            raise EmbnormError(f"{root / name}: the same file as {root / first[real]} ({real}); each image may appear "
                               "once in the dataset: remove the duplicate or its link")
        first[real] = name


def manifest(folders: list[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every image under `folders`, following links once (loops are skipped here; reading
    the folder reports them). The prepare rule carries a hash of it, so adding, removing, replacing or editing an
    image re-prepares the dataset it belongs to."""
    entries, seen = [], set()
    for top in folders:
        for folder, dirs, fnames in os.walk(top, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = sorted(d for d in dirs if not trees.hidden(d))
            for f in sorted(fnames):
                if images.is_image(f):
                    path = os.path.join(folder, f)
                    try:
                        st = os.stat(path)
                        entries.append((path, st.st_size, st.st_mtime_ns))
                    except OSError:  # a broken link: reading the folder names it
                        entries.append((path, -1, -1))
    return entries


def split_folders(root: Path) -> tuple[Path, Path] | None:
    """(train folder, test folder) when `root` holds train/ and test/ (or val/, validation/); None for class folders.
    A root whose subfolders are only split names but lacks a pair is an error that says which folders to add."""
    present = {e.name for e in os.scandir(root) if e.is_dir()}
    if "train" in present:
        test = next((t for t in TEST_FOLDERS if t in present), None)
        if test:
            return root / "train", root / test
    names = set(class_names(root))
    if names and names <= SPLIT_NAMES:
        raise EmbnormError(f"{root}: holds {sorted(names)}, which look like split folders, not classes; give train/ "
                           f"together with test/ (or val/), each holding one subfolder per class")
    return None


def content_folders(root: Path) -> list[Path]:
    """The folders an imagefolder dataset reads (for its manifest)."""
    if not root.is_dir():
        return []
    try:
        pair = split_folders(root)
    except EmbnormError:
        return [root]
    return list(pair) if pair else [root]


def scan(root: Path, classes: list[str], limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Files and labels of `classes` under `root` (at most `limit` per class, the first in order)."""
    files, labels = [], []
    for label, name in enumerate(classes):
        found = class_files(root, name)[:limit]
        if not found:
            raise EmbnormError(f"{root / name}: no images in this class folder (of a format PIL decodes; hidden files "
                               "and folders are not read)")
        files += found
        labels += [label] * len(found)
    check_unique(root, files)
    return files, np.asarray(labels, np.int64)


def seeded_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Test mask: round(fraction * n_c) images of each class c, drawn with `seed`; at least one stays to train."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(int(round(fraction * len(members))), len(members) - 1)
        test[rng.choice(members, size=k, replace=False)] = True
    return test


def write_folder_split(directory, dataset: str, split: str, root: Path, files: list[str], labels: np.ndarray,
                       classes: list[str], source: str, size: int, original_index: np.ndarray, extra: dict) -> None:
    pixels = images.decode_all(files, lambda name: root / name, size, str(root))
    fmt.write_split(directory, dataset, split, pixels, labels, classes, source, original_index=original_index,
                    extra={**extra, "root": str(root), "files": files})


def prepare(dataset: str, spec: dict, out: dict) -> None:
    root = Path(spec["path"])
    if not root.is_dir():
        raise EmbnormError(f"datasets.{dataset}.path: {root} is not a folder")
    size = spec.get("image_size", DEFAULT_SIZE)
    pair = split_folders(root)
    if pair:
        classes = class_names(pair[0])
        extra_classes = sorted(set(class_names(pair[1])) - set(classes))
        if extra_classes:
            raise EmbnormError(f"{pair[1]}: classes {extra_classes} have no folder in {pair[0]}")
        listed = {}
        for split, folder in zip(("train", "test"), pair):
            present = [c for c in classes if (folder / c).is_dir()]
            files, labels = scan(folder, present)
            listed[split] = (folder, files, np.asarray([classes.index(present[i]) for i in labels], np.int64))
        check_unique(root, [(f / n).relative_to(root).as_posix() for f, names, _ in listed.values() for n in names])
        for split, (folder, files, labels) in listed.items():
            write_folder_split(out[split], dataset, split, folder, files, labels, classes, "imagefolder", size,
                               np.arange(len(files)), {"layout": f"{pair[0].name}/ and {pair[1].name}/ folders"})
        return
    classes = class_names(root)
    if len(classes) < 2:
        raise EmbnormError(f"datasets.{dataset}.path: {root} needs one subfolder per class (found {classes})")
    files, labels = scan(root, classes)
    fraction = spec.get("test_fraction", DEFAULT_TEST_FRACTION)
    seed = spec.get("split_seed", DEFAULT_SPLIT_SEED)
    test = seeded_split(labels, fraction, seed)
    layout = {"layout": "seeded split", "test_fraction": fraction, "split_seed": seed}
    for split, mask in (("train", ~test), ("test", test)):
        keep = np.flatnonzero(mask)
        write_folder_split(out[split], dataset, split, root, [files[i] for i in keep], labels[keep], classes,
                           "imagefolder", size, keep, layout)
