"""The model table is the one source of the method list and per-model defaults (the schema names no model);
every method's docstring example runs; each method's constructor takes its row's settings, with the row's values as
defaults, and `from_params` reads them by name; every head comes from the one builder; "has a predictor" and the
fixed-lr group are decided by the method."""

from __future__ import annotations

import ast
import doctest
import inspect
from pathlib import Path

import pytest
import torch
import jsonschema
import yaml

from conftest import SCHEMA, tiny_config, validated
from embnorm.config import ConfigError, complete_models, run_table
from embnorm.models import METHODS, build_model, heads
from embnorm.train.monitor import Monitor


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


def small_params(name: str, **overrides) -> dict:
    """A run's parameters for method `name` at a size that builds in milliseconds (extra keys are ignored)."""
    return {**METHODS[name].defaults, "model": name, "backbone": "small", "embed_dim": 16, "hidden_dim": 16,
            "predictor_dim": 8, "gradscale": 0.0, "cut": 1.0, "cut_scope": "all", **overrides}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_embedded_layers_groups_and_monitor_follow_the_method(name):
    method = METHODS[name].load()
    params = small_params(name)
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


TRAINING_SETTINGS = {"lr_per_256", "weight_decay", "batch_size", "accumulate"}  # a row's keys the optimizer reads
SHARED_ARGUMENTS = ("backbone", "image_size", "gradscale")  # every method's, from the run and the mitigation


def method_settings(method) -> dict:
    """The method's own constructor arguments and their defaults."""
    return {name: arg.default for name, arg in inspect.signature(method).parameters.items()
            if name not in SHARED_ARGUMENTS}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_constructor_takes_the_rows_settings_with_the_rows_values_as_defaults(name):
    """Every setting of the row that the optimizer does not read is a keyword argument of the method, defaulting to
    the row's (paper) value: a setting the method ignores, or a default that disagrees with the table, fails here."""
    method = METHODS[name].load()
    row = METHODS[name].defaults
    settings = method_settings(method)
    assert settings == {key: value for key, value in row.items() if key not in TRAINING_SETTINGS}
    assert all(inspect.signature(method).parameters[key].kind is inspect.Parameter.KEYWORD_ONLY for key in settings)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_from_params_reads_each_argument_under_its_own_name(name):
    method = METHODS[name].load()
    params = small_params(name, gradscale=0.5)
    torch.manual_seed(0)
    from_params = method.from_params(params, image_size=16)
    torch.manual_seed(0)
    explicit = method("small", 16, gradscale=0.5, **{key: params[key] for key in method_settings(method)})
    assert from_params.gradscale == 0.5
    assert repr(from_params) == repr(explicit)
    state, expected = from_params.state_dict(), explicit.state_dict()
    assert list(state) == list(expected) and all(torch.equal(state[k], expected[k]) for k in state)
    del params["embed_dim"]
    with pytest.raises(KeyError, match="embed_dim"):
        method.from_params(params, image_size=16)


def test_simclr_chooses_its_loss_when_built():
    from embnorm.models.methods.simclr import SimCLR, nt_xent, nt_xent_authors

    assert SimCLR("small", 16).criterion is nt_xent
    assert SimCLR("small", 16, loss="authors", temperature=0.2).criterion is nt_xent_authors
    with pytest.raises(ValueError, match="unknown loss 'infonce'"):
        SimCLR("small", 16, loss="infonce")


def test_the_head_builders_example_runs_and_no_method_builds_a_layer_itself():
    """The methods' heads come from `heads.mlp` only: no method module names a linear or BatchNorm layer."""
    result = doctest.testmod(heads)
    assert result.attempted > 0 and result.failed == 0
    layer_types = {"Linear", "BatchNorm1d", "Sequential"}
    for name in sorted(METHODS):
        path = Path(__import__(METHODS[name].path.split(":")[0], fromlist=["_"]).__file__)
        named = {node.attr for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
        assert not named & layer_types, f"{path.name} builds {sorted(named & layer_types)} outside heads.mlp"
