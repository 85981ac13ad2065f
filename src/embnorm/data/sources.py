"""Real data sources: from a dataset's config entry to its reader, its raw files and its human labels.

| source        | raw files                                                   | module           |
|---------------|-------------------------------------------------------------|------------------|
| cifar10       | cifar-10-python.tar.gz (downloaded, md5-checked)            | cifar.py         |
| cifar100      | cifar-100-python.tar.gz (downloaded, md5-checked)           | cifar.py         |
| tinyimagenet  | tiny-imagenet-200.zip (downloaded, md5-checked)             | tinyimagenet.py  |
| fashion_mnist | four IDX files, plain or .gz (downloaded; md5 of content)   | fashion_mnist.py |
| imagenet100   | a local ImageNet root (`path`)                              | imagenet100.py   |
| imagefolder   | a local folder of class subfolders (`path`)                 | folders.py       |
| npz           | a local .npz file (`path`)                                  | npzfile.py       |

Any source may keep a subset of its classes and cap the images per class (subsets.py, applied by prepare.py).
Human labels `cifar10n` / `cifar100n` (cifar_human.py) are downloaded files too. Downloads and checks: fetch.py.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from embnorm import io
from embnorm.data import cifar, cifar_human, fashion_mnist, fetch, folders, imagenet100, npzfile, tinyimagenet
from embnorm.errors import EmbnormError

PREPARE = {
    "cifar10": cifar.prepare,
    "cifar100": cifar.prepare,
    "tinyimagenet": tinyimagenet.prepare,
    "fashion_mnist": fashion_mnist.prepare,
    "imagenet100": imagenet100.prepare,
    "imagefolder": folders.prepare,
    "npz": npzfile.prepare,
}
DOWNLOADED = {"cifar10": cifar.fetch_raw, "cifar100": cifar.fetch_raw, "tinyimagenet": tinyimagenet.fetch_raw,
              "fashion_mnist": fashion_mnist.fetch_raw}
LOCAL = {  # sources read from the dataset's `path`, and what that path must hold
    "imagenet100": "an ImageNet root holding train/<wnid>/ and val/<wnid>/",
    "imagefolder": "a folder of class subfolders, or one with train/ and test/ each holding them",
    "npz": "a .npz file with x_train, y_train, x_test and y_test",
}


def needs_download(spec: dict) -> bool:
    """Whether the dataset has raw files to fetch and verify (its images, or real human labels)."""
    return spec.get("source") in DOWNLOADED or spec.get("human_labels") in cifar_human.KINDS


def content_arg(spec: dict) -> str:
    """` --content <stamp>` for a dataset read from a local path (the prepare rule appends it to --spec), else ''.
    Snakemake compares the set of a job's parameter values, so a dataset without a local path keeps exactly the
    parameter it had before this argument existed, and is not prepared again."""
    stamp = content_stamp(spec)
    return f" --content {stamp}" if stamp else ""


def content_stamp(spec: dict) -> str:
    """A hash of what a local source's `path` holds now: (path, size, mtime) of each image file it reads, or of the
    .npz file. The prepare rule carries it as a parameter, so any edit under the folder (an image added, removed,
    replaced or rewritten) re-prepares exactly that dataset, while a dataset without a local path gets ''."""
    source, path = spec.get("source"), spec.get("path")
    if source not in LOCAL or path is None or not Path(path).exists():
        return ""
    root = Path(path)
    if source == "npz":
        st = os.stat(root)
        entries = [(str(root), st.st_size, st.st_mtime_ns)]
    else:
        reader = imagenet100 if source == "imagenet100" else folders
        entries = folders.manifest(reader.content_folders(root))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def missing_path(dataset: str, spec: dict) -> str | None:
    """For a dataset read from a local `path` that does not exist: what is wrong, naming the key and the path tried
    (`~` expanded); else None."""
    if spec.get("source") not in LOCAL:
        return None
    tried = Path(spec["path"]).expanduser()
    if tried.exists():
        return None
    given = "" if str(tried) == spec["path"] else f" (given as {spec['path']})"
    return f"datasets.{dataset}.path: {tried}{given} does not exist; it should be {LOCAL[spec['source']]}"


def fetch_raw(dataset: str, spec: dict) -> list[dict]:
    """Every raw file the dataset needs, in place and verified (downloaded where allowed); their records.

    Images and human labels are fetched independently, so an offline user learns about every missing file at once.
    """
    steps = []
    if spec.get("source") in DOWNLOADED:
        steps.append(lambda: DOWNLOADED[spec["source"]](spec))
    if spec.get("human_labels") in cifar_human.KINDS:
        steps.append(lambda: cifar_human.fetch_raw(dataset, spec))
    return fetch.gather(steps)


def write_downloads(dataset: str, spec: dict, out: str) -> None:
    """downloads.json: what was verified and where it lies, so a prepared dataset names its raw files."""
    io.write_json(out, {"dataset": dataset, "files": fetch_raw(dataset, spec)})


def prepare(dataset: str, spec: dict, out: dict) -> None:
    """Prepare a real source's splits into the folders `out["train"]` and `out["test"]`."""
    source = spec.get("source")
    if source not in PREPARE:
        raise EmbnormError(f"datasets.{dataset}.source: '{source}' is not a real source; known: {sorted(PREPARE)}")
    PREPARE[source](dataset, spec, out)


def write_human_labels(dataset: str, spec: dict, train_dir, test_dir, out_n: str, out_h_counts: str,
                       out_h_probs: str) -> None:
    cifar_human.write(dataset, spec, train_dir, test_dir, out_n, out_h_counts, out_h_probs)
