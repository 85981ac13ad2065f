"""Folders of images as a careless or hostile user leaves them: links out of the dataset, hidden folders of thumbnails,
images in formats other than JPEG and PNG, stray files. Every tree reader (Tiny-ImageNet's extracted folder,
ImageNet-100 and imagefolder class folders) walks them the same way (embnorm.data.trees.walk)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from embnorm.data import folders, imagenet100, tinyimagenet
from embnorm.data.trees import FolderTree
from embnorm.errors import EmbnormError
from helpers.data import WNIDS, write_tiny_zip


def save(path: Path, fmt: str = "PNG", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def tiny_folder(tmp_path: Path) -> Path:
    archive = tmp_path / "t.zip"
    write_tiny_zip(archive, per_class=2)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "x")
    return tmp_path / "x" / "tiny-imagenet-200"


def test_tinyimagenet_refuses_a_file_link_out_of_the_folder(tmp_path):
    folder = tiny_folder(tmp_path)
    outside = save(tmp_path / "elsewhere" / "secret.JPEG", "JPEG")
    link = folder / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_9.JPEG"
    link.symlink_to(outside)
    with pytest.raises(EmbnormError, match=f"{link}: a link to {outside}, outside the dataset's folder"):
        tinyimagenet.index(FolderTree(folder))


def test_tinyimagenet_refuses_a_folder_link_out_of_the_folder(tmp_path):
    folder = tiny_folder(tmp_path)
    save(tmp_path / "elsewhere" / f"{WNIDS[0]}_7.JPEG", "JPEG")
    link = folder / "train" / WNIDS[0] / "more"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(EmbnormError, match=f"{link}: a link to .*elsewhere, outside the dataset's folder"):
        FolderTree(folder).names()


def test_tinyimagenet_leaves_out_hidden_files_and_folders(tmp_path):
    folder = tiny_folder(tmp_path)
    save(folder / "val" / "images" / ".thumbnails" / "val_9.png")
    save(folder / "train" / WNIDS[0] / "images" / f".{WNIDS[0]}_5.JPEG", "JPEG")
    names = FolderTree(folder).names()
    assert not [n for n in names if "/." in n]
    found = tinyimagenet.index(FolderTree(folder))  # val: as many images as annotations, the thumbnail left out
    assert [len(found["train"][w]) for w in WNIDS] == [2, 2, 2]


def test_imagefolder_prunes_hidden_folders(tmp_path):
    for k in range(2):
        save(tmp_path / "apple" / f"{k}.png", seed=k)
        save(tmp_path / "apple" / ".thumbnails" / f"{k}.png", seed=k)
    assert folders.class_files(tmp_path, "apple") == ["apple/0.png", "apple/1.png"]


@pytest.mark.parametrize("fmt, suffix", [("WEBP", ".webp"), ("BMP", ".bmp"), ("GIF", ".gif"), ("TIFF", ".tif"),
                                         ("TIFF", ".tiff"), ("PPM", ".ppm"), ("JPEG", ".JPG")])
def test_every_format_pil_decodes_is_read(tmp_path, fmt, suffix):
    save(tmp_path / "apple" / "0.png")
    save(tmp_path / "apple" / f"1{suffix}", fmt, seed=1)
    files, labels = folders.scan(tmp_path, ["apple"])
    assert files == ["apple/0.png", f"apple/1{suffix}"]
    pixels = folders.images.decode_all(files, lambda n: tmp_path / n, 8, str(tmp_path))
    assert pixels.shape == (2, 8, 8, 3)


def test_skipped_files_are_counted_per_class_with_the_reason(tmp_path, capsys):
    save(tmp_path / "apple" / "0.png")
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    (tmp_path / "apple" / "data.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    (tmp_path / "apple" / ".DS_Store").write_bytes(b"\0")
    save(tmp_path / "apple" / ".thumbnails" / "0.png")
    save(tmp_path / "pear" / "0.png")
    assert folders.class_files(tmp_path, "apple") == ["apple/0.png"]
    assert folders.class_files(tmp_path, "pear") == ["pear/0.png"]
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"embnorm: {tmp_path / 'apple'}: skipped 4 (1 hidden file, 1 hidden folder, "
                     "1 not an image format PIL reads (.h5), 1 not an image format PIL reads (.txt))"]


def test_tinyimagenet_counts_skipped_train_files(tmp_path, capsys):
    folder = tiny_folder(tmp_path)
    (folder / "train" / WNIDS[1] / "images" / "readme.txt").write_text("x")
    tinyimagenet.index(FolderTree(folder))
    assert f"train/{WNIDS[1]}/images: skipped 1 (1 not an image format PIL reads (.txt))" in capsys.readouterr().err


def test_imagenet100_prunes_hidden_folders_and_refuses_links_out(tmp_path, monkeypatch):
    monkeypatch.setattr(imagenet100, "class_list", lambda: ["n01", "n02"])
    for split in ("train", "val"):
        for wnid in ("n01", "n02"):
            save(tmp_path / split / wnid / f"{wnid}_0.JPEG", "JPEG")
    save(tmp_path / "train" / "n01" / ".cache" / "n01_1.JPEG", "JPEG")
    files, _ = folders.scan(tmp_path / "train", imagenet100.class_list())
    assert files == ["n01/n01_0.JPEG", "n02/n02_0.JPEG"]
    (tmp_path / "train" / "n02" / "n02_1.JPEG").symlink_to(tmp_path / "val" / "n02" / "n02_0.JPEG")
    with pytest.raises(EmbnormError, match="n02_1.JPEG: a link to .*, outside its class folder"):
        folders.scan(tmp_path / "train", imagenet100.class_list())
