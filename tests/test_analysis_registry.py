"""Each analysis is declared once (embnorm.analysis.registry): its command's arguments, the rule's command line, the
schema's `analysis` block, the claims' tables and the audit's option list all agree with the declaration."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from conftest import REPO, SCHEMA, tiny_config, validated
from embnorm import audit
from embnorm.analysis import claims
from embnorm.analysis.claims.declarations import REQUIRED_TABLES, UNTRAINED_TABLES
from embnorm.analysis.registry import ANALYSES, ANALYSIS_OPTIONS, CLAIM_TABLES, OPTIONAL_CLAIM_TABLES, flag
from embnorm.cli import build_parser
from embnorm.present import commands, schema_doc

RULES = REPO / "workflow/rules/analysis.smk"


def subparser(command: str):
    """The argparse parser of `embnorm <command>` (`analyze ood` is a sub-subcommand)."""
    parser = build_parser()
    for word in command.split():
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[word]
    return parser


@pytest.mark.parametrize("rule", list(ANALYSES))
def test_each_commands_arguments_are_its_declaration(rule):
    analysis = ANALYSES[rule]
    parser = subparser(analysis.command)
    dests = {a.dest: a for a in parser._actions if a.dest != "help"}
    declared = [i.name for i in analysis.inputs] + [o.name for o in analysis.options] + list(analysis.outputs)
    assert sorted(dests) == sorted(declared) and len(declared) == len(set(declared))
    for option in analysis.options:
        action = dests[option.name]
        assert action.option_strings == [flag(option.name)]
        assert action.default == option.schema.get("default") and action.required == ("default" not in option.schema)
        assert action.choices == option.schema.get("enum")
    assert commands.COMMANDS[rule] is parser.get_default("func")


def test_the_rules_are_the_declared_analyses():
    assert re.findall(r"^rule (\w+):", RULES.read_text(), re.M) == list(ANALYSES)


def test_every_report_caption_exists():
    captions = {o.caption for a in ANALYSES.values() for o in a.outputs.values() if o.caption}
    assert captions and all((REPO / "workflow/report" / f"{c}.rst").is_file() for c in captions)


def test_the_schemas_analysis_block_is_generated_from_the_declaration():
    text = SCHEMA.read_text()
    assert schema_doc.with_analysis_block(text) == text, "run `make config-reference` (the schema drifted)"
    schema = yaml.safe_load(text)
    assert schema["properties"]["analysis"]["properties"] == {o.key[1]: o.schema for o in ANALYSIS_OPTIONS}
    # options set from a key outside the analysis block (the top-level seed) agree with its hand-written entry
    for option in [o for a in ANALYSES.values() for o in a.options if o.key and o.key[0] != "analysis"]:
        entry = schema["properties"][option.key[0]]
        assert (entry["type"], entry["default"]) == (option.schema["type"], option.schema["default"])
    keyed = {o.key for a in ANALYSES.values() for o in a.options if o.key and o.key[0] == "analysis"}
    assert keyed == {o.key for o in ANALYSIS_OPTIONS}


def test_a_schema_edit_by_hand_is_drift():
    text = SCHEMA.read_text()
    line = r"^(      knn_k: {description: k of the per-bucket.*)default: 200}$"  # analysis.knn_k, not train.knn_k
    edited = re.sub(line, r"\1default: 100}", text, flags=re.M)
    assert edited != text and schema_doc.with_analysis_block(edited) == text


def test_the_audit_and_the_claims_read_the_declaration():
    # every key the audit compares names a value of a validated config (a misspelt key would compare nothing)
    config = validated(tiny_config())
    for option, key in audit.AGGREGATE_OPTIONS.items():
        value = config
        for part in key:
            assert isinstance(value, dict) and part in value, (option, key)
            value = value[part]
    names = {}
    for analysis in ANALYSES.values():  # one argparse name means one config key, in every command
        for o in analysis.options:
            assert names.setdefault(o.name, o.key) == o.key
    # the tables the registry passes to the claims rule are those the claim declarations read (declared apart)
    assert set(claims.TABLES) == set(CLAIM_TABLES) == set(REQUIRED_TABLES)
    assert not set(claims.TABLES) & set(OPTIONAL_CLAIM_TABLES)  # passed to the claims rule, not required by the check
    assert set(OPTIONAL_CLAIM_TABLES) == set(UNTRAINED_TABLES)
    assert {i.name for i in ANALYSES["claims"].inputs} == set(CLAIM_TABLES) | set(OPTIONAL_CLAIM_TABLES) | {"runs"}


@pytest.mark.slow
def test_every_rule_passes_its_declared_inputs_options_and_outputs(workflow):
    """The rules' command lines (a dry run's `-p`) parse with the commands' own parsers, give every declared input and
    output, and set every config-keyed option to the config's value (here not the defaults)."""
    config = tiny_config()
    config["seed"] = 3
    config["analysis"] = {"knn_k": 7, "buckets": 9, "layer": "backbone", "bucket_normalization": "minmax",
                          "min_bucket_count": 4, "min_bucket_count_human": 6, "bootstrap": 300,
                          "simulation_epochs": 2, "simulation_runs": 2}
    workflow.write_config(config)
    out = workflow.run("-n", "-p", *ANALYSES).stdout
    lines, rule = {}, None
    for line in out.splitlines():
        if re.match(r"(?:local)?rule \w+:$", line):
            rule = line.split()[-1][:-1]
        elif line.startswith("Shell command: ") and rule in ANALYSES:
            lines[rule] = line.removeprefix("Shell command: ")
    assert set(lines) == set(ANALYSES)
    for rule, line in lines.items():
        analysis = ANALYSES[rule]
        argv = shlex.split(line.split(" > ")[0])
        assert argv[0] == "embnorm"
        args = build_parser().parse_args(argv[1:])
        for option in analysis.options:
            assert flag(option.name) in argv, (rule, option.name)
            if option.key:
                value = config
                for part in option.key:
                    value = value[part]
                assert getattr(args, option.name) == value, (rule, option.name)
        for name in [i.name for i in analysis.inputs] + list(analysis.outputs):
            assert getattr(args, name), (rule, name)
        for key, output in analysis.outputs.items():
            assert getattr(args, key) == output.path
    human = build_parser().parse_args(shlex.split(lines["human_agreement"].split(" > ")[0])[1:])
    assert human.human_datasets == ["synth"] and len(human.human_labels) == len(human.human_probs) == 1
    assert len(human.params) == len(human.embeddings) > 1
