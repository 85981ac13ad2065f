"""Budgets in optimizer steps (`train.steps`), warm-up in steps (`warmup_steps`), kNN at fractions of the steps
(`train.knn_fractions`), and "early" read from the run's own schedule: a derived (imbalanced) run gets at least its
parent's optimizer steps, its early evaluation is the first one at or after 25 % of the steps and after the warm-up,
and a resumed run with a step budget ends bit-identical. Tiny random data on the CPU, one thread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SCHEMA, tiny_config
from embnorm.analysis import growth
from embnorm.analysis.common import Run
from embnorm.config import ConfigError, validate_config
from embnorm.train.loop import train
from embnorm.train.schedule import Budget, budget, knn_epochs, lr_at
from helpers.training import TEST, TRAIN, assert_identical, tiny_params

torch.set_num_threads(1)
DERIVED = np.arange(0, 64, 3)[:20]  # 20 of the 64 training images: 1 optimizer step per epoch at batch 16


def train_on(params, folder, indices=None, **kwargs):
    folder.mkdir(exist_ok=True)
    train(params, TRAIN, TEST, indices, checkpoint_path=folder / "checkpoint.pt", resume_path=folder / "resume.pt",
          metrics_path=folder / "metrics.tsv", **kwargs)
    return folder / "metrics.tsv"


def test_a_step_budget_takes_whole_epochs_and_at_least_the_steps():
    assert budget({"steps": 12, "epochs": 99, "warmup_epochs": 2}, 5) == Budget(5, 3, 10)  # 15 >= 12 steps
    assert budget({"steps": 12, "epochs": 99, "warmup_epochs": 2, "warmup_steps": 7}, 4) == Budget(4, 3, 7)
    assert budget({"steps": None, "epochs": 9, "warmup_epochs": 2, "warmup_steps": None}, 4) == Budget(4, 9, 8)
    assert budget({"epochs": 9, "warmup_epochs": 2}, 4).total_steps == 36  # params of older runs lack the new keys


@pytest.mark.parametrize("fractions, steps_per_epoch, epochs, expected", [
    ([0.25], 5, 12, {0, 3, 12}),          # 25 % of 60 steps = 15: the end of epoch 3
    ([0.25], 7, 4, {0, 1, 4}),            # 7 steps already pass 25 % of 28
    ([0.3, 0.5], 1, 100, {0, 30, 50, 100}),  # 0.3 * 100 is 30.000000000000004 in floating point
    ([0.25, 1.0], 4, 5, {0, 2, 5}),       # 5 of 20 steps need 2 epochs; 1.0 is the last epoch
])
def test_knn_fractions_pick_the_first_epoch_reaching_each_fraction(fractions, steps_per_epoch, epochs, expected):
    run = Budget(steps_per_epoch, epochs, 0)
    assert knn_epochs({"knn_fractions": fractions, "knn_every": 1}, run) == frozenset(expected)
    assert knn_epochs({"knn_fractions": None, "knn_every": 4}, run) == frozenset({*range(0, epochs + 1, 4), epochs})


def test_a_derived_run_gets_its_parents_steps_and_early_is_read_after_25_percent_and_warmup(tmp_path):
    """Parent: 64 images, 4 steps per epoch, 3 epochs. Derived: 20 images, 1 step per epoch, 12 epochs. Both train
    12 steps with 5 warm-up steps; kNN at 25 % and 50 % of the steps. Early = first evaluation at step >= 3 (25 %)
    and >= 5 (warm-up): epoch 2 (step 8) of the parent, epoch 6 (step 6) of the derived run."""
    params = tiny_params(steps=12, knn_fractions=[0.25, 0.5], warmup_steps=5, epochs=1)
    summaries, metrics = {}, {}
    for name, indices in (("parent", None), ("derived", DERIVED)):
        path = train_on(params, tmp_path / name, indices)
        metrics[name] = pd.read_csv(path, sep="\t")
        summaries[name] = growth.training_summary(growth.metrics_long([Run(params, metrics=str(path))])).iloc[0]
    parent, derived = metrics["parent"], metrics["derived"]
    assert parent.epoch.tolist() == [0, 1, 2, 3] and derived.epoch.tolist() == list(range(13))
    assert parent.step.iloc[-1] == derived.step.iloc[-1] == 12
    assert set(parent.total_steps) == set(derived.total_steps) == {12} and set(derived.warmup_steps) == {5}
    assert derived.dropna(subset=["knn_acc"]).epoch.tolist() == [0, 3, 6, 12]
    assert parent.dropna(subset=["knn_acc"]).epoch.tolist() == [0, 1, 2, 3]
    # the lr follows the warm-up in steps (warmup_epochs would give 10 epochs of warm-up here)
    for _, row in derived.iloc[1:].iterrows():
        assert row.lr == pytest.approx(lr_at(row.step - 1, params["lr"], 12, 5, params["lr_floor"]), rel=1e-9)
    assert (summaries["parent"].early_epoch, summaries["parent"].early_step) == (2, 8)
    assert (summaries["derived"].early_epoch, summaries["derived"].early_step) == (6, 6)
    assert summaries["derived"].early_knn_acc == derived.set_index("epoch").knn_acc[6]
    assert summaries["derived"].total_steps == 12 and summaries["derived"].epochs == 12


def test_early_falls_back_to_the_first_evaluation_for_metrics_without_the_schedule():
    rows = pd.DataFrame({"run_id": "old", "epoch": [0, 1, 2, 4], "step": [0, 5, 10, 20],
                         "knn_acc": [0.1, 0.2, np.nan, 0.4], "projector_norm_mean": [1.0, 2.0, 3.0, 4.0],
                         "knn_protocol": "p", **{c: 0 for c in growth.FACTOR_COLUMNS}})
    old = growth.training_summary(rows).iloc[0]
    assert (old.early_epoch, old.early_step, old.total_steps) == (1, 5, 20)
    new = growth.training_summary(rows.assign(total_steps=20, warmup_steps=6)).iloc[0]
    assert (new.early_epoch, new.early_step) == (4, 20)  # step 5 < 25 % of 20 ... and < 6 warm-up steps
    never = growth.training_summary(rows.assign(total_steps=20, warmup_steps=40)).iloc[0]
    assert never.early_epoch == -1 and np.isnan(never.early_knn_acc)  # the warm-up never ends


def test_resume_with_a_step_budget_is_bit_identical(tmp_path):
    params = tiny_params("simclr", "sgd", "gradscale", steps=7, knn_fractions=[0.25], warmup_steps=2)
    train_on(params, tmp_path / "full", DERIVED)
    train_on(params, tmp_path / "split", DERIVED, stop_after_epochs=3)
    assert (tmp_path / "split" / "resume.pt").exists() and not (tmp_path / "split" / "metrics.tsv").exists()
    train_on(params, tmp_path / "split", DERIVED)
    assert_identical(tmp_path / "full", tmp_path / "split")
    assert pd.read_csv(tmp_path / "split" / "metrics.tsv", sep="\t").epoch.max() == 7


def schema_config(**sections) -> dict:
    config = tiny_config()
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.mark.parametrize("sections", [
    {"train": {"steps": 2000, "knn_fractions": [0.25, 0.5, 1.0]}},
    {"optimizers": {"sgd": {"warmup_steps": 0}, "adam": {"warmup_steps": 300}}},
    {"mitigations": {"gs": {"gradscale": 1, "warmup_steps": 500}}},
    {"overrides": {"*-synth-*": {"steps": 10, "knn_fractions": [0.5], "warmup_steps": 3}}},
])
def test_the_schema_accepts_the_step_keys(sections):
    config = validate_config(schema_config(**sections), SCHEMA)
    assert config["train"]["steps"] == sections.get("train", {}).get("steps")


@pytest.mark.parametrize("sections, key", [
    ({"train": {"steps": 0}}, "train.steps"),
    ({"train": {"steps": 2.5}}, "train.steps"),
    ({"train": {"knn_fractions": [0.0]}}, "train.knn_fractions.0"),
    ({"train": {"knn_fractions": [0.5, 1.5]}}, "train.knn_fractions.1"),
    ({"train": {"knn_fractions": []}}, "train.knn_fractions"),
    ({"optimizers": {"sgd": {"warmup_steps": -1}}}, "optimizers.sgd.warmup_steps"),
    ({"optimizers": {"adam": {"warmup_steps": 1.5}}}, "optimizers.adam.warmup_steps"),
    ({"mitigations": {"gs": {"warmup_steps": "ten"}}}, "mitigations.gs.warmup_steps"),
    ({"overrides": {"*-synth-*": {"steps": 0}}}, "overrides.*-synth-*.steps"),
])
def test_the_schema_refuses_bad_step_keys_naming_them(sections, key):
    with pytest.raises(ConfigError) as error:
        validate_config(schema_config(**sections), SCHEMA)
    assert str(error.value).startswith(f"{key}: ")
