"""Fashion-MNIST from IDX files that the tests write (the real format: magic number, big-endian dimensions, bytes),
gzipped or plain, and broken ones, each refused in one line naming the file; class subsets and per-class caps for any
source; and, where Debian's dataset-fashion-mnist is installed, the real files (required under CI=true)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import time
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SCHEMA, split_folders, tiny_config, validated
from embnorm.cli import main
from embnorm.config import ConfigError, check_config, check_imbalance_laws, run_table
from embnorm.data import fashion_mnist as fm
from embnorm.data import fetch, images, prepare, sources
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError

REAL = Path("/usr/share/datasets")
REAL_COUNTS = {"train": 6000, "test": 1000}  # images per class


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def idx(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000080<ndim>, each dimension as a big-endian uint32, then the bytes."""
    magic = (0x08 << 8) | array.ndim if magic is None else magic
    return (magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
            + np.ascontiguousarray(array, np.uint8).tobytes())


def tiny_arrays(n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Random 28x28 images; labels 0..9 equally often, shuffled (so 'the first n of a class' is a real choice)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte"] = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return arrays


def write_files(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, array in arrays.items():
        path = folder / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(idx(array)) if gz else idx(array))
        written[name] = path
    return written


def use_test_checksums(monkeypatch, arrays: dict[str, np.ndarray], gz_md5: dict[str, str] | None = None) -> None:
    """The checksum table with this test's files, as the real table carries the release's: shapes and the md5 of
    each file's IDX content (and, for a download, of its .gz)."""
    table = {name: dataclasses.replace(fm.FILES[name], shape=arrays[name].shape,
                                       md5=hashlib.md5(idx(arrays[name])).hexdigest(),
                                       gz_md5=(gz_md5 or {}).get(name, fm.FILES[name].gz_md5))
             for name in fm.FILES}
    monkeypatch.setattr(fm, "FILES", table)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Tiny gzipped files in raw/fashion-mnist/ with their checksums; returns the arrays and the files."""
    arrays = tiny_arrays()
    files = write_files(tmp_path / "raw" / fm.GROUP, arrays, gz=True)
    use_test_checksums(monkeypatch, arrays)
    return arrays, files


SPEC = {"source": "fashion_mnist", "data_dir": "raw", "download": False}


def one_line_error(capsys, *argv: str) -> str:
    """`embnorm argv...` fails with exit 1 and one `embnorm <cmd>: error: ...` line, no traceback."""
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"embnorm {argv[0]}: error: "), err
    return lines[0]


def cli_prepare(dataset: str, spec: dict) -> list[str]:
    folders = split_folders(dataset)
    return ["prepare", "--dataset", dataset, "--spec", json.dumps(spec), "--train", folders["train"], "--test",
            folders["test"]]


# --- good files ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_gzipped_or_plain_are_prepared_in_the_original_order(gz, monkeypatch, tmp_path):
    arrays = tiny_arrays()
    files = write_files(tmp_path / "raw" / fm.GROUP, arrays, gz=gz)
    use_test_checksums(monkeypatch, arrays)
    assert main(cli_prepare("fm", {**SPEC, "image_size": 28})) == 0  # the native size: pixels kept as they are
    train, test = fmt.read_split("prepared/fm/train"), fmt.read_split("prepared/fm/test")
    assert train.images.shape == (40, 28, 28, 3) and test.images.shape == (20, 28, 28, 3)
    for split, prefix in ((train, "train"), (test, "t10k")):
        gray = arrays[f"{prefix}-images-idx3-ubyte"]
        assert np.array_equal(split.images, np.repeat(gray[..., None], 3, axis=3))
        assert split.labels.tolist() == arrays[f"{prefix}-labels-idx1-ubyte"].tolist()
        assert split.meta["original_index"] == list(range(len(gray)))
        expected = [files[f"{prefix}-{kind}"].resolve() for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
        assert [Path(r["path"]).resolve() for r in split.meta["raw"]] == expected
    assert train.meta["classes"] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                     "Sneaker", "Bag", "Ankle boot"]
    assert train.meta["source"] == "fashion_mnist" and train.meta["class_counts"] == [4] * 10


def test_the_default_size_is_32_resized_as_every_source_resizes(tiny):
    arrays, _ = tiny
    sources.prepare("fm", SPEC, split_folders("fm"))
    test = fmt.read_split("prepared/fm/test")
    gray = arrays["t10k-images-idx3-ubyte"]
    assert test.images.shape == (20, 32, 32, 3)
    assert np.array_equal(test.images, images.resize_array(np.repeat(gray[..., None], 3, axis=3), 32))
    assert np.array_equal(images.resize_gray(gray[:3], 40), images.resize_array(
        np.repeat(gray[:3, ..., None], 3, axis=3), 40))


def test_download_records_every_file_and_a_missing_download_is_fetched_and_checked(tiny, monkeypatch):
    arrays, files = tiny
    records = sources.fetch_raw("fm", SPEC)
    assert [r["name"] for r in records] == list(fm.FILES)
    assert [r["content_md5"] for r in records] == [fm.FILES[n].md5 for n in fm.FILES]

    payload = files["t10k-labels-idx1-ubyte"].read_bytes()
    files["t10k-labels-idx1-ubyte"].unlink()
    use_test_checksums(monkeypatch, arrays, {"t10k-labels-idx1-ubyte": hashlib.md5(payload).hexdigest()})
    asked = []

    class Response:
        def __init__(self, data):
            self.data = data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            block, self.data = self.data[:n], self.data[n:]
            return block

    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout: asked.append(url) or Response(payload))
    sources.fetch_raw("fm", {**SPEC, "download": True})
    assert asked == [fm.URL + "t10k-labels-idx1-ubyte.gz"] and files["t10k-labels-idx1-ubyte"].read_bytes() == payload


def test_a_missing_file_offline_names_it_with_its_url(tiny, capsys):
    _, files = tiny
    files["train-labels-idx1-ubyte"].unlink()
    line = one_line_error(capsys, *cli_prepare("fm", SPEC))
    assert "raw/fashion-mnist/train-labels-idx1-ubyte.gz: missing, and downloads are off" in line
    assert fm.URL + "train-labels-idx1-ubyte.gz" in line

    def unreachable(url, timeout):
        raise urllib.error.URLError("no route")

    with pytest.MonkeyPatch.context() as m, pytest.raises(DataSourceError) as error:
        m.setattr(fetch.urllib.request, "urlopen", unreachable)
        sources.prepare("fm", {**SPEC, "download": True}, split_folders("fm"))
    assert "train-labels-idx1-ubyte.gz: missing, and the download failed (no route)" in str(error.value)
    assert len(str(error.value).splitlines()) == 1


# --- broken files: one line each, naming the file and what was expected ----------------------------------------------

def flip_payload_byte(path: Path) -> None:
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[-5] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(data)))


def truncate_gzip(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def truncate_payload(path: Path) -> None:
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))


def wrong_magic(path: Path) -> None:
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress((0x0801).to_bytes(4, "big") + data[4:]))  # a labels magic on an images file


def one_label_short(path: Path) -> None:
    labels = np.frombuffer(gzip.decompress(path.read_bytes())[8:], np.uint8)
    path.write_bytes(gzip.compress(idx(labels[:-1])))


def wrong_dimensions(path: Path) -> None:
    gray = np.frombuffer(gzip.decompress(path.read_bytes())[16:], np.uint8).reshape(-1, 28, 28)
    path.write_bytes(gzip.compress(idx(gray.reshape(-1, 14, 56))))


@pytest.mark.parametrize("name, damage, expected", [
    ("train-images-idx3-ubyte", flip_payload_byte, r"md5 of the decompressed content is [0-9a-f]{32}, expected "
                                                   r"[0-9a-f]{32}; this is not the official train-images-idx3-ubyte"),
    ("t10k-images-idx3-ubyte", truncate_gzip, r"not a readable gzip file .*expected t10k-images-idx3-ubyte.gz"),
    ("t10k-images-idx3-ubyte", truncate_payload, r"truncated: 15580 payload bytes, the header's \(20, 28, 28\) "
                                                 r"needs 15680; expected t10k-images-idx3-ubyte"),
    ("train-images-idx3-ubyte", wrong_magic, r"magic number is 0x00000801, expected 0x00000803; expected "
                                             r"train-images-idx3-ubyte, an IDX file of unsigned bytes"),
    ("t10k-labels-idx1-ubyte", one_label_short, r"holds 19 labels, expected 20, one per image of "
                                                r"t10k-images-idx3-ubyte"),
    ("train-images-idx3-ubyte", wrong_dimensions, r"dimensions are \(40, 14, 56\); expected train-images-idx3-ubyte, "
                                                  r"an IDX file of unsigned bytes with shape \(40, 28, 28\)"),
])
def test_a_broken_file_is_refused_in_one_line_naming_it(tiny, capsys, name, damage, expected):
    _, files = tiny
    damage(files[name])
    line = one_line_error(capsys, *cli_prepare("fm", SPEC))
    assert f"raw/fashion-mnist/{name}.gz: " in line and re.search(expected, line), line
    assert not any(Path("prepared/fm").rglob("*.npy"))  # nothing prepared from a refused file
    assert files[name].exists()  # a file in place is refused, not moved or replaced


def test_a_plain_file_longer_than_its_header_and_a_header_only_file_are_refused(tiny, tmp_path):
    arrays, files = tiny
    files["train-labels-idx1-ubyte"].unlink()
    plain = tmp_path / "raw" / fm.GROUP / "train-labels-idx1-ubyte"
    plain.write_bytes(idx(arrays["train-labels-idx1-ubyte"]) + b"\x00")
    with pytest.raises(DataSourceError, match=r"train-labels-idx1-ubyte: longer than its header says: 41 payload"):
        fm.read("train-labels-idx1-ubyte", SPEC)
    plain.write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataSourceError, match=r"train-labels-idx1-ubyte: 3 bytes, too short for an IDX header"):
        fm.read("train-labels-idx1-ubyte", SPEC)


def test_the_real_checksum_table_is_the_releases():
    """The shapes and md5s the source checks the real files against (the release's README and torchvision)."""
    assert {n: (f.shape, f.md5) for n, f in fm.FILES.items()} == {
        "train-images-idx3-ubyte": ((60000, 28, 28), "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": ((60000,), "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": ((10000, 28, 28), "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": ((10000,), "15d484375f8d13e6eb1aabb0c3f46965")}
    assert fm.FILES["train-images-idx3-ubyte"].size == 47_040_016


# --- class subsets and per-class caps --------------------------------------------------------------------------------

def test_a_class_subset_is_relabelled_in_order_with_its_names_and_the_first_n_per_class(tiny):
    arrays, _ = tiny
    spec = {**SPEC, "classes": [7, 2, 5], "max_train_per_class": 3, "max_test_per_class": 1}
    assert main(cli_prepare("fm", spec)) == 0
    for split, prefix, cap in (("train", "train", 3), ("test", "t10k", 1)):
        got = fmt.read_split(f"prepared/fm/{split}")
        source = arrays[f"{prefix}-labels-idx1-ubyte"]
        rows = sorted(i for c in (7, 2, 5) for i in np.flatnonzero(source == c)[:cap])
        assert got.meta["original_index"] == rows  # the first `cap` of each class, in the source's order
        assert got.labels.tolist() == [{7: 0, 2: 1, 5: 2}[source[i]] for i in rows]
        assert np.array_equal(got.images, images.resize_gray(arrays[f"{prefix}-images-idx3-ubyte"][rows], 32))
        assert got.meta["classes"] == ["Sneaker", "Pullover", "Sandal"] and got.meta["class_counts"] == [cap] * 3
        subset = got.meta["subset"]
        assert subset["classes"] == [7, 2, 5] and subset["max_per_class"] == cap and len(subset["source_classes"]) == 10
        assert [(a["source_label"], a["available"], a["kept"]) for a in subset["audit"]] == [
            (c, int((source == c).sum()), cap) for c in (7, 2, 5)]
        assert got.meta["raw"][0]["name"] == f"{prefix}-images-idx3-ubyte"  # the source's own records are kept


def test_a_cap_alone_keeps_every_class_and_a_class_smaller_than_the_cap_keeps_all(tmp_path):
    """Any source: a synthetic dataset capped, its per-image records (`structure`) kept row for row."""
    spec = {"source": "synthetic", "synthetic": {"n_train": 60, "n_test": 20, "classes": 3}, "max_train_per_class": 5,
            "max_test_per_class": 100}
    prepare.prepare("syn", spec, split_folders("syn"))
    full_spec = {k: v for k, v in spec.items() if not k.startswith("max_")}
    prepare.prepare("full", full_spec, split_folders("full"))
    full, capped = fmt.read_split("prepared/full/train"), fmt.read_split("prepared/syn/train")
    rows = capped.meta["original_index"]
    assert capped.meta["class_counts"] == [5, 5, 5] and capped.meta["classes"] == full.meta["classes"]
    assert rows == sorted(i for c in range(3) for i in np.flatnonzero(full.labels == c)[:5])
    assert np.array_equal(capped.images, full.images[rows]) and capped.labels.tolist() == full.labels[rows].tolist()
    assert capped.meta["structure"]["mode"] == [full.meta["structure"]["mode"][i] for i in rows]
    test = fmt.read_split("prepared/syn/test")
    assert test.meta["n"] == 20 and [a["kept"] for a in test.meta["subset"]["audit"]] == test.meta["class_counts"]


def test_classes_the_source_lacks_are_refused_in_one_line(capsys, tmp_path):
    rng = np.random.default_rng(0)
    np.savez("d.npz", x_train=rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8), y_train=np.array([0, 1, 2] * 2),
             x_test=rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8), y_test=np.array([0, 1, 2]))
    line = one_line_error(capsys, *cli_prepare("pets", {"source": "npz", "path": "d.npz", "classes": [2, 3]}))
    assert "datasets.pets.classes: [3] are not labels of the source, whose 3 classes are 0..2" in line
    assert not Path("prepared/pets/train/images.npy").exists()


def fmnist_config(**datasets) -> dict:
    config = tiny_config()
    config["datasets"].update(datasets)
    config["grid"]["dataset"] = ["fm_id"]
    return validated(config)


def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as e:
        check_config(config, run_table(config))
    return str(e.value)


FM_ID = {"source": "fashion_mnist", "classes": [0, 1, 2, 3, 4], "max_train_per_class": 1000, "ood": "fm_ood"}
FM_OOD = {"source": "fashion_mnist", "classes": [5, 6, 7, 8, 9]}


def test_config_checks_of_subsets_before_planning():
    config = fmnist_config(fm_id=FM_ID, fm_ood=FM_OOD)
    check_config(config, run_table(config))  # disjoint classes of one source: a valid OOD partner
    assert "'fm_ood' reads the same fashion_mnist images as fm_id and keeps labels [4] of its classes" in \
        config_error(fmnist_config(fm_id=FM_ID, fm_ood={**FM_OOD, "classes": [4, 5, 6]}))
    whole = fmnist_config(fm_id={"source": "fashion_mnist", "ood": "fm_ood"}, fm_ood={"source": "fashion_mnist"})
    assert "'fm_ood' reads the same fashion_mnist images as fm_id and keeps every class" in config_error(whole)
    assert "datasets.fm_id.classes: [10] are not labels of fashion_mnist, whose 10 classes are 0..9" in \
        config_error(fmnist_config(fm_id={**FM_ID, "classes": [0, 10]}, fm_ood=FM_OOD))
    cifar = {"source": "cifar10", "human_labels": "cifar10n", "max_test_per_class": 5}
    config = fmnist_config(fm_id=FM_ID, fm_ood=FM_OOD, c10=cifar)
    assert "datasets.c10: human_labels 'cifar10n' follow every class and image" in config_error(config)


def test_the_schema_documents_the_keys_and_a_derived_dataset_cannot_subset():
    import yaml

    keys = yaml.safe_load(SCHEMA.read_text())["properties"]["datasets"]["additionalProperties"]["properties"]
    for key in ("classes", "max_train_per_class", "max_test_per_class"):
        assert len(keys[key]["description"]) > 40
    assert "fashion_mnist" in keys["source"]["enum"]
    with pytest.raises(Exception, match="oneOf|is not valid"):
        derived = {"parent": "fm_id", "imbalance": {"base": 2}, "classes": [0, 1]}
        fmnist_config(fm_id=FM_ID, fm_ood=FM_OOD, fm_imb=derived)
    with pytest.raises(Exception, match="minItems|too short|non-unique|unique"):
        fmnist_config(fm_id={**FM_ID, "classes": [3]}, fm_ood=FM_OOD)


def test_an_imbalance_law_is_checked_over_the_subsets_classes():
    """CIFAR-10's max/min ratio (5000/130, about 38) over 5 classes of 1,000: base 38^(1/4), about 2.48. Over all 10
    Fashion-MNIST classes that law would empty classes; over the subset's 5 it keeps every class."""
    law = {"parent": "fm_id", "imbalance": {"base": 2.48, "n_max": 1000}}
    check_imbalance_laws(fmnist_config(fm_id=FM_ID, fm_ood=FM_OOD, fm_imb=law))
    whole = {k: v for k, v in FM_ID.items() if k != "classes"}
    with pytest.raises(ConfigError, match="over 10 classes leaves class"):
        check_imbalance_laws(fmnist_config(fm_id=whole, fm_ood=FM_OOD, fm_imb=law))


def test_a_prepared_subset_trains_one_epoch(tiny, tmp_path):
    from helpers.training import tiny_params

    from embnorm.train.loop import train

    spec = {**SPEC, "classes": [0, 1, 2, 3, 4]}
    prepare.prepare("fm", spec, split_folders("fm"))
    params = tiny_params(epochs=1, knn_k=3)
    train(params, fmt.read_split("prepared/fm/train"), fmt.read_split("prepared/fm/test"), None,
          checkpoint_path=tmp_path / "checkpoint.pt", resume_path=tmp_path / "resume.pt",
          metrics_path=tmp_path / "metrics.tsv")
    metrics = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert metrics.epoch.tolist() == [0, 1] and metrics.knn_acc.between(0, 1).all()


# --- the real files --------------------------------------------------------------------------------------------------

def real_files_or_skip() -> None:
    """Skip, saying why, without Debian's dataset-fashion-mnist; under CI=true fail instead: CI installs it."""
    folder = REAL / fm.GROUP
    missing = [n for n in fm.FILES if not (folder / n).is_file() and not (folder / f"{n}.gz").is_file()]
    if missing:
        why = (f"{folder} lacks {missing}: the real Fashion-MNIST files come from Debian's package "
               "dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI=true requires them (.ci/run installs the package)")
        pytest.skip(why)


@pytest.mark.slow
def test_the_real_files_pass_the_checksums_and_have_6000_and_1000_images_per_class(capsys):
    real_files_or_skip()
    spec = {"source": "fashion_mnist", "data_dir": str(REAL), "download": False}
    records = sources.fetch_raw("fm", spec)
    assert [r["content_md5"] for r in records] == [f.md5 for f in fm.FILES.values()]
    start = time.perf_counter()
    assert main(cli_prepare("fm", spec)) == 0
    seconds = time.perf_counter() - start
    for split, per_class in REAL_COUNTS.items():
        got = fmt.read_split(f"prepared/fm/{split}")
        assert got.meta["class_counts"] == [per_class] * 10 and got.images.shape[1:] == (32, 32, 3)
        assert got.meta["classes"][0] == "T-shirt/top" and got.meta["classes"][9] == "Ankle boot"
    with capsys.disabled():
        print(f"\nprepared the real Fashion-MNIST (70,000 images at 32 px) in {seconds:.1f} s")
