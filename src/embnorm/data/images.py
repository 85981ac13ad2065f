"""Decoding image files and resizing images to the dataset's square size (bicubic, as the authors' ImageNet loader).

Images are resized to size x size directly, without cropping, as `img.resize((128, 128), Image.BICUBIC)` in the
authors' code. Decoding runs in a few threads: PIL releases the GIL while it decodes and resizes.
"""

from __future__ import annotations

import io as _io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from embnorm.errors import EmbnormError

EXTENSIONS = (".jpg", ".jpeg", ".png")
CHUNK = 1024  # images decoded per batch: bounds the memory held by encoded bytes


def is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(EXTENSIONS)


def to_square(image: Image.Image, size: int) -> np.ndarray:
    """RGB uint8 (size, size, 3); grayscale, palette and alpha images are converted to RGB first."""
    image = image.convert("RGB")
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
