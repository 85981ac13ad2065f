"""Careless and hostile config numbers and paths: each is refused (or, for `~`, expanded) before planning, with one
line naming the key (embnorm.config.validate_config, which the workflow, the standalone commands and the audit use)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tiny_config
from embnorm.cli import dataset_spec, main
from embnorm.config import ConfigError, validate_config
from embnorm.data.sources import missing_path

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _refused(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA)
    return str(info.value)


@pytest.mark.parametrize("keys, value, finite, expected", [
    (("train", "knn_temperature"), float("nan"), 0.1, "train.knn_temperature: .nan is not a finite number"),
    (("models", "simclr", "lr_per_256"), float("inf"), 0.3, "models.simclr.lr_per_256: .inf is not a finite number"),
    (("optimizers", "adam", "lr_per_256"), float("nan"), 1e-3, "optimizers.adam.lr_per_256: .nan is not a finite"),
    (("datasets", "synth", "test_fraction"), float("nan"), 0.2, "datasets.synth.test_fraction: .nan is not a finite"),
    (("datasets", "synthimb", "imbalance", "base"), float("inf"), 2.0, "datasets.synthimb.imbalance.base: .inf is not"),
    (("train", "knn_temperature"), float("-inf"), 0.1, "train.knn_temperature: -.inf is not a finite number"),
])
def test_non_finite_numbers_are_refused_naming_the_key(keys, value, finite, expected):
    """Each key is one the schema knows (a finite value there is accepted), so the refusal is the number's."""
    config = tiny_config()
    node = config
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = finite
    validate_config(copy.deepcopy(config), SCHEMA)
    node[keys[-1]] = value
    assert expected in _refused(config)


def test_nan_written_in_yaml_is_refused():
    config = tiny_config(**yaml.safe_load("knn_temperature: .nan"))
    assert config["train"]["knn_temperature"] != config["train"]["knn_temperature"]  # the YAML gave a NaN
    assert "train.knn_temperature: .nan is not a finite number" in _refused(config)


def test_a_float_where_an_integer_is_asked_is_refused():
    config = tiny_config(epochs=2.0)
    assert _refused(config) == "train.epochs: 2.0 is not of type 'integer'"
    assert validate_config(tiny_config(epochs=2), SCHEMA)["train"]["epochs"] == 2


@pytest.mark.parametrize("seed", [99999999999999999999, 2**31])
def test_a_seed_too_large_for_a_run_id_is_refused(seed):
    config = tiny_config()
    config["grid"]["seed"] = [0, seed]
    assert _refused(config).startswith("grid.seed.1: ")
    config["grid"]["seed"] = [0, 2**31 - 1]
    validate_config(config, SCHEMA)


def test_tilde_in_a_dataset_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "toy").mkdir()
    config = tiny_config()
    config["datasets"]["toy"] = {"source": "imagefolder", "path": "~/toy", "data_dir": "~/downloads"}
    validate_config(config, SCHEMA)
    assert config["datasets"]["toy"]["path"] == str(tmp_path / "toy")
    assert config["datasets"]["toy"]["data_dir"] == str(tmp_path / "downloads")
    assert missing_path("toy", config["datasets"]["toy"]) is None


def test_a_missing_path_names_the_path_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    problem = missing_path("toy", {"source": "imagefolder", "path": "~/nowhere"})
    assert problem.startswith(f"datasets.toy.path: {tmp_path / 'nowhere'} (given as ~/nowhere) does not exist")


def test_the_cli_spec_error_names_the_missing_key():
    with pytest.raises(ConfigError) as info:
        dataset_spec("toy", {"path": "/tmp"})
    message = str(info.value)
    assert message.startswith("datasets.toy: ")
    assert "'source' is a required property" in message
    assert "'parent' is a required property" in message
    assert "not valid under any of the given schemas" not in message



@pytest.mark.parametrize("spec, forbidden", [
    ({"source": "cifar10", "parent": "cifar10"}, "'parent' is not allowed"),
    ({"parent": "cifar10", "imbalance": {"base": 2}, "source": "cifar10"}, "'source' is not allowed"),
    ({"parent": "cifar10", "imbalance": {"base": 2}, "classes": [0, 1]}, "'classes' is not allowed"),
])
def test_the_cli_spec_error_names_a_key_that_is_not_allowed(spec, forbidden):
    with pytest.raises(ConfigError) as info:
        dataset_spec("toy", spec)
    message = str(info.value)
    assert message.startswith("datasets.toy: matches none of the allowed forms: ") and forbidden in message
    assert "should not be valid under" not in message


def one_line_error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_every_command_with_a_dataset_spec_names_the_missing_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = json.dumps({"path": str(tmp_path)})
    folders = ["--train", "prepared/train", "--test", "prepared/test"]
    for argv in (["prepare", "--dataset", "toy", "--spec", spec, *folders],
                 ["check-dataset", "--dataset", "toy", "--spec", spec, *folders, "--out", "checked.json"],
                 ["check-dataset", "--dataset", "toy", "--spec", spec, "--parent-spec", spec, *folders,
                  "--out", "checked.json"],
                 ["download", "--dataset", "toy", "--spec", spec, "--out", "downloads.json"],
                 ["human-labels", "--dataset", "toy", "--spec", spec, *folders, "--cifarn", "n.npz", "--counts",
                  "c.npy", "--probs", "p.npy"]):
        line = one_line_error(capsys, *argv)
        assert line.startswith(f"embnorm {argv[0]}: error: datasets.toy: matches none of the allowed forms: ")
        assert "'source' is a required property" in line


def test_a_parent_spec_for_a_dataset_without_parent_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, "check-dataset", "--dataset", "toy", "--spec", json.dumps({"source": "cifar10"}),
                          "--parent-spec", json.dumps({"source": "cifar10"}), "--train", "a", "--test", "b",
                          "--out", "checked.json")
    assert line == ("embnorm check-dataset: error: datasets.toy: --parent-spec is given, but the dataset names no "
                    "parent")
