"""ImageNet-100 from a local ImageNet root: the 100 classes of the CMC subset, resized to image_size (default 128).

ImageNet cannot be downloaded without an account, so `path` names a root that holds `train/<wnid>/` and `val/<wnid>/`
(the usual layout of ILSVRC-2012 after the validation images are sorted into class folders). Only the 100 WordNet ids
listed in `embnorm/package_data/imagenet100_classes.txt` are read (shipped with the package; the same file as the
authors' `CLA/utils/imagenet100_classes.txt`); classes are in sorted order, images in ImageFolder order. Like the
authors' loader, at most 1,300 train images per class are kept (all of them in ILSVRC-2012) and every image is resized
to size x size with bicubic interpolation, without cropping. The `val` images are the test split.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from embnorm.data import folders
from embnorm.errors import EmbnormError

DEFAULT_SIZE = 128
MAX_TRAIN_PER_CLASS = 1300
CLASSES_FILE = "imagenet100_classes.txt"
FOLDERS = {"train": "train", "test": "val"}  # split -> its folder under `path`


def class_list() -> list[str]:
    text = resources.files("embnorm").joinpath("package_data", CLASSES_FILE).read_text()
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def content_folders(root: Path) -> list[Path]:
    """The class folders `prepare` reads under `root` (those that exist), for the prepare rule's manifest."""
    classes = class_list()
    return [root / folder / w for folder in FOLDERS.values() for w in classes if (root / folder / w).is_dir()]


def prepare(dataset: str, spec: dict, out: dict) -> None:
    root = Path(spec["path"])
    classes = class_list()
    size = spec.get("image_size", DEFAULT_SIZE)
    for split, folder in FOLDERS.items():
        split_root, limit = root / folder, MAX_TRAIN_PER_CLASS if split == "train" else None
        missing = [w for w in classes if not (split_root / w).is_dir()]
        if missing:
            raise EmbnormError(f"datasets.{dataset}.path: {split_root} lacks {len(missing)} of the 100 ImageNet-100 "
                               f"class folders, e.g. {missing[:3]} (expected {split_root}/<wnid>/*.JPEG)")
        files, labels = folders.scan(split_root, classes, limit)
        folders.write_folder_split(out[split], dataset, split, split_root, files, labels, classes, "imagenet100", size,
                                   np.arange(len(files)), {"classes_file": f"embnorm/package_data/{CLASSES_FILE}"})
