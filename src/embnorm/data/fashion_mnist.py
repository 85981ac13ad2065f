"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 60,000 train and 10,000 test images of 28 x 28 grayscale clothing
articles in 10 classes, from the four IDX files of the official release, in their original order.

The files are `<data_dir>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte`, each plain or gzipped
(`.gz`); Debian's package `dataset-fashion-mnist` installs the gzipped ones in `/usr/share/datasets/fashion-mnist/`,
so `data_dir: /usr/share/datasets` reads them in place. A missing file is downloaded (as `.gz`, checked against the
md5 the release publishes) when the dataset allows downloads.

Every file is verified by the md5 of its *decompressed* content: Debian re-compresses the `.gz` files, so their own
md5s differ from the release's, while the IDX bytes inside are the originals. Before that, each file's IDX structure is
checked (magic number, dimensions, payload length, labels as many as images), so a truncated or foreign file is named
with what is wrong rather than with an md5 alone. A file in place that fails is refused and left where it is (it may
sit in a read-only system folder); nothing is downloaded over it.

Images become RGB by repeating the gray channel and are resized bicubically to `image_size` (default 32, as CIFAR), as
every source does (images.py). URLs and the `.gz` md5s: github.com/zalandoresearch/fashion-mnist, as in
`torchvision.datasets.FashionMNIST`.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embnorm.data import fetch, images
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError, Remote

GROUP = "fashion-mnist"
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
NATIVE_SIZE = 28
DEFAULT_SIZE = 32
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
UBYTE = 0x08  # IDX type code of unsigned bytes, the only type Fashion-MNIST uses


@dataclass(frozen=True)
class IdxFile:
    name: str  # without .gz, e.g. "train-images-idx3-ubyte"
    shape: tuple[int, ...]  # (N, 28, 28) for images, (N,) for labels
    md5: str  # of the decompressed IDX bytes: the check that the release's and Debian's files both pass
    gz_md5: str  # of the release's .gz: checks a download before it is renamed into place
    labels_of: str | None = None  # for a labels file: the images file it labels, one label per image

    @property
    def magic(self) -> int:
        return (UBYTE << 8) | len(self.shape)

    @property
    def size(self) -> int:
        return 4 + 4 * len(self.shape) + int(np.prod(self.shape))

    def remote(self) -> Remote:
        return Remote(GROUP, f"{self.name}.gz", URL + f"{self.name}.gz", self.gz_md5)


FILES = {f.name: f for f in (
    IdxFile("train-images-idx3-ubyte", (60000, NATIVE_SIZE, NATIVE_SIZE), "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    IdxFile("train-labels-idx1-ubyte", (60000,), "9018921c3c673c538a1fc5bad174d6f9",
            "25c81989df183df01b3e8a0aad5dffbe", labels_of="train-images-idx3-ubyte"),
    IdxFile("t10k-images-idx3-ubyte", (10000, NATIVE_SIZE, NATIVE_SIZE), "8181f5470baa50b63fa0f6fddb340f0a",
            "bef4ecab320f06d8554ea6380940ec79"),
    IdxFile("t10k-labels-idx1-ubyte", (10000,), "15d484375f8d13e6eb1aabb0c3f46965",
            "bb300cfdad3c16e7a12a480ee83cd310", labels_of="t10k-images-idx3-ubyte"),
)}
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def folder(spec: dict) -> Path:
    return fetch.data_dir(spec) / GROUP


def locate(name: str, spec: dict) -> Path:
    """The file in place (plain IDX first, else gzipped), or the release's .gz downloaded when the dataset allows."""
    for candidate in (folder(spec) / name, folder(spec) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return fetch.ensure(FILES[name].remote(), spec)


def read_bytes(path: Path) -> bytes:
    """The IDX bytes of `path`, decompressed when it is gzipped (by its magic bytes, whatever its name)."""
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (EOFError, OSError, zlib.error) as e:
        raise DataSourceError(f"{path}: not a readable gzip file ({e}); expected {path.name} of the Fashion-MNIST "
                              f"release ({URL})") from None


def parse(path: Path, data: bytes, expected: IdxFile) -> np.ndarray:
    """The array of an IDX file after checking its magic number, dimensions and payload length against `expected`."""
    what = f"expected {expected.name}, an IDX file of unsigned bytes with shape {expected.shape}"
    if len(data) < 4:
        raise DataSourceError(f"{path}: {len(data)} bytes, too short for an IDX header; {what}")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected.magic:
        raise DataSourceError(f"{path}: magic number is 0x{magic:08x}, expected 0x{expected.magic:08x}; {what}")
    ndim = len(expected.shape)
    if len(data) < 4 + 4 * ndim:
        raise DataSourceError(f"{path}: truncated inside the header ({len(data)} bytes); {what}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if expected.labels_of and shape != expected.shape:
        raise DataSourceError(f"{path}: holds {shape[0]} labels, expected {expected.shape[0]}, one per image of "
                              f"{expected.labels_of}; {what}")
    if shape != expected.shape:
        raise DataSourceError(f"{path}: dimensions are {shape}; {what}")
    payload = len(data) - 4 - 4 * ndim
    if payload != int(np.prod(shape)):
        state = "truncated" if payload < int(np.prod(shape)) else "longer than its header says"
        raise DataSourceError(f"{path}: {state}: {payload} payload bytes, the header's {shape} needs "
                              f"{int(np.prod(shape))}; {what}")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read(name: str, spec: dict) -> tuple[np.ndarray, dict]:
    """One IDX file as an array, checked (structure, then the md5 of its decompressed bytes), and its record."""
    expected = FILES[name]
    path = locate(name, spec)
    data = read_bytes(path)
    array = parse(path, data, expected)
    actual = hashlib.md5(data).hexdigest()
    if actual != expected.md5:
        raise DataSourceError(f"{path}: md5 of the decompressed content is {actual}, expected {expected.md5}; this is "
                              f"not the official {expected.name} (replace it with {expected.remote().url}, or delete "
                              f"it and re-run with downloads allowed)")
    return array, {"name": name, "path": str(path), "url": expected.remote().url, "content_md5": expected.md5}


def read_split(split: str, spec: dict) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """A split's images (N, 28, 28) and labels (N,), and the records of their two files."""
    images_name, labels_name = SPLITS[split]
    pixels, images_rec = read(images_name, spec)
    labels, labels_rec = read(labels_name, spec)
    return pixels, labels.astype(np.int64), [images_rec, labels_rec]


def fetch_raw(spec: dict) -> list[dict]:
    """The four files in place and verified (downloading missing ones if allowed); their downloads.json rows.
    Every missing or wrong file is reported at once, one line each."""
    return fetch.gather(lambda name=name: [read(name, spec)[1]] for name in FILES)


def prepare(dataset: str, spec: dict, out: dict) -> None:
    size = spec.get("image_size", DEFAULT_SIZE)
    for split in ("train", "test"):
        gray, labels, records = read_split(split, spec)
        fmt.write_split(out[split], dataset, split, images.resize_gray(gray, size), labels, CLASSES, "fashion_mnist",
                        original_index=np.arange(len(labels)), extra={"raw": records})
