"""The read-gate of the confidence claims (paper-reference §7.1, amendment of 2026-11-30).

A confidence claim says that the norm of a *trained* encoder carries what it learned: OOD inputs (C7), kNN
correctness (C8), human confidence (C9) and class frequency (C10) -- the four claims of the paper's Section 5,
"Embedding norm as a signal of confidence" (paper-reference §5.1-5.4). On an encoder that did not learn, these
statistics measure the image statistics that were there at initialisation, so the claim cannot be read: its verdict
is `inconclusive (read-gate ...)`, whatever the statistic says.

"Learned" is fixed here, before any result was read: in every run the claim reads (its baseline runs, balanced for
C7-C9, imbalanced for C10), the final test kNN accuracy of the training monitor (k = 200, cosine) exceeds its value
at initialisation by at least READ_GATE_MIN_GAIN = 5 points. Five points is above the sampling noise of the gain on
the built-in 1,000-image test set (the standard error of a difference of two accuracies is at most
sqrt(2 * 0.25 / 1000) = 2.2 points, 1.96 of them 4.4 points) and a quarter of the 20-point gain issue 13 sets as the
built-in data's learnability goal.

    >>> default_wd = {model: spec["weight_decay"] for model, spec in config["models"].items()}  # doctest: +SKIP
    >>> read_gate(training, default_wd, imbalanced=False)   # doctest: +SKIP
    (False, 'read-gate failed: ... <model> sgd / synth s0: test kNN 0.82 -> 0.85 (+3 points) ...')
"""

from __future__ import annotations

import pandas as pd

from embnorm.analysis.claims.runs import baseline
from embnorm.analysis.claims.verdict import NOT_MEASURED, make_inconclusive, num

READ_GATE_MIN_GAIN = 0.05  # final minus initial test kNN accuracy (fractions) in every run the claim reads
CONFIDENCE_CLAIMS = {"C7": False, "C8": False, "C9": False, "C10": True}  # claim -> reads imbalanced runs


def read_gate(training: pd.DataFrame, default_wd: dict, imbalanced: bool) -> tuple[bool, str]:
    """(passed, note): whether every baseline run of the kind the claim reads learned, and the numbers."""
    runs = baseline(training, default_wd, imbalanced) if not training.empty else training
    if runs.empty:
        return True, ""  # nothing is read; the claim's own row says `not measured`
    gain = runs.final_knn_acc - runs.init_knn_acc
    failed = runs[~(gain >= READ_GATE_MIN_GAIN)]  # a missing initial accuracy fails too
    groups = "; ".join(
        f"{m} {o} / {d}: test kNN {num(f.init_knn_acc.mean())} -> {num(f.final_knn_acc.mean())} (gain min "
        f"{num(100 * (f.final_knn_acc - f.init_knn_acc).min())} points over {len(f)} run(s))"
        for (m, o, d), f in runs.groupby(["model", "optimizer", "dataset"], sort=False))
    rule = f"final test kNN >= initial + {num(100 * READ_GATE_MIN_GAIN)} points in every run read"
    if failed.empty:
        return True, f"read-gate passed ({rule}): {groups}"
    return False, f"read-gate failed, the encoder did not clearly learn ({rule}; fails in {len(failed)} of " \
                  f"{len(runs)} runs): {groups}"


def gated(claim_row: dict, training: pd.DataFrame, default_wd: dict) -> dict:
    """A confidence claim's row with its read-gate applied: `inconclusive` if it fails, the gate's numbers noted."""
    if claim_row["claim"] not in CONFIDENCE_CLAIMS:
        return claim_row
    passed, note = read_gate(training, default_wd, CONFIDENCE_CLAIMS[claim_row["claim"]])
    if not note or claim_row["verdict"] == NOT_MEASURED:
        return claim_row
    if not passed:
        return make_inconclusive(claim_row, note)
    return {**claim_row, "reason": f"{claim_row['reason']}; {note}" if claim_row["reason"] else note}
