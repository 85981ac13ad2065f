"""Malformed configs: the workflow rejects each one before it plans any job, with one line that names the offending
key. Each case runs in-process through `embnorm.config.workflow_runs`, every check the workflow makes before it plans
(workflow/rules/common.smk `_validate_config`); two of them, one the schema finds and one only the run table can,
also run through `snakemake -n`, for its promise: a non-zero exit code, that one line, no traceback, and no job."""

from __future__ import annotations

import pytest
import yaml

from conftest import SCHEMA, tiny_config
from embnorm.config import ConfigError, workflow_runs

RUN = "simclr-sgd-none-synth-small-s0"  # a run of tiny_config()
INCLUDED = {"model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "synth", "seed": 0}


def _set(*keys_and_value):
    """A mutation that sets config[k1][k2]... = value (creating nothing but the last key)."""
    *keys, last, value = keys_and_value

    def mutate(config):
        for key in keys:
            config = config[key]
        config[last] = value
    return mutate


# (case id, mutation, text the error line must contain: the key, and for some the value)
CASES = [
    ("unknown_top_level_key", _set("trian", {"epochs": 3}), "'trian' was unexpected"),
    ("unknown_train_key", _set("train", "epoch", 3), "train: Additional properties are not allowed ('epoch'"),
    ("epochs_wrong_type", _set("train", "epochs", "ten"), "train.epochs: 'ten' is not of type 'integer'"),
    ("epochs_negative", _set("train", "epochs", -2), "train.epochs: -2 is less than the minimum of 1"),
    ("epochs_zero", _set("train", "epochs", 0), "train.epochs: 0 is less than the minimum of 1"),
    ("unknown_model", _set("grid", "model", ["moco"]), "grid.model: 'moco' is not defined under models; defined: ["),
    ("unknown_optimizer", _set("grid", "optimizer", ["lars"]), "grid.optimizer.0: 'lars' is not one of"),
    ("unknown_grid_dataset", _set("grid", "dataset", ["cifar11"]), "grid.dataset: 'cifar11' is not defined"),
    ("unknown_dataset_source", _set("datasets", "synth", "source", "mnist"), "datasets.synth.source: 'mnist'"),
    ("imbalance_base_not_above_one", _set("datasets", "synthimb", "imbalance", {"base": 1.0}),
     "datasets.synthimb.imbalance.base: 1.0 is less than or equal to the minimum of 1"),
    ("imbalance_without_base", _set("datasets", "synthimb", "imbalance", {"n_max": 50}),
     "datasets.synthimb.imbalance: 'base' is a required property"),
    ("imagenet_without_root", _set("datasets", "inet", {"source": "imagenet100"}),
     "datasets.inet.path: required for source 'imagenet100'"),
    ("local_source_path_missing", _set("datasets", "synth", {"source": "npz", "path": "nowhere/data.npz"}),
     "datasets.synth.path: nowhere/data.npz does not exist; it should be a .npz file"),
    ("duplicate_run_ids", _set("include", [INCLUDED]), f"include: run '{RUN}' is listed twice"),
    ("unknown_mitigation", _set("grid", "mitigation", ["nope"]), "grid.mitigation: 'nope' is not defined"),
    ("override_of_missing_run", _set("overrides", {"simclr-sgd-none-nosuch-small-s0": {"epochs": 1}}),
     "overrides.simclr-sgd-none-nosuch-small-s0: "),
    ("override_unknown_hyperparameter", _set("overrides", {RUN: {"epochz": 1}}),
     f"overrides.{RUN}: unknown hyper-parameter(s) ['epochz']"),
    ("bad_dataset_name", _set("datasets", "Synth-2", {"source": "synthetic"}), "datasets: 'Synth-2' does not match"),
    ("ood_not_a_dataset", _set("datasets", "synth", "ood", "nowhere"),
     "datasets.synth.ood: 'nowhere' is not a dataset"),
    ("gradscale_power_too_high", _set("mitigations", "gradscale", "gradscale", 5),
     "mitigations.gradscale.gradscale: 5 is greater than the maximum of 4"),
    # issue 11: an override meets the rule of the key it overrides, per model and per run
    ("per_model_value_wrong_type", _set("mitigations", "cut", "per_model", {"simsiam": {"cut": "abc"}}),
     "mitigations.cut.per_model.simsiam.cut: 'abc' is not of type 'number'"),
    ("override_value_out_of_range", _set("overrides", {RUN: {"epochs": 0}}),
     f"overrides.{RUN}.epochs: 0 is less than the minimum of 1"),
    ("mitigation_lr_scale_unknown_optimizer", _set("mitigations", "gradscale", "lr_scale", {"lars": 0.5}),
     "mitigations.gradscale.lr_scale: "),
    # issue 11: a law that leaves a class without images stops before planning
    ("imbalance_law_empties_a_class", _set("datasets", "synthimb", "imbalance", {"base": 3.0, "n_max": 40}),
     "datasets.synthimb.imbalance: the law int(40 * 3.0^-i) over 10 classes leaves class 4 (and 5 more) with 0 "
     "training images; every class keeps at least one image with base <= 1.5066"),
]


def malformed(case: str) -> tuple[dict, str]:
    """The tiny config with a case's mutation, as Snakemake reads it from the file, and the text its line must hold."""
    [(mutate, expected)] = [c[1:] for c in CASES if c[0] == case]
    config = tiny_config()
    mutate(config)
    return yaml.safe_load(yaml.safe_dump(config)), expected


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_malformed_config_is_rejected_with_one_line_naming_the_key(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the workflow would run: relative dataset paths resolve here
    config, expected = malformed(case)
    with pytest.raises(ConfigError) as error:
        workflow_runs(config, SCHEMA)
    assert expected in str(error.value) and "\n" not in str(error.value), str(error.value)


@pytest.mark.parametrize("case", ["unknown_train_key", "duplicate_run_ids"])
def test_snakemake_stops_before_any_job_with_that_line(workflow, case):
    config, expected = malformed(case)
    workflow.write_config(config)
    proc = workflow.run("-n", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "Building DAG" not in output and "Job stats" not in output, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("embnorm: config error: "), output
    assert expected in lines[0], lines[0]
    assert not (workflow.workdir / "results").exists() and not (workflow.workdir / "resources").exists()
