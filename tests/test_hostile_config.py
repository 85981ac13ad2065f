"""Careless and hostile config numbers and paths: each is refused (or, for `~`, expanded) before planning, with one
line naming the key (embnorm.config.validate_config, which the workflow, the standalone commands and the audit use)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, tiny_config
from embnorm.cli import dataset_spec
from embnorm.config import ConfigError, validate_config
from embnorm.data.sources import missing_path

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _refused(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA)
    return str(info.value)


@pytest.mark.parametrize("keys, value, expected", [
    (("train", "knn_temperature"), float("nan"), "train.knn_temperature: .nan is not a finite number"),
    (("optimizers", "sgd", "lr_per_256"), float("inf"), "optimizers.sgd.lr_per_256: .inf is not a finite number"),
    (("optimizers", "sgd", "lr_per_256"), float("nan"), "optimizers.sgd.lr_per_256: .nan is not a finite number"),
    (("datasets", "synth", "test_fraction"), float("nan"), "datasets.synth.test_fraction: .nan is not a finite"),
    (("datasets", "synthimb", "imbalance", "base"), float("inf"), "datasets.synthimb.imbalance.base: .inf is not"),
    (("train", "knn_temperature"), float("-inf"), "train.knn_temperature: -.inf is not a finite number"),
])
def test_non_finite_numbers_are_refused_naming_the_key(keys, value, expected):
    config = tiny_config()
    node = config
    for key in keys[:-1]:
        node = node[key]
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

