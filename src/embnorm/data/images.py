"""Decoding image files and resizing images to the dataset's square size (bicubic, as the authors' ImageNet loader).

Images are resized to size x size directly, without cropping, as `img.resize((128, 128), Image.BICUBIC)` in the
authors' code. Decoding runs in a few threads: PIL releases the GIL while it decodes and resizes.
"""

from __future__ import annotations

import io as _io
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from embnorm.errors import EmbnormError

CHUNK = 1024  # images decoded per batch: bounds the memory held by encoded bytes
# Formats PIL identifies but does not decode by itself: EPS needs Ghostscript, WMF/EMF decode only on Windows, and
# BUFR, GRIB, HDF5 and MPEG are stubs that need a handler. Their files are skipped as not images, rather than stopping
# the job with an undecodable "image" (an `.h5` file beside the images is data of another kind).
NOT_DECODED = {"EPS", "WMF", "BUFR", "GRIB", "HDF5", "MPEG"}


def _extensions() -> tuple[str, ...]:
    """Every file extension of a format this PIL build can decode (JPEG, PNG, WebP, BMP, GIF, TIFF, PPM, ...)."""
    Image.init()
    return tuple(sorted(ext for ext, name in Image.registered_extensions().items()
                        if name in Image.OPEN and name not in NOT_DECODED))


EXTENSIONS = _extensions()


def skip_reason(name: str) -> str | None:
    """Why a file is not read as an image ('hidden file', 'not an image format PIL reads (.txt)'); None for an
    image."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("."):
        return "hidden file"
    if not base.lower().endswith(EXTENSIONS):
        suffix = os.path.splitext(base)[1].lower()
        return f"not an image format PIL reads ({suffix or 'no extension'})"
    return None


def is_image(name: str) -> bool:
    return skip_reason(name) is None


def report_skipped(where: str, reasons: list[str]) -> None:
    """One line on stderr (the job's log) for a class folder whose entries were not all read: how many, and why (a
    hidden folder counts once, whatever it holds)."""
    if reasons:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(Counter(reasons).items()))
        print(f"embnorm: {where}: skipped {len(reasons)} ({detail})", file=sys.stderr)


HIGH_BIT_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535}  # PIL mode -> full scale


def to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit grayscale image (PNG loads as mode I;16 or I) scaled to 8 bits: value * 255 / 65535, rounded.
    PIL's own convert("RGB") clips such values at 255, which turns most of a 16-bit image white. (16-bit RGB PNGs
    PIL already reduces to 8 bits per channel when it decodes them.)"""
    full = HIGH_BIT_MODES.get(image.mode)
    if full is None:
        return image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.rint(np.clip(values, 0, full) * (255 / full)).astype(np.uint8), mode="L")


def to_square(image: Image.Image, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3); 16-bit images are scaled to 8 bits, and grayscale, palette and alpha images are
    converted to RGB."""
    image = to_8bit(image).convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def decode(source: bytes | Path, size: int, where: str) -> np.ndarray:
    try:
        with Image.open(_io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            return to_square(image, size)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise EmbnormError(f"{where}: not a readable image ({e})") from None


def decode_all(names: Sequence[str], read: Callable[[str], bytes | Path], size: int, where: str) -> np.ndarray:
    """Decode `names` (read with `read`) into one uint8 (N, size, size, 3) array, in the order given."""
    out = np.empty((len(names), size, size, 3), np.uint8)
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            sources = [read(n) for n in chunk]
            decoded = pool.map(lambda a: decode(a[0], size, f"{where}/{a[1]}"), zip(sources, chunk))
            for i, image in enumerate(decoded, start):
                out[i] = image
    return out


def resize_array(images: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 (N, H, W, 3) array to (N, size, size, 3); a no-op when it already has that size."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, image in enumerate(images):
        out[i] = to_square(Image.fromarray(image), size)
    return out


def resize_gray(gray: np.ndarray, size: int) -> np.ndarray:
    """Grayscale uint8 (N, H, W) as RGB (N, size, size, 3): each image resized as `resize_array` does, on its one
    channel, then repeated to three. Bicubic resampling treats channels alike, so this equals `resize_array` of the
    repeated images, with a third of the resampling work."""
    out = np.empty((len(gray), size, size), np.uint8)
    for i, image in enumerate(gray):
        pil = Image.fromarray(image)  # 2-D uint8: mode L
        out[i] = np.asarray(pil if pil.size == (size, size) else pil.resize((size, size), Image.BICUBIC))
    return np.repeat(out[..., None], 3, axis=3)
