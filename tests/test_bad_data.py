"""Bad data never passes silently (issue 12): each case builds its tiny input, and expects either one error line that
names the dataset, the key or file, what was found and what is expected (no traceback), or the correct result where
one exists. The standalone CLI is run in-process (`embnorm.cli.main`), as the workflow's jobs run it."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import split_folders, tiny_config, validated
from embnorm import io, paths
from embnorm.cli import main
from embnorm.config import ConfigError, check_config, run_table
from embnorm.data import format as fmt


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def one_line_error(capsys, *argv: str) -> str:
    """Run `embnorm argv...`; it must fail with exit 1 and one `embnorm <cmd>: error: ...` line, no traceback."""
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if "UserWarning" not in line and "return Unpickler" not in line]
    assert len(lines) == 1 and lines[0].startswith(f"embnorm {argv[0]}: error: "), err
    return lines[0]


def folder_args(dataset: str) -> list[str]:
    """`--train DIR --test DIR`: where the commands write and read the dataset's prepared splits (split_folders)."""
    folders = split_folders(dataset)
    return ["--train", folders["train"], "--test", folders["test"]]


def prepare(capsys, dataset: str, spec: dict) -> str:
    return one_line_error(capsys, "prepare", "--dataset", dataset, "--spec", json.dumps(spec), *folder_args(dataset))


def prepared(dataset: str, spec: dict) -> None:
    assert main(["prepare", "--dataset", dataset, "--spec", json.dumps(spec), *folder_args(dataset)]) == 0


def save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def image_folder(root: Path, classes=("apple", "pear"), per_class: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name in classes:
        for k in range(per_class):
            save_png(root / name / f"{k}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return root


def write_npz(path: str, y_train, y_test, size: int = 8, **extra) -> str:
    rng = np.random.default_rng(0)
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    np.savez(path, x_train=rng.integers(0, 256, (len(y_train), size, size, 3), dtype=np.uint8), y_train=y_train,
             x_test=rng.integers(0, 256, (len(y_test), size, size, 3), dtype=np.uint8), y_test=y_test, **extra)
    return path


NPZ = {"source": "npz", "path": "d.npz"}


# --- image folders ---------------------------------------------------------------------------------------------------

def test_a_symlink_loop_in_a_class_folder_is_an_error_not_more_images(capsys):
    root = image_folder(Path("data"))
    (root / "apple" / "again").symlink_to(Path("data/apple").resolve(), target_is_directory=True)
    line = prepare(capsys, "fruit", {"source": "imagefolder", "path": "data"})
    assert "data/apple/again" in line and "loop" in line
    assert not Path("prepared/fruit/train/meta.json").exists()


def test_a_symlink_out_of_its_class_folder_is_an_error(capsys):
    root = image_folder(Path("data"))
    (root / "apple" / "stolen.png").symlink_to((root / "pear" / "0.png").resolve())
    line = prepare(capsys, "fruit", {"source": "imagefolder", "path": "data"})
    assert "data/apple/stolen.png" in line and "outside its class folder" in line


@pytest.mark.parametrize("link, target, expected", [
    ("apple/sub/up", "apple", "loop"),  # a loop through a subfolder
    ("apple/twin", "apple/sub", "the same file as"),  # the same folder twice inside one class
    ("plum", "pear", "the same file as"),  # a class folder that is another class's folder
])
def test_links_that_would_count_an_image_twice_are_errors(capsys, link, target, expected):
    root = image_folder(Path("data"))
    image_folder(root / "apple" / "sub", classes=("x",), seed=2)
    (root / link).symlink_to((root / target).resolve(), target_is_directory=True)
    line = prepare(capsys, "fruit", {"source": "imagefolder", "path": "data"})
    assert expected in line and "data/" in line


def test_a_class_folder_that_is_a_link_is_read():
    image_folder(Path("elsewhere"), classes=("pear",))
    root = image_folder(Path("data"), classes=("apple",))
    (root / "pear").symlink_to(Path("elsewhere/pear").resolve(), target_is_directory=True)
    prepared("fruit", {"source": "imagefolder", "path": "data"})
    train, test = fmt.read_split("prepared/fruit/train"), fmt.read_split("prepared/fruit/test")
    assert len(train.labels) + len(test.labels) == 8 and train.meta["classes"] == ["apple", "pear"]


def test_train_and_val_folders_are_the_train_and_test_splits():
    image_folder(Path("data/train"), per_class=4)
    image_folder(Path("data/val"), per_class=2, seed=1)
    prepared("fruit", {"source": "imagefolder", "path": "data"})
    train, test = fmt.read_split("prepared/fruit/train"), fmt.read_split("prepared/fruit/test")
    assert train.meta["classes"] == test.meta["classes"] == ["apple", "pear"]
    assert train.labels.tolist() == [0] * 4 + [1] * 4 and test.labels.tolist() == [0, 0, 1, 1]
    assert test.meta["files"][0] == "apple/0.png" and test.meta["root"] == "data/val"


def test_split_folders_without_a_pair_are_refused_with_the_fix(capsys):
    image_folder(Path("data/train"))
    image_folder(Path("data/valid"), seed=1)
    line = prepare(capsys, "fruit", {"source": "imagefolder", "path": "data"})
    assert "look like split folders" in line and "train/ together with test/ (or val/)" in line


def test_16_bit_pngs_are_scaled_not_clipped():
    for name, value in (("dark", 10000), ("bright", 50000)):
        for k in range(3):
            path = Path("data") / name / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), value, np.uint16)).save(path)
            assert Image.open(path).mode.startswith("I")  # really a 16-bit image
    spec = {"source": "imagefolder", "path": "data", "test_fraction": 0.34}
    prepared("gray", spec)
    train = fmt.read_split("prepared/gray/train")
    by_class = {train.meta["classes"][c]: np.unique(train.images[train.labels == c]).tolist() for c in (0, 1)}
    assert by_class == {"bright": [round(50000 * 255 / 65535)], "dark": [round(10000 * 255 / 65535)]}


# --- npz arrays ------------------------------------------------------------------------------------------------------

def test_npz_class_names_stored_as_bytes_are_decoded():
    write_npz("d.npz", [0, 1, 0, 1], [0, 1], classes=np.array([b"cat", b"dog"]))
    prepared("pets", NPZ)
    assert fmt.read_split("prepared/pets/train").meta["classes"] == ["cat", "dog"]


def test_class_names_that_are_printed_bytes_are_refused(capsys):
    write_npz("d.npz", [0, 1, 0, 1], [0, 1], classes=np.array(["b'cat'", "b'dog'"]))
    assert "holds \"b'cat'\", the printed form of bytes" in prepare(capsys, "pets", NPZ)


def test_a_text_file_named_npz_is_reported_as_not_an_npz(capsys):
    Path("d.npz").write_text("x_train,y_train\n1,2\n")
    line = prepare(capsys, "pets", NPZ)
    assert "d.npz: not an .npz file" in line and "pickl" not in line


def test_classes_shorter_than_the_labels_are_named_as_such(capsys):
    write_npz("d.npz", [0, 1, 2, 2], [0, 1, 2], classes=np.array(["cat", "dog"]))
    line = prepare(capsys, "pets", NPZ)
    assert "classes has 2 names but the labels go up to 2 (3 classes)" in line


def test_label_values_with_gaps_name_the_gaps(capsys):
    write_npz("d.npz", [0, 100, 200, 300], [0, 100, 200, 300])
    line = prepare(capsys, "pets", NPZ)
    assert "datasets.pets" in line and "297 of the classes 0..300 have no image" in line
    assert "missing 1..99, 101..199, 201..299" in line


def test_a_single_class_is_an_error(capsys):
    write_npz("d.npz", [0, 0, 0], [0, 0])
    line = prepare(capsys, "pets", NPZ)
    assert "datasets.pets" in line and "at least 2 classes" in line


def test_a_class_with_test_images_but_no_train_images_is_an_error(capsys):
    write_npz("d.npz", [0, 1, 0, 1], [0, 1, 2])
    line = prepare(capsys, "pets", NPZ)
    assert "datasets.pets: the train split has no image of class '2'" in line
    assert not Path("prepared/pets/train/images.npy").exists()


def test_a_class_named_but_never_seen_is_an_error_so_no_imbalance_law_gets_n_max_0(capsys):
    write_npz("d.npz", [0, 1, 0, 1], [0, 1, 0], classes=np.array(["cat", "dog", "owl"]))
    line = prepare(capsys, "pets", NPZ)
    assert "no image of class 'owl' (label 2)" in line


def test_a_class_without_test_images_is_an_error_unless_allowed(capsys):
    write_npz("d.npz", [0, 1, 2, 2], [0, 1])
    line = prepare(capsys, "pets", NPZ)
    assert "the test split has no image of class '2'" in line and "allow_empty_test_classes: true" in line
    prepared("pets", {**NPZ, "allow_empty_test_classes": True})


def test_an_empty_test_split_is_an_error(capsys):
    write_npz("d.npz", [0, 1, 0, 1], [])
    line = prepare(capsys, "pets", NPZ)
    assert "datasets.pets: the test split has no images" in line
    assert not Path("prepared/pets/train/images.npy").exists()  # the train split, written first, is removed too


def test_images_smaller_than_the_backbones_minimum_are_an_error(capsys):
    write_npz("d.npz", [0, 1], [0, 1], size=4)
    line = prepare(capsys, "pets", NPZ)
    assert "4x4 pixels" in line and "at least 8x8" in line and "datasets.pets.image_size" in line


# --- the standalone CLI's --spec -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ({"source": "npz", "path": "d.npz", "image_size": 0}, "datasets.pets.image_size: 0 is less than the minimum of 8"),
    ({"source": "imagefolder", "path": "data", "test_fraction": 1.5}, "datasets.pets.test_fraction: 1.5"),
    ({"source": "imagefolder"}, "datasets.pets.path: required for source 'imagefolder'"),
    ({"source": "npz", "path": "d.npz", "colour": "red"}, "datasets.pets: Additional properties"),
    (["npz"], "datasets.pets: --spec must be a JSON object"),
])
def test_the_cli_validates_spec_against_the_workflow_schema(capsys, spec, expected):
    write_npz("d.npz", [0, 1], [0, 1])
    image_folder(Path("data"))
    assert expected in prepare(capsys, "pets", spec)


# --- config checks before planning -----------------------------------------------------------------------------------

def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as e:
        check_config(config, run_table(config))
    return str(e.value)


def test_a_dataset_cannot_be_its_own_ood_partner():
    config = validated(tiny_config())
    config["datasets"]["synth"]["ood"] = "synth"
    assert "datasets.synth.ood: 'synth' is synth's own data" in config_error(config)
    config = validated(tiny_config())
    config["datasets"]["synthimb"]["ood"] = "synth"  # through its parent
    assert "datasets.synthimb.ood: 'synth' is synthimb's own data" in config_error(config)


def test_a_derived_ood_partner_is_refused_with_its_parent_named():
    config = validated(tiny_config())
    config["datasets"]["synth_ood"]["ood"] = "synthimb"
    assert "'synthimb' is a derived dataset" in config_error(config) and "ood: synth" in config_error(config)


def test_a_knn_k_larger_than_a_known_bank_is_a_config_error():
    config = validated(tiny_config(knn_k=500))  # synth has 400 train images
    assert "train.knn_k: 500 is larger than the kNN bank" in config_error(config)


def test_a_knn_k_larger_than_the_bank_stops_the_train_command(capsys):
    write_npz("d.npz", [0, 1] * 5, [0, 1])
    prepared("pets", NPZ)
    params = {"run_id": "r", "dataset": "pets", "source": "pets", "imbalanced": False, "knn_k": 11,
              "backbone": "small"}
    io.write_json("params.json", params)
    line = one_line_error(capsys, "train", "--params", "params.json", *folder_args("pets"), "--checkpoint", "c.pt",
                          "--metrics", "m.tsv", "--resume", "r.pt")
    assert "r: train.knn_k is 11 but the kNN bank" in line and "holds 10" in line


def test_own_ood_partner_stops_the_workflow_before_planning(workflow):
    config = tiny_config()
    config["datasets"]["synth"]["ood"] = "synth"
    workflow.write_config(config)
    proc = workflow.run("-n", check=False)
    assert proc.returncode != 0 and "config error: datasets.synth.ood: 'synth' is synth's own data" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- prepared files that changed, and checkpoints ---------------------------------------------------------------------

def test_prepared_arrays_changed_with_the_same_size_and_mtime_are_refused_on_read():
    write_npz("d.npz", [0, 1, 0, 1], [0, 1])
    prepared("pets", NPZ)
    path = Path("prepared/pets/train/images.npy")
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(io.ArtifactError, match=f"{path}: its sha256 differs .* rule prepare_dataset"):
        fmt.read_split("prepared/pets/train")


def test_check_dataset_names_a_truncated_file_and_the_rule_to_rerun(capsys):
    write_npz("d.npz", [0, 1, 0, 1], [0, 1])
    prepared("pets", NPZ)
    path = Path("prepared/pets/test/labels.npy")
    path.write_bytes(path.read_bytes()[:-8])
    line = one_line_error(capsys, "check-dataset", "--dataset", "pets", "--spec", json.dumps(NPZ), *folder_args("pets"),
                          "--out", "c.json")
    assert str(path) in line and not Path("c.json").exists()


def test_an_imbalanced_split_of_one_class_is_refused_by_check_dataset(capsys):
    write_npz("d.npz", [0, 0, 1, 1], [0, 1])
    prepared("pets", NPZ)
    io.write_npy("petsimb.npy", np.array([0, 1], np.int64))
    derived = {"parent": "pets", "imbalance": {"base": 1.5}}
    line = one_line_error(capsys, "check-dataset", "--dataset", "petsimb", "--spec", json.dumps(derived),
                          "--parent-spec", json.dumps(NPZ), *folder_args("pets"), "--indices", "petsimb.npy",
                          "--out", "c.json")
    assert "datasets.petsimb: the imbalanced split keeps 2 images of 1 class(es)" in line


class Foreign:  # a global the safe loader refuses
    pass


def test_a_garbage_checkpoint_never_suggests_weights_only_false(capsys):
    run = "r"
    io.write_json(paths.fmt(paths.RUN_PARAMS, run=run), {"run_id": run, "source": "x", "imbalanced": False})
    checkpoint = Path(paths.fmt(paths.RUN_CHECKPOINT, run=run))
    checkpoint.write_bytes(pickle.dumps({"params": Foreign()}))
    line = one_line_error(capsys, "embed", "--params", paths.fmt(paths.RUN_PARAMS, run=run), "--checkpoint",
                          str(checkpoint), "--splits", "x/train", "x/test", "--out", "embeddings")
    assert line.startswith(f"embnorm embed: error: {checkpoint}: not an embnorm checkpoint")
    assert "weights_only" not in line and "--force" in line
