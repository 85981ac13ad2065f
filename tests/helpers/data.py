"""Image files and archives that the data-source tests read: a Tiny-ImageNet-200 zip of random JPEGs."""

from __future__ import annotations

import io as _io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(rng, size: tuple[int, int], fmt_: str = "JPEG", mode: str = "RGB") -> bytes:
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = _io.BytesIO()
    image.save(buffer, format=fmt_)
    return buffer.getvalue()


WNIDS = ["n02124075", "n01443537", "n09246464"]  # wnids.txt is not sorted in the real archive either


VAL = [("val_3.JPEG", "n09246464"), ("val_0.JPEG", "n01443537"), ("val_2.JPEG", "n02124075"),
       ("val_1.JPEG", "n09246464"), ("val_4.JPEG", "n01443537")]


def write_tiny_zip(path: Path, per_class: int = 11) -> None:
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = "tiny-imagenet-200/"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(top + "wnids.txt", "\n".join(WNIDS) + "\n")
        z.writestr(top + "words.txt", "n01443537\tgoldfish, Carassius auratus\nn02124075\tEgyptian cat\n"
                                      "n09246464\tcliff, drop, drop-off\nn00000001\tunused\n")
        for wnid in WNIDS:
            z.writestr(f"{top}train/{wnid}/{wnid}_boxes.txt", "")
            for k in range(per_class):
                mode = "L" if k == 0 else "RGB"  # Tiny-ImageNet has some grayscale JPEGs
                z.writestr(f"{top}train/{wnid}/images/{wnid}_{k}.JPEG", image_bytes(rng, (64, 64), mode=mode))
        z.writestr(top + "val/val_annotations.txt", "".join(f"{f}\t{w}\t0\t0\t63\t63\n" for f, w in VAL))
        for file, _ in VAL:
            z.writestr(f"{top}val/images/{file}", image_bytes(rng, (64, 64)))
        z.writestr(top + "test/images/test_0.JPEG", image_bytes(rng, (64, 64)))
