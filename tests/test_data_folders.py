"""Image-file sources on layouts the tests build: a Tiny-ImageNet-200 zip, an ImageNet root, a user's image folder, and
a user's .npz arrays."""

from __future__ import annotations

import dataclasses
import hashlib
import io as _io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import split_folders
from embnorm import paths
from embnorm.data import format as fmt
from embnorm.data import imagenet100, sources, tinyimagenet
from embnorm.errors import EmbnormError
from helpers.data import VAL, WNIDS, image_bytes, write_tiny_zip


# --- Tiny-ImageNet ---------------------------------------------------------------------------------------------------

def test_tinyimagenet_zip_is_read_in_place_and_val_regrouped_by_annotations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = tmp_path / paths.DOWNLOADS / "tinyimagenet" / "tiny-imagenet-200.zip"
    write_tiny_zip(archive)
    remote = dataclasses.replace(tinyimagenet.REMOTE, md5=hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(tinyimagenet, "REMOTE", remote)
    sources.prepare("tiny", {"source": "tinyimagenet", "download": False}, split_folders("tiny"))

    train, test = fmt.read_split("prepared/tiny/train"), fmt.read_split("prepared/tiny/test")
    assert train.meta["classes"] == sorted(WNIDS) and train.meta["class_words"][0] == "goldfish, Carassius auratus"
    assert train.images.shape == (33, 64, 64, 3) and train.labels.tolist() == [0] * 11 + [1] * 11 + [2] * 11
    first = train.meta["files"][:4]  # ImageFolder order: file names sorted as strings
    assert first == [f"train/n01443537/images/n01443537_{k}.JPEG" for k in (0, 1, 10, 2)]
    with zipfile.ZipFile(archive) as z, Image.open(_io.BytesIO(z.read("tiny-imagenet-200/" + first[3]))) as im:
        assert np.array_equal(train.images[3], np.asarray(im.convert("RGB")))
    assert test.meta["original_index"] == [0, 1, 2, 3, 4]  # val_0 .. val_4, in the original order
    label = {w: i for i, w in enumerate(sorted(WNIDS))}
    assert test.labels.tolist() == [label[w] for _, w in sorted(VAL, key=lambda r: int(r[0][4:-5]))]
    assert not (archive.parent / "tiny-imagenet-200").exists()  # nothing extracted


def test_tinyimagenet_layout_errors_name_the_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / paths.DOWNLOADS / "tinyimagenet" / "tiny-imagenet-200"
    archive = tmp_path / "t.zip"
    write_tiny_zip(archive, per_class=2)
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder.parent)
    (folder / "val/images/val_2.JPEG").unlink()  # an extracted folder in place is used, and checked
    with pytest.raises(EmbnormError, match=r"val_annotations.txt: bad row 'val_2.JPEG"):
        sources.prepare("tiny", {"source": "tinyimagenet", "download": False}, split_folders("tiny"))


# --- ImageNet-100 ----------------------------------------------------------------------------------------------------

def test_imagenet100_class_list_is_shipped_with_the_package():
    classes = imagenet100.class_list()
    assert len(classes) == len(set(classes)) == 100 and classes == sorted(classes)
    assert {"n02869837", "n02090622", "n01749939"} <= set(classes)


def write_imagenet_root(root: Path, extra_per_class: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in imagenet100.class_list() + ["n99999999"]:  # one class outside the subset
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for k in range(1 + (extra_per_class.get(wnid, 0) if split == "train" else 0)):
                (folder / f"{wnid}_{k}.JPEG").write_bytes(image_bytes(rng, (24, 18)))


def test_imagenet100_reads_the_100_classes_and_resizes_bicubic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classes = imagenet100.class_list()
    write_imagenet_root(tmp_path / "imagenet", {classes[5]: 2})
    spec = {"source": "imagenet100", "path": str(tmp_path / "imagenet"), "image_size": 16}
    sources.prepare("in100", spec, split_folders("in100"))
    train, test = fmt.read_split("prepared/in100/train"), fmt.read_split("prepared/in100/test")
    assert train.meta["classes"] == test.meta["classes"] == classes
    assert train.images.shape == (102, 16, 16, 3) and test.images.shape == (100, 16, 16, 3)
    assert np.bincount(train.labels).tolist() == [1] * 5 + [3] + [1] * 94
    assert not any("n99999999" in f for f in train.meta["files"])
    source = tmp_path / "imagenet" / "train" / train.meta["files"][7]
    with Image.open(source) as im:
        expected = np.asarray(im.convert("RGB").resize((16, 16), Image.BICUBIC))
    assert np.array_equal(train.images[7], expected)


def test_imagenet100_names_missing_class_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imagenet" / "train" / "n02869837").mkdir(parents=True)
    with pytest.raises(EmbnormError, match=r"lacks 99 of the 100 ImageNet-100 class folders"):
        sources.prepare("in100", {"source": "imagenet100", "path": str(tmp_path / "imagenet")},
                        split_folders("in100"))


# --- a user's image folder and arrays --------------------------------------------------------------------------------

def write_image_folder(root: Path, classes=("cat", "dog", "emu"), per_class: int = 10, size=(32, 32)) -> None:
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            (root / name / f"{k:02d}.png").write_bytes(image_bytes(rng, size, "PNG"))
    (root / classes[0] / "notes.txt").write_text("not an image")


def test_imagefolder_seeded_split_is_stratified_and_reproducible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image_folder(tmp_path / "mine")
    spec = {"source": "imagefolder", "path": "mine", "test_fraction": 0.2, "split_seed": 3}
    sources.prepare("mine", spec, split_folders("mine"))
    train, test = fmt.read_split("prepared/mine/train"), fmt.read_split("prepared/mine/test")
    assert train.meta["classes"] == ["cat", "dog", "emu"]
    assert np.bincount(test.labels).tolist() == [2, 2, 2] and np.bincount(train.labels).tolist() == [8, 8, 8]
    index = sorted(train.meta["original_index"] + test.meta["original_index"])
    assert index == list(range(30)) and train.meta["original_index"] == sorted(train.meta["original_index"])
    i = 5
    with Image.open(tmp_path / "mine" / train.meta["files"][i]) as im:  # PNG, native size: exact pixels
        assert np.array_equal(train.images[i], np.asarray(im.convert("RGB")))

    sources.prepare("again", spec, split_folders("again"))
    assert fmt.read_split("prepared/again/test").meta["files"] == test.meta["files"]
    sources.prepare("other", {**spec, "split_seed": 4}, split_folders("other"))
    assert fmt.read_split("prepared/other/test").meta["files"] != test.meta["files"]


def test_imagefolder_with_train_and_test_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image_folder(tmp_path / "mine" / "train", per_class=4, size=(40, 30))
    write_image_folder(tmp_path / "mine" / "test", classes=("dog", "emu"), per_class=2, size=(40, 30))
    sources.prepare("mine", {"source": "imagefolder", "path": "mine", "image_size": 24}, split_folders("mine"))
    train, test = fmt.read_split("prepared/mine/train"), fmt.read_split("prepared/mine/test")
    assert train.images.shape == (12, 24, 24, 3) and test.images.shape == (4, 24, 24, 3)
    assert test.meta["classes"] == ["cat", "dog", "emu"] and test.labels.tolist() == [1, 1, 2, 2]

    write_image_folder(tmp_path / "bad" / "train", classes=("cat",), per_class=1)
    write_image_folder(tmp_path / "bad" / "test", classes=("cow",), per_class=1)
    with pytest.raises(EmbnormError, match=r"classes \['cow'\] have no folder"):
        sources.prepare("bad", {"source": "imagefolder", "path": "bad"}, split_folders("bad"))


def test_npz_source_converts_grayscale_and_floats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)  # grayscale
    x_test = rng.random((3, 8, 8, 3))  # floats in [0, 1]
    np.savez(tmp_path / "mine.npz", x_train=x_train, y_train=np.array([0, 1, 2, 0, 1, 2]), x_test=x_test,
             y_test=np.array([2, 1, 0]), classes=np.array(["a", "b", "c"]))
    sources.prepare("arr", {"source": "npz", "path": "mine.npz"}, split_folders("arr"))
    train, test = fmt.read_split("prepared/arr/train"), fmt.read_split("prepared/arr/test")
    assert train.meta["classes"] == ["a", "b", "c"] and test.labels.tolist() == [2, 1, 0]
    assert np.array_equal(train.images[..., 1], x_train)
    assert np.array_equal(test.images, np.rint(x_test * 255).astype(np.uint8))

    sources.prepare("arr16", {"source": "npz", "path": "mine.npz", "image_size": 16}, split_folders("arr16"))
    assert fmt.read_split("prepared/arr16/train").images.shape == (6, 16, 16, 3)
    np.savez(tmp_path / "bad.npz", x_train=x_train, y_train=np.zeros(6, int))
    with pytest.raises(EmbnormError, match=r"missing arrays \['x_test', 'y_test'\]"):
        sources.prepare("bad", {"source": "npz", "path": "bad.npz"}, split_folders("bad"))
