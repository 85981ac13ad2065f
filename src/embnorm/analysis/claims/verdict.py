"""The verdict of one reading of a claim, and the claims table's columns (paper-reference §7.1 and its amendments).

`supported` only if the rule holds; `not supported` if it was evaluated and fails; `not measured` (with the reason)
if the configuration lacks what the rule needs; `inconclusive` (with the reason) if the rule was evaluated but the run
cannot decide it (§7.1 as of 2026-11-30): a rule that needs >= 3 seeds has fewer, the CI of the deciding statistic
contains both 0 and the rule's threshold, or a confidence claim's read-gate fails (`gate.py`).

A rule is a conjunction of conditions (one per run group, statistic or half). Each condition is an `Outcome`: it
holds, it fails, or it is undecided (and says why). `judge` combines them: one decided failure refutes the rule
(`not supported`), else one undecided condition makes it `inconclusive`, else it is `supported`.

    >>> judge([Outcome(True), Outcome(False, "bal: 2 seeds, the rule needs >= 3")])
    (False, 'bal: 2 seeds, the rule needs >= 3')

Numbers are formatted for reading; the TSV keeps the text as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SUPPORTED, NOT_SUPPORTED, NOT_MEASURED, INCONCLUSIVE = "supported", "not supported", "not measured", "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_MEASURED)
# `verdict`/`reason`: the pre-registered reading (§7.1 as of 2026-11-30); `amended_verdict`/
# `amended_reason`: the post-hoc amended reading of 2026-12-02, beside it; `untrained`: a confidence claim's statistic
# on the encoders at initialisation (shown, not a rule).
COLUMNS = ("claim", "claim_text", "statistic", "value", "threshold", "spread", "n", "verdict", "reason",
           "amended_verdict", "amended_reason", "untrained")
AMENDMENT = "§7.1 as of 2026-11-30"  # names the pre-registered rules in a reason
AMENDED = "amended reading of 2026-12-02"  # names the amended rules in a reason
MIN_SEEDS = 3  # amendment: a rule that needs a CI over seeds needs >= 3 seeds; with fewer it is inconclusive


def num(x, digits: int = 3) -> str:
    """A number for reading: 3 significant digits, scientific notation for tiny values, 'nan' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if isinstance(x, (int,)) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return str(int(x))
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def ci(lo, hi) -> str:
    """A 95% CI with its width, so that a reader sees the resolution of the statistic."""
    return f"95% CI [{num(lo)}, {num(hi)}] (width {num(hi - lo)})"


@dataclass(frozen=True)
class Outcome:
    """One condition of a rule: `holds`, and if the run cannot decide it, `undecided` says why (then `holds` is
    not read)."""
    holds: bool
    undecided: str = ""


def spans(lo: float, hi: float, threshold: float) -> bool:
    """The CI contains both 0 and the rule's threshold: the data cannot tell 'no effect' from 'the effect the rule
    asks for'. For a threshold of 0 this is a CI that contains 0."""
    return lo <= min(0.0, threshold) and hi >= max(0.0, threshold)


def ci_outcome(label: str, lo: float, hi: float, threshold: float, above: bool = True) -> Outcome:
    """The rule 'CI above (or below) the threshold': holds if it is; undecided if the CI spans 0 and the threshold;
    otherwise a decided failure."""
    if (lo > threshold) if above else (hi < threshold):
        return Outcome(True)
    if spans(lo, hi, threshold):
        return Outcome(False, f"{label}: the 95% CI [{num(lo)}, {num(hi)}] contains both 0 and the threshold "
                              f"{num(threshold)}")
    return Outcome(False)


def mean_outcome(label: str, mean: float, lo: float, hi: float, threshold: float, strict: bool = False) -> Outcome:
    """A rule on a mean ('mean >= threshold', or '>' if strict): holds if it does; a failure whose CI spans 0 and
    the threshold is undecided. lo/hi may be nan (no CI), then a failure is decided."""
    if mean > threshold or (mean == threshold and not strict):
        return Outcome(True)
    if not (math.isnan(lo) or math.isnan(hi)) and spans(lo, hi, threshold):
        return Outcome(False, f"{label}: {num(mean)} fails the threshold {num(threshold)}, but its 95% CI "
                              f"[{num(lo)}, {num(hi)}] contains both 0 and the threshold")
    return Outcome(False)


def seeds_outcome(label: str, seeds: int) -> Outcome | None:
    """Undecided if a rule that needs >= MIN_SEEDS seeds has fewer, else None (the rule decides)."""
    if seeds < MIN_SEEDS:
        return Outcome(False, f"{label}: {seeds} seed(s), the rule needs >= {MIN_SEEDS}")
    return None


def judge(outcomes) -> tuple[bool, str]:
    """(holds, why undecided): a decided failure refutes the rule; else any undecided condition leaves it
    inconclusive; else it holds."""
    outcomes = list(outcomes)
    if any(not o.holds and not o.undecided for o in outcomes):
        return False, ""
    undecided = list(dict.fromkeys(o.undecided for o in outcomes if o.undecided))
    return (not undecided), "; ".join(undecided)


def result(threshold: str, value: str = "", spread: str = "", n: str = "", holds: bool | None = None,
           reason: str = "", inconclusive: str = "") -> dict:
    """One reading of a claim: its rule (`threshold`), what was measured and the verdict. holds=None means the rule
    could not be evaluated (then `reason` says why: `not measured`); a non-empty `inconclusive` means it was evaluated
    but the run cannot decide it (it says why)."""
    if holds is None:
        verdict = NOT_MEASURED
        if not reason:
            raise ValueError(f"a 'not measured' verdict needs a reason (rule: {threshold})")
    elif inconclusive:
        verdict = INCONCLUSIVE
        reason = f"cannot decide ({AMENDMENT}): {inconclusive}" + (f". {reason}" if reason else "")
    else:
        verdict = SUPPORTED if holds else NOT_SUPPORTED
    return {"threshold": threshold, "value": value, "spread": spread, "n": n, "verdict": verdict, "reason": reason}


def note(reading: dict, text: str) -> dict:
    """The reading with `text` appended to its reason."""
    if not text:
        return reading
    return {**reading, "reason": f"{reading['reason']}; {text}" if reading["reason"] else text}


def make_inconclusive(reading: dict, why: str, keep_not_measured: bool = True, by: str = AMENDMENT) -> dict:
    """The same reading, `inconclusive` because of `why` (under the amendment `by`). A `not measured` reading stays
    as it is (nothing was read) unless `keep_not_measured` is False: the runs exist but a gate left them out."""
    if reading["verdict"] == NOT_MEASURED and keep_not_measured:
        return reading
    if reading["verdict"] == INCONCLUSIVE:
        return note(reading, why)
    reason = f"cannot decide ({by}): {why}" + (f". {reading['reason']}" if reading["reason"] else "")
    return {**reading, "verdict": INCONCLUSIVE, "reason": reason}


ONE_LEVEL_FALLBACK = "the two-level bootstrap CI is not in this table (older results): read with the one-level CI " \
                     "(samples pooled across seeds)"


def sample_ci(columns, two_level: bool) -> tuple[str, str]:
    """(CI column infix, note): `ci` for the pre-registered reading's CI over samples pooled across seeds; `ci2` for
    the amended reading's two-level bootstrap (seeds resampled, then samples within each), so that seed-to-seed
    variation is inside the interval. A table without `rho_ci2_*` (older results) falls back to `ci`, and says so."""
    if not two_level:
        return "ci", ""
    if "rho_ci2_lo" in columns:
        return "ci2", ""
    return "ci", ONE_LEVEL_FALLBACK
