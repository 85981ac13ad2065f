"""The read-gate of the confidence claims (paper-reference §7.1, amendments of 2026-11-30 and 2026-12-02).

A confidence claim says that the norm of a *trained* encoder carries what it learned: OOD inputs (C7), kNN
correctness (C8), human confidence (C9) and class frequency (C10) -- the four claims of the paper's Section 5,
"Embedding norm as a signal of confidence" (paper-reference §5.1-5.4). On an encoder that did not learn, these
statistics measure the image statistics that were there at initialisation, so the claim cannot be read.

"Learned" is fixed here, before any result was read: in every run the claim reads (its baseline runs, balanced for
C7-C9, imbalanced for C10), the final test kNN accuracy of the training monitor exceeds its value at initialisation by
at least READ_GATE_MIN_GAIN = 5 points. Five points is above the sampling noise of the gain on the built-in
1,000-image test set (the standard error of a difference of two accuracies is at most sqrt(2 * 0.25 / 1000) = 2.2
points, 1.96 of them 4.4 points) and a quarter of the 20-point learnability goal of the built-in data.

Two readings apply it differently:
- the pre-registered reading (`read_gate`, `gated`) is all-or-nothing: one run anywhere that did not learn makes the
  claim `inconclusive`;
- the amended reading (`group_gate`, `read_by_group`) gates each (model, optimizer, dataset) group on its own: a group
  that fails is left out and named, the claim is read on the groups that pass, and it is `inconclusive` only if none
  passes -- one model that did not learn no longer hides the others.

    >>> default_wd = {model: spec["weight_decay"] for model, spec in config["models"].items()}  # doctest: +SKIP
    >>> read_gate(training, default_wd, imbalanced=False)   # doctest: +SKIP
    (False, 'read-gate failed: ... <model> sgd / synth s0: test kNN 0.82 -> 0.85 (+3 points) ...')
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from embnorm.analysis.claims.inputs import Inputs
from embnorm.analysis.claims.runs import baseline
from embnorm.analysis.claims.verdict import AMENDED, NOT_MEASURED, make_inconclusive, note, num

READ_GATE_MIN_GAIN = 0.05  # final minus initial test kNN accuracy (fractions) in every run the claim reads
GROUP = ["model", "optimizer", "dataset"]
RULE = f"final test kNN >= initial + {num(100 * READ_GATE_MIN_GAIN)} points in every run read"
GROUP_RULE = f"final test kNN >= initial + {num(100 * READ_GATE_MIN_GAIN)} points in every baseline run of the group"


def _learned(runs: pd.DataFrame) -> pd.Series:
    return (runs.final_knn_acc - runs.init_knn_acc) >= READ_GATE_MIN_GAIN  # a missing initial accuracy fails too


def _describe(key: tuple, runs: pd.DataFrame) -> str:
    m, o, d = key
    return (f"{m} {o} / {d}: test kNN {num(runs.init_knn_acc.mean())} -> {num(runs.final_knn_acc.mean())} (gain min "
            f"{num(100 * (runs.final_knn_acc - runs.init_knn_acc).min())} points over {len(runs)} run(s))")


def read_gate(training: pd.DataFrame, default_wd: dict, imbalanced: bool) -> tuple[bool, str]:
    """(passed, note): whether every baseline run of the kind the claim reads learned, and the numbers."""
    runs = baseline(training, default_wd, imbalanced) if not training.empty else training
    if runs.empty:
        return True, ""  # nothing is read; the claim's own row says `not measured`
    failed = runs[~_learned(runs)]
    groups = "; ".join(_describe(key, f) for key, f in runs.groupby(GROUP, sort=False))
    if failed.empty:
        return True, f"read-gate passed ({RULE}): {groups}"
    return False, f"read-gate failed, the encoder did not clearly learn ({RULE}; fails in {len(failed)} of " \
                  f"{len(runs)} runs): {groups}"


def gated(reading: dict, training: pd.DataFrame, default_wd: dict, imbalanced: bool) -> dict:
    """Pre-registered: a confidence claim's reading with the all-or-nothing gate applied (`inconclusive` if it fails,
    the gate's numbers noted)."""
    passed, gate_note = read_gate(training, default_wd, imbalanced)
    if not gate_note or reading["verdict"] == NOT_MEASURED:
        return reading
    return note(reading, gate_note) if passed else make_inconclusive(reading, gate_note)


def group_gate(training: pd.DataFrame, default_wd: dict, imbalanced: bool | None) -> tuple[set, dict]:
    """(passed, failed): the (model, optimizer, dataset) groups of baseline runs (of the given balance; None: all)
    whose every run learned, and {group: its numbers} for those that did not."""
    runs = baseline(training, default_wd, imbalanced) if not training.empty else training
    passed, failed = set(), {}
    for key, f in (runs.groupby(GROUP, sort=False) if not runs.empty else ()):
        if _learned(f).all():
            passed.add(key)
        else:
            failed[key] = _describe(key, f)
    return passed, failed


def _keys(frame: pd.DataFrame) -> pd.Series:
    """Each row's (model, optimizer, dataset) group; a table of OOD ratios names the training set `train_dataset`."""
    dataset = frame.train_dataset if "train_dataset" in frame else frame.dataset
    return pd.Series(list(zip(frame.model, frame.optimizer, dataset)), index=frame.index, dtype=object)


def _label(key: tuple) -> str:
    return f"{key[0]} {key[1]} / {key[2]}"


def read_by_group(rule: Callable[[Inputs], dict], inp: Inputs, reads, imbalanced: bool) -> dict:
    """Amended: the rule read on the groups of the claim's tables (`reads`, the training summary aside) whose
    baseline runs pass the read-gate; the reason names the groups read and those left out. `inconclusive` when no
    group passes, or when the groups left out are what the rule lacks (for example C7's reverse direction)."""
    passed, failed = group_gate(inp.training, inp.default_wd, imbalanced)
    tables = {key: inp[key] for key in reads if key != "training"}
    groups = {k for frame in tables.values() if not frame.empty
              for k in _keys(baseline(frame, inp.default_wd, imbalanced))}
    kept = {key: frame[_keys(frame).isin(passed)] if not frame.empty else frame for key, frame in tables.items()}
    reading = rule(inp.with_tables(**kept))
    read_on, left_out = sorted(groups & passed), sorted(groups - passed)
    if not groups or (reading["verdict"] == NOT_MEASURED and not left_out):
        return reading  # nothing was read, and the gate left nothing out: the rule's own `not measured`
    why_out = "; ".join(failed.get(k, f"{_label(k)}: no baseline training run to read the gate on") for k in left_out)
    gate_rule = f"read-gate per (model, optimizer, dataset) group: {GROUP_RULE}"
    if not read_on:
        return make_inconclusive(reading, f"no group passes the {gate_rule}: {why_out}", keep_not_measured=False,
                                 by=AMENDED)
    summary = f"read on {', '.join(map(_label, read_on))} ({gate_rule})" + \
              (f"; left out by the read-gate: {why_out}" if left_out else "")
    if reading["verdict"] == NOT_MEASURED and left_out:
        return make_inconclusive(reading, f"what the rule lacks was left out by the read-gate: {summary}",
                                 keep_not_measured=False, by=AMENDED)
    return note(reading, summary)
