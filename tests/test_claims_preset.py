"""config/claims.yaml, the claims study: layered over config.yaml, it plans runs that give every claim C1-C14 what
its rule needs (runs and >= 3 seeds), judged without training by the run selections the claims check itself uses
(`embnorm.analysis.claims.plan`). And the default study, which lacks some of them, says which."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, default_config, validated
from embnorm.analysis.claims.plan import needs_line, planned_training, undecided_claims
from embnorm.config import run_table

PRESET = REPO / "config" / "claims.yaml"


def preset() -> dict:
    return yaml.safe_load(PRESET.read_text())


def layered(overlay: dict) -> dict:
    """`snakemake --configfile config/claims.yaml` from a checkout: the preset deep-merged over config.yaml."""
    config = default_config()
    update_config(config, copy.deepcopy(overlay))
    return validated(config)


def undecided(config: dict) -> dict[str, str]:
    default_wd = {model: spec["weight_decay"] for model, spec in config["models"].items()}
    human = {name for name, spec in config["datasets"].items() if spec.get("human_labels", "none") != "none"}
    return undecided_claims(run_table(config), default_wd, human)


def test_the_preset_gives_every_claim_the_runs_and_seeds_its_rule_needs():
    config = layered(preset())
    assert undecided(config) == {}
    runs = planned_training(run_table(config))
    assert len(runs) == 44
    # every setting (model x optimizer x mitigation x dataset) has 3 seeds, but SimSiam's weight-decay sweep points,
    # which run on seed 0 only (the preset's header says why)
    seeds = runs.groupby(["model", "optimizer", "mitigation", "dataset"]).seed.unique()
    sweep_only = {("simsiam", "sgd", "no_wd", "synth"), ("simsiam", "sgd", "wd_e1", "synth")}
    assert {key: sorted(v) for key, v in seeds.items() if key in sweep_only} == {key: [0] for key in sweep_only}
    assert {len(v) for key, v in seeds.items() if key not in sweep_only} == {3}


@pytest.mark.parametrize("change, claims", [
    (lambda p: p["grid"].update(seed=[0, 1]), {"C11", "C12"}),  # two seeds: the paired CI needs three
    (lambda p: p.update(include=[r for r in p["include"] if r["dataset"] != "synth_ood"]), {"C7"}),
    (lambda p: p.update(include=[r for r in p["include"] if r["mitigation"] != "wd_e1" or r["model"] != "simsiam"]),
     {"C13"}),  # SimSiam's sweep left with 2 weight decays
    (lambda p: p.update(include=[r for r in p["include"] if r["optimizer"] != "adam"]), {"C14"}),
    (lambda p: p["grid"].update(dataset=["synth"]), {"C10", "C12"}),
])
def test_a_preset_missing_runs_or_seeds_is_caught(change, claims):
    """The check can fail: each ingredient of the preset, removed, leaves its claims undecided."""
    overlay = preset()
    change(overlay)
    assert set(undecided(layered(overlay))) == claims


def test_the_default_study_names_the_claims_it_cannot_decide():
    gaps = undecided(validated(default_config()))
    assert {"C11", "C12", "C13", "C14"} <= set(gaps)  # one seed, no sweep, no Adam
    assert "1 seed(s), the rule needs >= 3" in gaps["C11"]
    line = needs_line(gaps)
    assert "\n" not in line and "config/claims.yaml" in line and ", ".join(gaps) in line
    assert needs_line({}) == "This configuration has the runs and seeds every claim's rule needs."


def test_the_preset_takes_data_and_recipe_from_the_defaults():
    """Only the grid, the sweep's mitigations and Adam's warm-up are the preset's; Adam's warm-up is the defaults' SGD
    warm-up in steps, and every run's step budget is the defaults' (so a change of the default recipe shows up here)."""
    overlay = preset()
    defaults = default_config()
    assert set(overlay) == {"grid", "include", "mitigations", "optimizers"}
    assert overlay["optimizers"]["adam"]["warmup_steps"] == defaults["optimizers"]["sgd"]["warmup_steps"]
    runs = run_table(layered(overlay))
    assert {r["steps"] for r in runs if r["model"] == "simclr"} == {defaults["train"]["steps"]}
    assert {r["steps"] for r in runs if r["model"] == "simsiam"} == {defaults["models"]["simsiam"]["steps"]}


def test_the_sweep_is_chosen_by_decay_exposure():
    """The weight decays of the C13 sweep are the ones `train.exposure` gives for the exposures the preset states
    (to its 3 significant digits), computed on each model's baseline run of the preset."""
    from embnorm.train.exposure import decay_exposure, schedule_lrs, sweep_for_exposures

    runs = {r["run_id"]: r for r in run_table(layered(preset()))}
    images = 5000  # synth's train split (config.yaml: the synthetic generator's default size)
    targets = {"simclr": {0.1: "wd_e01", 1.0: "wd_e1", 3.0: "wd_e3"}, "simsiam": {1.0: "wd_e1"}}
    for model, wanted in targets.items():
        base = runs[f"{model}-sgd-none-synth-small-s0"]
        per_epoch = images // base["batch_size"]
        total = -(-base["steps"] // per_epoch) * per_epoch
        expected = sweep_for_exposures(base, total, per_epoch, tuple(wanted))
        for target, mitigation in wanted.items():
            run = runs[f"{model}-sgd-{mitigation}-synth-small-s0"]
            assert run["weight_decay"] == pytest.approx(expected[target], rel=5e-3), (model, target)
        exposure = decay_exposure(base["weight_decay"], schedule_lrs(base, total, per_epoch), base["sgd_momentum"])
        assert exposure < 0.25  # the default weight decay is the sweep's low point (E about 0 or 0.19)


def test_snakemake_plans_the_preset(workflow):
    """`snakemake -n --configfile config/claims.yaml` from a checkout (config.yaml merged below the preset)."""
    shutil.copy(REPO / "config.yaml", workflow.workdir / "config.yaml")
    jobs = workflow.planned_jobs("--configfile", str(PRESET))
    # embed: one job per run and dataset, its source's and its OOD partner's splits
    assert {rule: jobs[rule] for rule in ("train", "embed", "claims")} == {"train": 44, "embed": 88, "claims": 1}


def test_training_jobs_start_longest_first_and_before_the_simulations(workflow):
    """The preset's dry run: each training job's priority grows with the images its run processes (SimSiam's 2,496
    steps at batch 64 before SimCLR's 228 at 256), and every one is above the simulations' (which have none), so a
    local run does not end on one long training while the other core waits."""
    shutil.copy(REPO / "config.yaml", workflow.workdir / "config.yaml")
    out = workflow.run("-n", "--configfile", str(PRESET)).stdout
    train, others = {}, {}
    for job in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        rule = re.match(r"(?:local)?rule (\w+):", job.strip())
        if not rule:
            continue
        run = re.search(r"wildcards: run=(\S+)", job)
        priority = int(m.group(1)) if (m := re.search(r"priority: (\d+)", job)) else 0
        if rule.group(1) == "train":
            train[run.group(1)] = priority
        else:
            others.setdefault(rule.group(1), set()).add(priority)
    assert len(train) == 44
    simsiam = {p for r, p in train.items() if r.startswith("simsiam-")}
    simclr = {p for r, p in train.items() if r.startswith("simclr-")}
    assert simsiam and simclr and min(simsiam) > max(simclr)
    assert min(train.values()) > max(others["simulate_imbalance"])


def test_the_claims_table_says_in_one_line_which_claims_this_config_cannot_decide(tmp_path):
    """`embnorm claims --runs results/runs.tsv`: the Markdown and HTML tables carry the line, derived from the run
    table of the config (here the default study's), not from a list."""
    import html

    import pandas as pd

    from embnorm import io
    from embnorm.cli import main
    from helpers.claims import WD, good_tables

    config = validated(default_config())
    io.write_tsv(tmp_path / "runs.tsv", pd.DataFrame(run_table(config)))
    argv = ["claims"]
    for key, frame in good_tables().items():
        io.write_tsv(tmp_path / f"{key}.tsv", frame)
        argv += [f"--{key.replace('_', '-')}", f"{tmp_path / key}.tsv"]
    argv += ["--default-weight-decay", json.dumps(WD), "--resamples", "100", "--runs", str(tmp_path / "runs.tsv"),
             "--human-datasets", "synth", "synth_ood", "--tsv", str(tmp_path / "claims.tsv"),
             "--md", str(tmp_path / "claims.md"), "--html", str(tmp_path / "claims.html")]
    assert main(argv) == 0
    line = needs_line(undecided(config))
    assert "C11" in line and "C14" in line
    assert (tmp_path / "claims.md").read_text().strip().splitlines()[-1] == line
    assert f"<p>{html.escape(line)}</p>" in (tmp_path / "claims.html").read_text()
    assert "Claims this configuration" not in (tmp_path / "claims.tsv").read_text()
