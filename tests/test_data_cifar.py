"""CIFAR from archives in the real python-version layout that the tests write (pickled batches in a .tar.gz), and the
download rules: a file in place is used without network, a missing one offline is one clear error, a wrong md5 is
kept aside."""

from __future__ import annotations

import dataclasses
import hashlib
import io as _io
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from conftest import split_folders
from embnorm import paths
from embnorm.data import cifar, fetch, sources
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError, Remote

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _batch(rng, n, label_key, classes, extra_key=None):
    batch = {b"batch_label": b"testing batch", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             label_key: rng.integers(0, classes, n).tolist(), b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    if extra_key:
        batch[extra_key] = rng.integers(0, 20, n).tolist()
    return batch


def write_cifar10_files(folder: Path, per_batch: int = 7, n_test: int = 5, seed: int = 0) -> dict[str, dict]:
    """A tiny cifar-10-batches-py: the real member names and pickled dict layout, random pixels and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    batches = {f"data_batch_{i}": _batch(rng, per_batch, b"labels", 10) for i in range(1, 6)}
    batches["test_batch"] = _batch(rng, n_test, b"labels", 10)
    batches["batches.meta"] = {b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_cases_per_batch": per_batch,
                               b"num_vis": 3072}
    for name, content in batches.items():
        (folder / name).write_bytes(pickle.dumps(content, protocol=2))
    (folder / "readme.html").write_text("<html></html>")
    return batches


def pack(folder: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def use_test_checksums(monkeypatch, source: str, archive: Path, folder: Path) -> cifar.CifarLayout:
    """The layout with the md5s of the files this test wrote, as the real layout carries torchvision's."""
    real = cifar.LAYOUTS[source]
    layout = dataclasses.replace(real, remote=dataclasses.replace(real.remote, md5=md5(archive)),
                                 members={m: md5(folder / m) for m in real.members})
    monkeypatch.setitem(cifar.LAYOUTS, source, layout)
    return layout


def hwc(row: np.ndarray) -> np.ndarray:
    """One CIFAR row (R plane, G plane, B plane) as a 32x32x3 image, written out pixel by pixel."""
    out = np.empty((32, 32, 3), np.uint8)
    for y in range(32):
        for x in range(32):
            out[y, x] = row[y * 32 + x], row[1024 + y * 32 + x], row[2048 + y * 32 + x]
    return out


@pytest.fixture
def cifar10_archive(tmp_path, monkeypatch):
    """A tiny CIFAR-10 archive pre-placed at resources/downloads/cifar10/, with its md5s; cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "build" / "cifar-10-batches-py"
    batches = write_cifar10_files(folder)
    archive = tmp_path / paths.DOWNLOADS / "cifar10" / "cifar-10-python.tar.gz"
    pack(folder, archive)
    layout = use_test_checksums(monkeypatch, "cifar10", archive, folder)
    return archive, batches, layout


def test_cifar10_archive_is_prepared_in_the_original_order_without_network(cifar10_archive):
    archive, batches, _ = cifar10_archive
    sources.prepare("c10", {"source": "cifar10", "download": False}, split_folders("c10"))
    train, test = fmt.read_split("prepared/c10/train"), fmt.read_split("prepared/c10/test")
    rows = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    labels = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert train.images.shape == (35, 32, 32, 3) and test.images.shape == (5, 32, 32, 3)
    assert train.labels.tolist() == labels and test.labels.tolist() == batches["test_batch"][b"labels"]
    for i in (0, 8, 34):  # first batch, second batch, last batch
        assert np.array_equal(train.images[i], hwc(rows[i]))
    assert np.array_equal(test.images[4], hwc(batches["test_batch"][b"data"][4]))
    assert train.meta["original_index"] == list(range(35)) and train.meta["classes"] == CIFAR10_NAMES
    assert Path(train.meta["raw"]["path"]).resolve() == archive and train.meta["source"] == "cifar10"


def test_an_extracted_folder_in_place_is_used_and_its_members_are_checked(cifar10_archive, tmp_path):
    archive, batches, _ = cifar10_archive
    archive.unlink()
    folder = tmp_path / paths.DOWNLOADS / "cifar10" / "cifar-10-batches-py"
    (tmp_path / "build" / "cifar-10-batches-py").rename(folder)
    sources.prepare("c10", {"source": "cifar10", "download": False}, split_folders("c10"))
    assert fmt.read_split("prepared/c10/train").labels.tolist()[:7] == batches["data_batch_1"][b"labels"]

    data = bytearray((folder / "data_batch_3").read_bytes())
    data[-10] ^= 0xFF
    (folder / "data_batch_3").write_bytes(bytes(data))
    with pytest.raises(DataSourceError, match=r"data_batch_3: md5 is [0-9a-f]{32}, expected"):
        sources.prepare("c10", {"source": "cifar10", "download": False}, split_folders("c10"))


def test_image_size_resizes_cifar(cifar10_archive):
    sources.prepare("c10big", {"source": "cifar10", "download": False, "image_size": 40}, split_folders("c10big"))
    assert fmt.read_split("prepared/c10big/test").images.shape == (5, 40, 40, 3)


def test_cifar100_layout_with_fine_and_coarse_labels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    folder = tmp_path / "build" / "cifar-100-python"
    folder.mkdir(parents=True)
    content = {"train": _batch(rng, 12, b"fine_labels", 100, b"coarse_labels"),
               "test": _batch(rng, 4, b"fine_labels", 100, b"coarse_labels"),
               "meta": {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}}
    for name, value in content.items():
        (folder / name).write_bytes(pickle.dumps(value, protocol=2))
    archive = tmp_path / paths.DOWNLOADS / "cifar100" / "cifar-100-python.tar.gz"
    pack(folder, archive)
    use_test_checksums(monkeypatch, "cifar100", archive, folder)
    sources.prepare("c100", {"source": "cifar100", "download": False}, split_folders("c100"))
    train = fmt.read_split("prepared/c100/train")
    assert train.labels.tolist() == content["train"][b"fine_labels"] and train.num_classes == 100
    assert train.meta["coarse_labels"] == content["train"][b"coarse_labels"]
    assert train.meta["coarse_classes"][19] == "coarse19"


def test_a_corrupted_archive_is_moved_aside_with_an_md5_error(cifar10_archive):
    archive, _, layout = cifar10_archive
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(DataSourceError) as error:
        sources.prepare("c10", {"source": "cifar10", "download": False}, split_folders("c10"))
    message = str(error.value)
    assert f"md5 is {hashlib.md5(bytes(data)).hexdigest()}, expected {layout.remote.md5}" in message
    assert "cifar-10-python.tar.gz.bad-md5" in message and layout.remote.url in message
    assert not archive.exists() and archive.with_name(archive.name + ".bad-md5").read_bytes() == bytes(data)

    with pytest.raises(DataSourceError, match="missing, and downloads are off"):  # next time: missing, not a loop
        sources.prepare("c10", {"source": "cifar10", "download": False}, split_folders("c10"))


def test_a_missing_file_offline_names_file_url_md5_and_destination(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataSourceError) as error:
        sources.prepare("c10", {"source": "cifar10", "download": False, "data_dir": "raw"}, split_folders("c10"))
    message = str(error.value)
    for part in ("raw/cifar10/cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                 "c58f30108f718f92721af3b95e74349a", "download: false"):
        assert part in message
    assert len(message.splitlines()) == 1

    with pytest.raises(DataSourceError) as error:  # every missing file of the dataset at once, one line each
        sources.fetch_raw("c10", {"source": "cifar10", "human_labels": "cifar10n", "download": False})
    lines = str(error.value).splitlines()
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in lines] == [
        "cifar-10-python.tar.gz", "CIFAR-10_human.pt", "cifar10h-counts.npy", "cifar10h-probs.npy"]


class FakeResponse(_io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_verified_then_renamed_into_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = b"label file bytes"
    remote = Remote("grp", "file.npy", "https://example.invalid/file.npy", hashlib.md5(payload).hexdigest())
    asked = []
    monkeypatch.setattr(fetch.urllib.request, "urlopen",
                        lambda url, timeout: asked.append(url) or FakeResponse(payload))
    path = fetch.ensure(remote, {})
    assert path == Path(paths.DOWNLOADS) / "grp" / "file.npy" and path.read_bytes() == payload
    assert fetch.ensure(remote, {}) == path and asked == [remote.url]  # in place: no second download
    assert [p.name for p in path.parent.iterdir()] == ["file.npy"]

    wrong = dataclasses.replace(remote, name="other.npy", md5="0" * 32)
    with pytest.raises(DataSourceError, match=r"other.npy: md5 is .* moved aside to .*other.npy.bad-md5"):
        fetch.ensure(wrong, {})
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.npy", "other.npy.bad-md5"]


def test_an_unreachable_network_gives_the_same_one_line_instructions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(DataSourceError) as error:
        sources.fetch_raw("c10", {"source": "cifar10"})
    message = str(error.value)
    assert "the download failed (Name or service not known)" in message
    assert "c58f30108f718f92721af3b95e74349a" in message and "cifar10/cifar-10-python.tar.gz" in message
    assert not list((tmp_path / paths.DOWNLOADS / "cifar10").iterdir())  # no partial file left


def test_the_pickle_reader_refuses_anything_but_numpy_arrays():
    from embnorm.data.pickles import load_cifar_batch
    from embnorm.errors import EmbnormError

    class Sneaky:
        def __reduce__(self):
            return (print, ("this must not run",))

    with pytest.raises(EmbnormError, match=r"refused global \w+\.print"):
        load_cifar_batch(pickle.dumps({"data": Sneaky()}, protocol=2), "test")
