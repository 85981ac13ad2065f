"""The model table is the one source of the method list and per-model defaults (the schema names no model);
every method's docstring example runs; "has a predictor" and the fixed-lr group are decided by the method."""

from __future__ import annotations

import doctest

import pytest
import torch
import jsonschema
import yaml

from conftest import SCHEMA, tiny_config, validated
from embnorm.config import ConfigError, complete_models, run_table
from embnorm.models import METHODS, build_model
from embnorm.train.monitor import Monitor

torch.set_num_threads(1)


def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["properties"]


def test_the_schema_names_no_model_and_types_every_setting_of_the_table():
    """The model list and defaults live only in the table: the schema enumerates no model, and each key a method's
    row lists has a rule in the schema's model_settings that its default meets."""
    schema = yaml.safe_load(SCHEMA.read_text())
    props = schema["properties"]
    model_rules = [props["grid"]["properties"]["model"]["items"], props["include"]["items"]["properties"]["model"],
                   props["exclude"]["items"]["properties"]["model"]]
    assert all(rule == {"$ref": "#/definitions/name"} for rule in model_rules)
    per_model = props["mitigations"]["additionalProperties"]["properties"]["per_model"]
    assert "properties" not in props["models"] and "properties" not in per_model
    rules = schema["definitions"]["model_settings"]
    for name, row in METHODS.items():
        jsonschema.validate(row.defaults, rules)  # additionalProperties: false, so every key has a rule


def test_the_config_is_completed_from_the_table_and_unknown_names_are_refused():
    config = validated(tiny_config())
    assert set(config["models"]) == set(METHODS)
    assert config["models"]["simsiam"]["weight_decay"] == METHODS["simsiam"].defaults["weight_decay"]
    assert config["models"]["simclr"]["embed_dim"] == 32  # the config's value wins
    with pytest.raises(ConfigError, match=r"models.simclr: \['predictor_dim'\] are not settings of simclr"):
        complete_models({"models": {"simclr": {"predictor_dim": 8}}})
    bad = validated(tiny_config())
    bad["grid"]["model"] = ["moco"]
    with pytest.raises(ConfigError, match="grid.model: 'moco' is not defined under models"):
        run_table(bad)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_module_names_its_paper_and_its_example_runs(name):
    module = __import__(METHODS[name].path.split(":")[0], fromlist=["_"])
    assert "Section" in module.__doc__ and ">>>" in module.__doc__
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_embedded_layers_groups_and_monitor_follow_the_method(name):
    method = METHODS[name].load()
    params = {**METHODS[name].defaults, "model": name, "backbone": "small", "embed_dim": 16, "hidden_dim": 16,
              "predictor_dim": 8, "gradscale": 0.0, "cut": 1.0, "cut_scope": "all"}
    torch.manual_seed(0)
    model = build_model(params, image_size=16)
    out = model(torch.rand(4, 3, 16, 16))
    assert tuple(out) == method.layers == tuple(model.layers)
    groups = model.parameter_groups()
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == sum(p.requires_grad for p in model.parameters())
    assert [g["name"] for g in groups if g["fixed_lr"]] == (["predictor"] if name == "simsiam" else [])
    assert method.has_predictor() == ("predictor" in method.layers)
    monitor = Monitor({**params, "knn_every": 1, "epochs": 1}, None, None, None, None, None, 2)
    assert monitor.layers == list(method.layers)
