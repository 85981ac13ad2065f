"""The model table is the one source of the method list: the schema's model enums and per-model defaults equal it;
every method's docstring example runs; "has a predictor" and the fixed-lr group are decided by the method."""

from __future__ import annotations

import doctest

import pytest
import torch
import yaml

from conftest import SCHEMA
from embnorm.models import METHODS, build_model
from embnorm.train.monitor import Monitor

torch.set_num_threads(1)


def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["properties"]


def test_the_schemas_model_lists_are_the_model_table():
    props = schema()
    names = set(METHODS)
    assert set(props["grid"]["properties"]["model"]["items"]["enum"]) == names
    assert set(props["include"]["items"]["properties"]["model"]["enum"]) == names
    assert set(props["exclude"]["items"]["properties"]["model"]["enum"]) == names
    assert set(props["models"]["properties"]) == names
    per_model = props["mitigations"]["additionalProperties"]["properties"]["per_model"]["properties"]
    assert set(per_model) == names


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_schemas_defaults_are_the_methods(name):
    spec = schema()["models"]["properties"][name]["properties"]
    assert {key: rule["default"] for key, rule in spec.items()} == METHODS[name].defaults


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_module_names_its_paper_and_its_example_runs(name):
    module = __import__(METHODS[name].__module__, fromlist=["_"])
    assert "Section" in module.__doc__ and ">>>" in module.__doc__
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_embedded_layers_groups_and_monitor_follow_the_method(name):
    method = METHODS[name]
    params = {**method.defaults, "model": name, "backbone": "small", "embed_dim": 16, "hidden_dim": 16,
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
