"""The run table: grid expansion, ids, include/exclude, overrides, config errors, and the presets in config/."""

from __future__ import annotations

import copy
import shutil

import pytest
from snakemake.utils import update_config

from conftest import REPO, SCHEMA, default_config
from embnorm.config import ConfigError
from helpers.presets import load, runs_of, validated

PRESETS = sorted((REPO / "config").glob("*.yaml"))
# config/claims.yaml, config/fmnist.yaml and config/byol.yaml are layered over config.yaml on purpose (their recipe
# is the defaults'): tests/test_claims_preset.py, tests/test_fmnist_preset.py and
# test_the_byol_preset_adds_a_simsiam_and_a_byol_run_to_the_default_study check them.
LAYERED = ("claims.yaml", "fmnist.yaml", "byol.yaml")
STANDALONE = [p for p in PRESETS if p.name not in LAYERED]


def base_config(**sections) -> dict:
    """A small grid of its own (independent of config.yaml): 2 models x 2 mitigations x 2 datasets x 2 seeds."""
    config = {
        "datasets": {"a": {"source": "synthetic", "ood": "b"},
                     "b": {"source": "synthetic", "synthetic": {"family": 1}},
                     "aimb": {"parent": "a", "imbalance": {"base": 1.5}}},
        "grid": {"model": ["simclr", "simsiam"], "optimizer": ["sgd"], "mitigation": ["none", "cut"],
                 "dataset": ["a", "aimb"], "seed": [0, 1]},
        "mitigations": {"none": {}, "cut": {"cut": 3, "per_model": {"simsiam": {"cut": 9}}},
                        "gs": {"gradscale": 1, "lr_scale": 0.5}},
    }
    config.update(copy.deepcopy(sections))
    return config


# --- expansion and ids ---------------------------------------------------------------------------------------------

def test_grid_expands_to_the_product_in_a_stable_order():
    ids = list(runs_of(base_config()))
    assert len(ids) == 16 == len(set(ids))
    assert ids[:3] == ["simclr-sgd-none-a-r18-s0", "simclr-sgd-none-a-r18-s1", "simclr-sgd-none-aimb-r18-s0"]
    assert ids[-1] == "simsiam-sgd-cut-aimb-r18-s1"
    assert ids == list(runs_of(base_config()))


@pytest.mark.parametrize("backbone, short", [("small", "small"), ("resnet18", "r18"), ("resnet50", "r50")])
def test_ids_abbreviate_the_backbone(backbone, short):
    ids = runs_of(base_config(train={"backbone": backbone}))
    assert f"simclr-sgd-cut-aimb-{short}-s1" in ids


def test_ids_do_not_depend_on_hyperparameters():
    changed = base_config(train={"epochs": 3}, models={"simclr": {"batch_size": 64}})
    changed["mitigations"]["cut"]["cut"] = 5
    assert list(runs_of(changed)) == list(runs_of(base_config()))


def test_resolved_hyperparameters_follow_models_optimizers_and_mitigations():
    config = base_config()
    config["grid"].update(optimizer=["sgd", "adam"], mitigation=["none", "cut", "gs"])
    runs = runs_of(config)
    assert runs["simclr-sgd-none-a-r18-s0"]["lr"] == pytest.approx(0.18)  # 0.18 * 256 / 256
    assert runs["simsiam-sgd-none-a-r18-s0"]["lr"] == pytest.approx(0.48)  # 0.12 * 256 * 4 / 256
    assert runs["simclr-sgd-cut-a-r18-s0"]["cut"] == 3 and runs["simsiam-sgd-cut-a-r18-s0"]["cut"] == 9
    assert runs["simclr-adam-none-a-r18-s0"]["warmup_epochs"] == 100
    assert runs["simclr-adam-none-a-r18-s0"]["lr"] == pytest.approx(1e-3)  # Adam's own rate, 1e-3 * 256 / 256
    assert runs["simsiam-adam-none-a-r18-s0"]["lr"] == pytest.approx(4e-3)  # 1e-3 * 256 * 4 / 256
    assert runs["simclr-adam-gs-a-r18-s0"]["lr"] == pytest.approx(1e-3 * 0.5)  # a number scales every optimizer
    assert runs["simclr-sgd-none-aimb-r18-s0"]["source"] == "a" and runs["simclr-sgd-none-aimb-r18-s0"]["imbalanced"]
    assert runs["simclr-sgd-none-aimb-r18-s0"]["ood"] == "b"  # inherited from the parent


def test_a_mitigation_lr_scale_can_differ_per_optimizer():
    """GradScale's lr / 6 is SGD's (issue 11): per optimizer it is not compounded with Adam's rate unless asked."""
    config = base_config()
    config["grid"].update(optimizer=["sgd", "adam"], mitigation=["none", "gs"])
    config["mitigations"]["gs"]["lr_scale"] = {"sgd": 1 / 6}
    runs = runs_of(config)
    assert runs["simclr-sgd-gs-a-r18-s0"]["lr"] == pytest.approx(0.03)
    assert runs["simclr-adam-gs-a-r18-s0"]["lr"] == pytest.approx(runs["simclr-adam-none-a-r18-s0"]["lr"])
    config["mitigations"]["gs"]["lr_scale"] = {"sgd": 1 / 6, "adam": 1 / 6}  # the literal product, as an option
    assert runs_of(config)["simclr-adam-gs-a-r18-s0"]["lr"] == pytest.approx(1e-3 / 6)


def test_a_warmup_in_steps_replaces_the_warmup_in_epochs_and_a_later_epoch_warmup_replaces_it():
    """The optimizer's `warmup_steps` reaches every run; a mitigation (or override) that sets warmup_epochs alone
    replaces it (its warm-up in epochs then applies); one that sets warmup_steps sets it."""
    config = base_config(optimizers={"sgd": {"warmup_steps": 40}}, train={"steps": 500, "knn_fractions": [0.25]})
    config["mitigations"].update(gs={"gradscale": 1, "warmup_epochs": 100}, gs_steps={"warmup_steps": 300})
    config["grid"].update(mitigation=["none", "gs", "gs_steps"], model=["simclr"])
    config["overrides"] = {"simclr-sgd-none-aimb-r18-s1": {"warmup_epochs": 3}}
    runs = runs_of(config)
    assert runs["simclr-sgd-none-a-r18-s0"]["warmup_steps"] == 40
    assert runs["simclr-sgd-none-a-r18-s0"]["steps"] == 500
    assert runs["simclr-sgd-none-a-r18-s0"]["knn_fractions"] == [0.25]
    assert (runs["simclr-sgd-gs-a-r18-s0"]["warmup_steps"], runs["simclr-sgd-gs-a-r18-s0"]["warmup_epochs"]) == (None, 100)
    assert runs["simclr-sgd-gs_steps-a-r18-s0"]["warmup_steps"] == 300
    assert runs["simclr-sgd-none-aimb-r18-s1"]["warmup_steps"] is None
    assert runs["simclr-sgd-none-aimb-r18-s0"]["warmup_steps"] == 40
    defaults = runs_of(base_config())["simclr-sgd-none-a-r18-s0"]
    assert (defaults["steps"], defaults["knn_fractions"], defaults["warmup_steps"]) == (None, None, None)


def test_the_papers_setup_text_for_adam_is_an_option():
    config = base_config(optimizers={"adam": {"lr_per_256": None, "lr_scale": 1 / 6}})
    config["grid"].update(optimizer=["adam"])
    runs = runs_of(config)
    assert runs["simclr-adam-none-a-r18-s0"]["lr"] == pytest.approx(0.03)  # SGD's 0.18 / 6
    assert runs["simsiam-adam-none-a-r18-s0"]["lr"] == pytest.approx(0.08)  # 0.48 / 6
    assert "adam_lr_per_256" not in runs["simclr-adam-none-a-r18-s0"]


@pytest.mark.parametrize("where", ["per_model", "override"])
@pytest.mark.parametrize("key, bad, rule", [("cut", "abc", "is not of type 'number'"),
                                             ("cut", 0.5, "less than the minimum of 1"),
                                             ("epochs", 0, "less than the minimum of 1"),
                                             ("loss", "infonce", "is not one of"),
                                             ("adam_betas", [0.9], "is too short")])
def test_an_override_value_meets_the_rule_of_the_key_it_overrides(where, key, bad, rule):
    """Issue 11: `mitigations.cut.per_model.simsiam.cut: abc` passed the schema and reached a training job."""
    from jsonschema.exceptions import ValidationError
    from snakemake.exceptions import WorkflowError

    config = base_config()
    if where == "per_model":
        config["mitigations"]["cut"]["per_model"]["simsiam"] = {key: bad}
    else:
        config["overrides"] = {"*-a-*": {key: bad}}
    with pytest.raises(WorkflowError) as error:
        validated(config)
    cause = error.value.__cause__ or error.value.__context__
    assert isinstance(cause, ValidationError) and rule in cause.message
    assert list(cause.absolute_path)[-1] == key


def test_every_overridable_hyperparameter_has_a_rule_in_the_schema():
    """The schema's `overrides` definition lists every key an override may set (so none goes unchecked)."""
    schema = load(SCHEMA)
    ruled = set(schema["definitions"]["overrides"]["properties"])
    config = base_config()
    config["grid"].update(optimizer=["sgd", "adam"])
    from embnorm.config import DERIVED, FACTORS
    overridable = {k for run in runs_of(config).values() for k in run} - set(FACTORS + DERIVED)
    assert overridable == ruled


def test_a_law_that_empties_a_class_is_a_config_error():
    """Issue 11: CIFAR-100's law over Tiny-ImageNet's 200 classes left classes 186-199 with no image. (With a minimum
    of one image per class; the default minimum, 1 % of n_max, is tests/test_hostile_imbalance.py's.)"""
    config = base_config(datasets={"t": {"source": "tinyimagenet"},
                                   "timb": {"parent": "t", "imbalance": {"base": 1.034, "n_max": 500,
                                                                         "min_class_size": 1}}})
    config["grid"].update(dataset=["t", "timb"])
    with pytest.raises(ConfigError, match=r"^datasets.timb.imbalance: the law int\(500 \* 1.034\^-i\) over 200 "
                                          r"classes leaves class 186 .* base <= 1.0317"):
        runs_of(config)
    config["datasets"]["timb"]["imbalance"]["base"] = 1.0317
    assert runs_of(config)
    config = base_config()  # synthetic: 5000 / 10 = 500 per class by default, n_max unset -> the smallest class
    config["datasets"]["aimb"]["imbalance"].update(base=2.0, min_class_size=1)  # 500 * 2^-9 = 0.98
    with pytest.raises(ConfigError, match=r"datasets.aimb.imbalance: .* leaves class 9 \(and 0 more\)"):
        runs_of(config)


def test_no_imbalanced_split_of_the_paper_grid_empties_a_class():
    from embnorm.data.splits import KNOWN_SIZES, class_sizes

    config = load(REPO / "config/paper.yaml")
    for name, spec in config["datasets"].items():
        if "parent" in spec:
            classes = KNOWN_SIZES[config["datasets"][spec["parent"]]["source"]][0]
            assert min(class_sizes(spec["imbalance"]["n_max"], spec["imbalance"]["base"], classes)) >= 1, name
    tiny = config["datasets"]["tinyimagenetimb"]["imbalance"]
    sizes = class_sizes(tiny["n_max"], tiny["base"], 200)
    assert (sizes[0], sizes[-1], sum(sizes)) == (500, 18, 29_085)


# --- include and exclude -------------------------------------------------------------------------------------------

def test_exclude_drops_every_run_matching_all_its_keys():
    runs = runs_of(base_config(exclude=[{"model": "simsiam", "dataset": "aimb"}]))
    assert len(runs) == 12
    assert not [r for r in runs.values() if r["model"] == "simsiam" and r["dataset"] == "aimb"]
    assert "simsiam-sgd-cut-a-r18-s1" in runs


def test_include_adds_runs_that_exclude_does_not_touch():
    runs = runs_of(base_config(exclude=[{"model": "simsiam"}],
                               include=[{"model": "simsiam", "optimizer": "adam", "mitigation": "gs", "dataset": "a",
                                         "seed": 7}]))
    assert list(runs)[-1] == "simsiam-adam-gs-a-r18-s7"
    assert len(runs) == 9


def test_a_run_listed_twice_is_an_error():
    in_grid = {"model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "a", "seed": 0}
    with pytest.raises(ConfigError, match="simclr-sgd-none-a-r18-s0.*listed twice"):
        runs_of(base_config(include=[in_grid]))
    extra = dict(in_grid, seed=5)
    with pytest.raises(ConfigError, match="listed twice"):
        runs_of(base_config(include=[extra, extra]))


def test_an_exclude_that_drops_nothing_is_an_error():
    with pytest.raises(ConfigError, match=r"exclude\[0\].*matches no run"):
        runs_of(base_config(exclude=[{"model": "simclr", "seed": 9}]))


def test_excluding_every_run_is_an_error():
    with pytest.raises(ConfigError, match="no run"):
        runs_of(base_config(exclude=[{"model": "simclr"}, {"model": "simsiam"}]))


@pytest.mark.parametrize("section, where", [
    ({"grid": {"model": ["simclr"], "dataset": ["nope"]}}, "grid.dataset"),
    ({"grid": {"dataset": ["a"], "mitigation": ["nope"]}}, "grid.mitigation"),
    ({"include": [{"model": "simclr", "optimizer": "sgd", "mitigation": "none", "dataset": "nope"}]}, r"include\[0\]"),
    ({"exclude": [{"mitigation": "nope"}]}, r"exclude\[0\]"),
])
def test_undefined_names_are_errors_that_say_where(section, where):
    with pytest.raises(ConfigError, match=f"{where}.*'nope' is not defined"):
        runs_of(base_config(**section))


# --- overrides -----------------------------------------------------------------------------------------------------

def test_an_override_changes_one_run_and_nothing_else():
    baseline = runs_of(base_config())
    runs = runs_of(base_config(overrides={"simclr-sgd-none-a-r18-s0": {"epochs": 3, "batch_size": 512}}))
    changed = runs.pop("simclr-sgd-none-a-r18-s0")
    assert changed["epochs"] == 3 and changed["lr"] == pytest.approx(0.36)  # lr follows the batch size
    assert runs == {k: v for k, v in baseline.items() if k != "simclr-sgd-none-a-r18-s0"}


def test_pattern_overrides_apply_first_then_the_runs_own():
    runs = runs_of(base_config(overrides={"simclr-sgd-none-aimb-r18-s0": {"epochs": 7},
                                          "*-aimb-*": {"epochs": 5, "augment": "simclr"}}))
    assert runs["simclr-sgd-none-aimb-r18-s0"]["epochs"] == 7
    assert runs["simclr-sgd-none-aimb-r18-s0"]["augment"] == "simclr"
    assert {r["epochs"] for r in runs.values() if r["dataset"] == "aimb" and r["run_id"] != "simclr-sgd-none-aimb-r18-s0"} == {5}
    assert {r["epochs"] for r in runs.values() if r["dataset"] == "a"} == {512}


@pytest.mark.parametrize("overrides, message", [
    ({"simclr-sgd-none-a-r18-s0": {"epoch": 3}}, r"unknown hyper-parameter\(s\) \['epoch'\]"),
    ({"simclr-sgd-none-a-r18-s0": {"model": "simsiam"}}, r"\['model'\] cannot be overridden"),
    ({"simclr-sgd-none-a-r18-s0": {"lr": 0.1}}, r"\['lr'\] cannot be overridden.*lr_per_256"),
    ({"simclr-sgd-none-q-r18-s0": {"epochs": 3}}, "overrides.simclr-sgd-none-q-r18-s0: names no run"),
    ({"*-q-*": {"epochs": 3}}, r"overrides.\*-q-\*: names no run"),
])
def test_override_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        runs_of(base_config(overrides=overrides))


def test_a_per_model_typo_is_an_error():
    config = base_config()
    config["mitigations"]["cut"]["per_model"]["simsiam"] = {"cutt": 9}
    with pytest.raises(ConfigError, match=r"mitigations.cut.per_model.simsiam.*\['cutt'\]"):
        runs_of(config)


def test_the_workflow_reports_a_config_error_in_one_line(workflow):
    config = base_config(overrides={"simclr-sgd-none-a-r18-s9": {"epochs": 3}})
    workflow.write_config(config)
    proc = workflow.run("-n", check=False)
    assert proc.returncode == 1
    assert "embnorm: config error: overrides.simclr-sgd-none-a-r18-s9: names no run" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- presets -------------------------------------------------------------------------------------------------------

def test_the_presets_exist():
    assert {p.name for p in PRESETS} >= {"paper.yaml", "cifar-cpu.yaml", "ci-slurm.yaml"}


@pytest.mark.parametrize("preset", STANDALONE, ids=lambda p: p.name)
def test_a_preset_does_not_depend_on_config_yaml(preset):
    """`--configfile preset` is deep-merged over config.yaml (mappings key by key, lists replaced): the runs must be
    those of the preset alone, so nothing that config.yaml sets may leak into them."""
    merged = default_config()
    update_config(merged, load(preset))
    alone = runs_of(load(preset))
    assert runs_of(merged) == alone


def test_the_paper_preset_is_the_papers_grid():
    runs = runs_of(load(REPO / "config/paper.yaml"))
    assert len(runs) == 144  # 2 models x (2 optimizers x 3 + SGD x 3 weight decays) x 8 datasets
    assert {r["backbone"] for r in runs.values()} == {"resnet50"} and {r["epochs"] for r in runs.values()} == {512}
    assert all(run_id.endswith("-r50-s0") for run_id in runs)
    assert not [r for r in runs.values() if r["optimizer"] == "adam" and r["mitigation"].endswith("_wd")]
    by_dataset = {d: sum(r["dataset"] == d for r in runs.values()) for d in {r["dataset"] for r in runs.values()}}
    assert by_dataset == {d: 18 for d in ("cifar10", "cifar10imb", "cifar100", "cifar100imb", "imagenet100",
                                          "imagenet100imb", "tinyimagenet", "tinyimagenetimb")}
    simclr, simsiam = runs["simclr-sgd-none-cifar10-r50-s0"], runs["simsiam-sgd-none-cifar10-r50-s0"]
    assert (simclr["embed_dim"], simclr["weight_decay"], simclr["lr"]) == (256, 1e-6, pytest.approx(0.18))
    assert (simsiam["embed_dim"], simsiam["weight_decay"], simsiam["lr"]) == (2048, 5e-4, pytest.approx(0.48))
    assert runs["simsiam-sgd-cut-cifar100imb-r50-s0"]["cut"] == 9
    assert runs["simsiam-sgd-tiny_wd-tinyimagenet-r50-s0"]["weight_decay"] == 5e-6
    assert runs["simclr-sgd-large_wd-cifar10-r50-s0"]["weight_decay"] == 1e-4
    assert runs["simclr-sgd-gradscale-cifar10-r50-s0"]["warmup_epochs"] == 100
    # GradScale's lr / 6 under SGD only; Adam's own rate 1e-3 * B / 256, not divided again (issue 11)
    assert runs["simclr-sgd-gradscale-cifar10-r50-s0"]["lr"] == pytest.approx(0.03)
    assert runs["simsiam-sgd-gradscale-cifar10-r50-s0"]["lr"] == pytest.approx(0.08)
    for model, lr in (("simclr", 1e-3), ("simsiam", 4e-3)):
        assert runs[f"{model}-adam-none-cifar10-r50-s0"]["lr"] == pytest.approx(lr)
        assert runs[f"{model}-adam-gradscale-cifar10-r50-s0"]["lr"] == pytest.approx(lr)
    assert {r["augment"] for r in runs.values() if "imagenet" in r["dataset"]} == {"simclr"}
    assert {r["augment"] for r in runs.values() if r["dataset"].startswith("cifar")} == {"simclr_cifar"}


def test_the_cifar_cpu_preset_uses_real_cifar_and_the_small_backbone():
    runs = runs_of(load(REPO / "config/cifar-cpu.yaml"))
    assert len(runs) == 9
    assert {r["backbone"] for r in runs.values()} == {"small"}
    assert {r["source"] for r in runs.values()} == {"cifar10", "cifar100"}


def test_the_paper_preset_plans_its_jobs_per_run_and_stage(workflow):
    """`snakemake -n --configfile config/paper.yaml` (from a checkout: config.yaml merged below the preset). An
    ImageNet root must exist to plan. How long planning takes is a benchmark: benchmarks/plan_time.py."""
    shutil.copy(REPO / "config.yaml", workflow.workdir / "config.yaml")
    (workflow.workdir / "resources/downloads/imagenet").mkdir(parents=True)
    jobs = workflow.planned_jobs("--configfile", str(REPO / "config/paper.yaml"))
    per_run = {rule: jobs[rule] for rule in ("run_params", "train", "embed", "prepare_dataset", "imbalanced_split")}
    # embed: one job per run and dataset it is embedded on, its source and the OOD partner of the 72 CIFAR runs
    assert per_run == {"run_params": 144, "train": 144, "embed": 216, "prepare_dataset": 4, "imbalanced_split": 4}


def test_the_byol_preset_adds_a_simsiam_and_a_byol_run_to_the_default_study():
    """`snakemake --configfile config/byol.yaml`: config.yaml with the preset deep-merged over it."""
    from snakemake.utils import update_config

    config = load(REPO / "config.yaml")
    update_config(config, load(REPO / "config/byol.yaml"))
    runs = runs_of(config)
    default = runs_of(load(REPO / "config.yaml"))
    added = {"simsiam-sgd-none-synth-small-s0", "byol-sgd-none-synth-small-s0"}
    assert set(runs) - set(default) == added and set(default) <= set(runs)
    byol = runs["byol-sgd-none-synth-small-s0"]
    sizes = (byol["embed_dim"], byol["hidden_dim"], byol["predictor_dim"], byol["weight_decay"])
    assert sizes == (64, 1024, 1024, 1e-5)
