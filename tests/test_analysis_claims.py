"""The claims check's verdict logic (paper-reference §7.1) on constructed tables: supported, not supported, and not
measured with a reason, without ever raising on a config that lacks runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embnorm.analysis.claims import (COLUMNS, INCONCLUSIVE, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED, TABLES,
                                     check_claims)
from embnorm.analysis.claims.verdict import Outcome, judge, spans
from helpers.claims import WD, good_tables, training_rows

def verdicts(tables) -> dict[str, str]:
    claims = check_claims(tables, WD, resamples=200)
    assert list(claims.columns) == list(COLUMNS) and claims.claim.tolist() == [f"C{i}" for i in range(1, 15)]
    return dict(zip(claims.claim, claims.verdict))


def test_every_claim_is_supported_on_tables_built_to_support_it():
    assert set(good_tables()) == set(TABLES)
    v = verdicts(good_tables())
    assert v == {f"C{i}": SUPPORTED for i in range(1, 15)}


@pytest.mark.parametrize("claim, break_it", [
    ("C1", lambda t: t["gradients"].loc.__setitem__((1, "value"), 1e-6)),
    ("C2", lambda t: t["gd_norms"].loc.__setitem__((3, "frac_not_decreased"), 0.999)),
    ("C3", lambda t: t["convergence_norm"].__setitem__("steps", np.round(96 * t["convergence_norm"].norm ** 1.5))),
    ("C4", lambda t: t["convergence_angle"].__setitem__("steps", 100.0 - t["convergence_angle"].initial_mean_angle)),
    ("C5", lambda t: t["training"].loc.__setitem__((0, "norm_growth"), 0.9)),
    ("C6", lambda t: t["imbalance_norms"].__setitem__("mean_norm", 7 - 0.1 * t["imbalance_norms"]["class"])),
    ("C7", lambda t: t["norm_vs_ood"].loc.__setitem__((3, "ratio_to_id_train"), 0.995)),
    ("C8", lambda t: t["knn_spearman"].loc.__setitem__((0, ["rho_within", "rho_within_ci_lo", "rho_within_ci_hi"]),
                                                       [-0.2, -0.3, -0.1])),
    ("C9", lambda t: t["human_spearman"].loc.__setitem__((1, "rho_ci_hi"), 0.01)),
    ("C10", lambda t: t["class_metrics"].__setitem__("train_norm_mean", 5 + 0.1 * t["class_metrics"]["class"])),
    ("C13", lambda t: t["weight_decay"].loc.__setitem__((3, "final_projector_norm"), 6.0)),
])
def test_a_failed_rule_is_not_supported(claim, break_it):
    tables = good_tables()
    break_it(tables)
    v = verdicts(tables)
    assert v[claim] == NOT_SUPPORTED
    assert all(verdict == SUPPORTED for c, verdict in v.items() if c != claim)


def test_mitigation_rules():
    tables = good_tables()
    training = tables["training"]
    # a final-epoch cost of more than one point fails C11 even with an early gain
    cut_sgd = (training.mitigation == "cut") & (training.optimizer == "sgd") & (training.dataset == "bal")
    training.loc[cut_sgd, "final_knn_acc"] = 0.68
    # GradScale gaining less on imbalanced than on balanced data, in every seed, fails C12's last condition
    gs = (training.mitigation == "gradscale") & (training.optimizer == "sgd")
    training.loc[gs & ~training.imbalanced, "early_knn_acc"] = 0.55
    training.loc[gs & training.imbalanced, "early_knn_acc"] = 0.52
    # an early loss under Adam, in every seed, fails C14
    training.loc[(training.optimizer == "adam") & (training.mitigation == "cut"), "early_knn_acc"] = 0.48
    v = verdicts(tables)
    assert (v["C11"], v["C12"], v["C14"]) == (NOT_SUPPORTED, NOT_SUPPORTED, NOT_SUPPORTED)


def test_a_config_without_runs_of_a_kind_is_not_measured_with_a_reason():
    tables = good_tables()
    tables["training"] = tables["training"][(tables["training"].optimizer == "sgd")
                                            & (tables["training"].mitigation == "none")]
    empty = {"knn_spearman", "human_spearman", "class_metrics", "weight_decay", "norm_vs_ood"}
    for key in empty:
        tables[key] = pd.DataFrame()
    claims = check_claims(tables, WD, resamples=200).set_index("claim")
    for claim, reason in (("C7", "OOD"), ("C8", "baseline"), ("C9", "human labels"), ("C10", "imbalanced"),
                          ("C11", "cut-init"), ("C12", "GradScale"), ("C13", "weight-decay sweep"),
                          ("C14", "no Adam runs")):
        assert claims.loc[claim, "verdict"] == NOT_MEASURED
        assert reason in claims.loc[claim, "reason"]
    assert claims.loc["C5", "verdict"] == SUPPORTED


def test_c12_without_an_imbalanced_pair_is_not_measured():
    tables = good_tables()
    tables["training"] = tables["training"][~tables["training"].imbalanced]
    claims = check_claims(tables, WD, resamples=200).set_index("claim")
    assert claims.loc["C12", "verdict"] == NOT_MEASURED and "imbalanced" in claims.loc["C12", "reason"]
    assert claims.loc["C11", "verdict"] == SUPPORTED


def test_c5_is_read_on_unmitigated_runs_and_shows_the_mitigated_beside():
    """§7.1 amendment: C5 is about standard training. A mitigated run with the default weight decay whose norm shrinks
    must not decide it (it did on the old code: every default-weight-decay run was in the verdict), and a shrinking
    unmitigated run must."""
    tables = good_tables()
    training = tables["training"]
    training.loc[training.mitigation == "gradscale", "norm_growth"] = 0.8
    claims = check_claims(tables, WD, resamples=200).set_index("claim")
    assert claims.loc["C5", "verdict"] == SUPPORTED
    verdict_part, beside = claims.loc["C5", "value"].split(" | ")
    assert "gradscale" not in verdict_part and "none" in verdict_part
    assert beside.startswith("mitigated, not in the verdict") and "gradscale" in beside and "0.8" in beside
    unmitigated = int((training.mitigation == "none").sum())
    assert claims.loc["C5", "n"].startswith(f"{unmitigated} unmitigated runs")
    training.loc[(training.mitigation == "none") & (training.optimizer == "adam"), "norm_growth"] = 0.9
    assert check_claims(tables, WD, resamples=200).set_index("claim").loc["C5", "verdict"] == NOT_SUPPORTED


def test_c5_without_an_unmitigated_run_is_not_measured():
    tables = good_tables()
    tables["training"] = tables["training"][tables["training"].mitigation != "none"]
    claims = check_claims(tables, WD, resamples=200).set_index("claim")
    assert claims.loc["C5", "verdict"] == NOT_MEASURED and "unmitigated" in claims.loc["C5", "reason"]
    assert "mitigated, not in the verdict" in claims.loc["C5", "value"]


@pytest.mark.parametrize("missing, named", [("human_entropy", "entropy"), ("human_agreement", "agreement")])
def test_c9_with_one_half_missing_is_not_measured_and_says_which(missing, named):
    """§7.1 amendment: both halves are needed. On the old code an empty entropy table passed `.all()` vacuously, so
    C9 was `supported` on the agreement half alone."""
    tables = good_tables()
    tables["human_spearman"] = tables["human_spearman"][tables["human_spearman"].measure != missing]
    claims = check_claims(tables, WD, resamples=200).set_index("claim")
    assert claims.loc["C9", "verdict"] == NOT_MEASURED
    assert f"the {named}" in claims.loc["C9", "reason"] and "half is not measured" in claims.loc["C9", "reason"]
    assert f"{named}: not measured" in claims.loc["C9", "value"]


# --- amendment of 2026-11-30: `inconclusive` (paper-reference §7.1), on constructed tables -------------------------
# A rule that needs >= 3 seeds and has fewer, a CI containing both 0 and the rule's threshold, or a confidence claim
# whose read-gate fails is `inconclusive (reason)`; the cases that stay `supported` / `not supported` are here too.

def claims_of(tables) -> pd.DataFrame:
    return check_claims(tables, WD, resamples=500).set_index("claim")


def set_early(tables, optimizer, mitigation, gains, dataset="bal"):
    """The early kNN accuracy of one mitigation's runs, per seed: baseline 0.5 plus the given gains."""
    t = tables["training"]
    for seed, gain in enumerate(gains):
        sel = (t.optimizer == optimizer) & (t.mitigation == mitigation) & (t.dataset == dataset) & (t.seed == seed)
        t.loc[sel, "early_knn_acc"] = 0.5 + gain


def test_judge_a_decided_failure_refutes_an_undecided_condition_leaves_it_open():
    assert judge([Outcome(True), Outcome(True)]) == (True, "")
    assert judge([Outcome(False), Outcome(False, "too few seeds")]) == (False, "")
    assert judge([Outcome(True), Outcome(False, "too few seeds")]) == (False, "too few seeds")
    assert spans(-0.01, 0.02, 0.0) and spans(-0.02, 0.001, -0.01)
    assert not spans(-0.02, -0.001, -0.01) and not spans(0.001, 0.02, 0.0)


def test_fewer_than_three_seeds_is_inconclusive_not_decided_either_way():
    for seeds in (1, 2):
        tables = good_tables()
        tables["training"] = training_rows(seeds=seeds)
        claims = claims_of(tables)
        for claim in ("C11", "C12", "C14"):
            assert claims.loc[claim, "verdict"] == INCONCLUSIVE, (seeds, claim)
            assert f"{seeds} seed(s), the rule needs >= 3" in claims.loc[claim, "reason"]
    # with one seed and an early loss, too: one seed cannot refute either
    tables = good_tables()
    tables["training"] = training_rows(seeds=1)
    set_early(tables, "sgd", "cut", [-0.05])
    assert claims_of(tables).loc["C11", "verdict"] == INCONCLUSIVE


def test_an_early_gain_whose_ci_contains_zero_is_inconclusive():
    tables = good_tables()
    set_early(tables, "sgd", "cut", [0.03, -0.01, 0.02])  # mean > 0, but the CI over seeds reaches below 0
    claims = claims_of(tables)
    assert claims.loc["C11", "verdict"] == INCONCLUSIVE
    assert "contains both 0 and the threshold" in claims.loc["C11", "reason"]
    assert "width" in claims.loc["C11", "spread"]


def test_a_final_cost_whose_ci_contains_zero_and_minus_one_point_is_inconclusive():
    tables = good_tables()
    t = tables["training"]
    cut = (t.optimizer == "sgd") & (t.mitigation == "cut") & (t.dataset == "bal")
    for seed, diff in enumerate([-0.05, 0.01, -0.005]):  # mean -1.5 points: fails -1 point; CI spans 0 and -1 point
        t.loc[cut & (t.seed == seed), "final_knn_acc"] = 0.7 + diff
    claims = claims_of(tables)
    assert claims.loc["C11", "verdict"] == INCONCLUSIVE and "final difference" in claims.loc["C11", "reason"]


def test_a_decided_failure_with_three_seeds_is_still_not_supported():
    tables = good_tables()
    set_early(tables, "sgd", "cut", [-0.03, -0.02, -0.04])  # an early loss in every seed: CI below 0
    tables["knn_spearman"].loc[0, ["rho", "rho_ci_lo", "rho_ci_hi"]] = [-0.2, -0.3, -0.1]
    claims = claims_of(tables)
    assert claims.loc["C11", "verdict"] == NOT_SUPPORTED and claims.loc["C8", "verdict"] == NOT_SUPPORTED
    assert claims.loc["C12", "verdict"] == SUPPORTED


def test_a_correlation_ci_that_contains_zero_is_inconclusive():
    tables = good_tables()
    tables["knn_spearman"].loc[0, ["rho_within", "rho_within_ci_lo", "rho_within_ci_hi"]] = [0.05, -0.01, 0.1]
    tables["imbalance_density"]["norm"] = np.random.default_rng(1).normal(5, 1, len(tables["imbalance_density"]))
    claims = claims_of(tables)
    assert claims.loc["C8", "verdict"] == INCONCLUSIVE and "rho_within" in claims.loc["C8", "reason"]
    assert claims.loc["C6", "verdict"] == INCONCLUSIVE and "density" in claims.loc["C6", "reason"]
    assert "width" in claims.loc["C8", "value"]


def test_a_failed_read_gate_makes_the_confidence_claims_inconclusive_whatever_they_show():
    tables = good_tables()
    t = tables["training"]
    t.loc[~t.imbalanced, "init_knn_acc"] = 0.68  # balanced runs: 0.68 -> 0.70, 2 points (gate: >= 5 points)
    tables["knn_spearman"].loc[0, ["rho", "rho_ci_lo", "rho_ci_hi"]] = [-0.2, -0.3, -0.1]  # would be not supported
    claims = claims_of(tables)
    for claim in ("C7", "C8", "C9"):
        assert claims.loc[claim, "verdict"] == INCONCLUSIVE, claim
        assert "read-gate failed" in claims.loc[claim, "reason"]
    assert claims.loc["C10", "verdict"] == SUPPORTED and "read-gate passed" in claims.loc["C10", "reason"]
    assert claims.loc["C11", "verdict"] == SUPPORTED  # not a confidence claim: no gate


def test_the_read_gate_margin_is_five_points_in_every_run():
    tables = good_tables()
    t = tables["training"]
    imb_base = t.imbalanced & (t.mitigation == "none")
    t.loc[imb_base, "init_knn_acc"] = 0.66  # gain 4 points: not clearly learned
    assert claims_of(tables).loc["C10", "verdict"] == INCONCLUSIVE
    t.loc[imb_base, "init_knn_acc"] = 0.64  # gain 6 points
    assert claims_of(tables).loc["C10", "verdict"] == SUPPORTED


def test_c7_needs_both_directions_unless_one_already_fails():
    tables = good_tables()
    ood = tables["norm_vs_ood"]
    tables["norm_vs_ood"] = ood[ood.train_dataset == "bal"].reset_index(drop=True)
    claims = claims_of(tables)
    assert claims.loc["C7", "verdict"] == NOT_MEASURED and "oodset -> bal" in claims.loc["C7", "reason"]
    tables["norm_vs_ood"].loc[3, "ratio_to_id_train"] = 0.995
    assert claims_of(tables).loc["C7", "verdict"] == NOT_SUPPORTED


def test_c13_reads_sweeps_of_three_or_more_values_for_each_model():
    tables = good_tables()
    sweep = tables["weight_decay"]
    tables["weight_decay"] = sweep[sweep.weight_decay.isin([0, 1e-6])]
    assert claims_of(tables).loc["C13", "verdict"] == NOT_MEASURED
    tables["weight_decay"] = sweep
    t = tables["training"]
    tables["training"] = pd.concat([t, t[t.mitigation == "none"].assign(model="simsiam", weight_decay=5e-4)])
    claims = claims_of(tables)
    assert claims.loc["C13", "verdict"] == NOT_MEASURED and "simsiam" in claims.loc["C13", "reason"]


def test_a_pair_whose_early_evaluations_differ_is_left_out_by_name_not_silently():
    tables = good_tables()
    t = tables["training"]
    cut_s0 = (t.optimizer == "sgd") & (t.mitigation == "cut") & (t.dataset == "bal") & (t.seed == 0)
    t.loc[cut_s0, "early_epoch"] = 7  # the baseline's early evaluation is at epoch 5
    claims = claims_of(tables)
    assert "s0 left out: early evaluation at epoch 7 vs the baseline's 5" in claims.loc["C11", "spread"]
    assert "2 seed(s), the rule needs >= 3" in claims.loc["C11", "reason"]  # the two comparable pairs remain
    t.loc[(t.optimizer == "sgd") & (t.mitigation == "cut") & (t.dataset == "bal"), "early_epoch"] = 7
    claims = claims_of(tables)
    assert claims.loc["C11", "verdict"] == INCONCLUSIVE
    assert "no pair with the baseline's early evaluation" in claims.loc["C11", "reason"]


def test_c5_shows_the_predictor_and_last_bn_norms_beside_its_verdict():
    tables = good_tables()
    t = tables["training"]
    t["init_predictor_norm"], t["final_predictor_norm"] = np.nan, np.nan
    t["init_last_bn_affine_norm"], t["final_last_bn_affine_norm"] = np.nan, np.nan
    first = t.index[(t.mitigation == "none") & (t.optimizer == "sgd") & (t.dataset == "bal")][0]
    t.loc[first, ["init_predictor_norm", "final_predictor_norm"]] = [8.97, 11.8]
    t.loc[first, ["init_last_bn_affine_norm", "final_last_bn_affine_norm"]] = [21.0, 19.6]
    before = claims_of(good_tables()).loc["C5", "verdict"]
    c5 = claims_of(tables).loc["C5"]
    assert f"{t.loc[first, 'run_id']}: 8.97 -> 11.8" in c5["value"]
    assert "projector's last BN affine norm, not in the verdict" in c5["value"] and "21 -> 19.6" in c5["value"]
    assert c5["verdict"] == before
