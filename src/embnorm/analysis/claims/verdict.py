"""One row of the claims table, and the three verdicts of the pre-registered rules (paper-reference §7.1).

`supported` only if the rule holds; `not supported` if it was evaluated and fails; `not measured` (with the reason)
if the configuration lacks what the rule needs. Numbers are formatted for reading; the TSV keeps the text as written.
"""

from __future__ import annotations

import math

SUPPORTED, NOT_SUPPORTED, NOT_MEASURED = "supported", "not supported", "not measured"
COLUMNS = ("claim", "claim_text", "statistic", "value", "threshold", "spread", "n", "verdict", "reason")


def num(x, digits: int = 3) -> str:
    """A number for reading: 3 significant digits, scientific notation for tiny values, 'nan' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if isinstance(x, (int,)) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return str(int(x))
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def ci(lo, hi) -> str:
    return f"95% CI [{num(lo)}, {num(hi)}]"


def row(claim: str, text: str, statistic: str, threshold: str, value: str = "", spread: str = "", n: str = "",
        holds: bool | None = None, reason: str = "") -> dict:
    """A claims-table row; holds=None means the rule could not be evaluated (then `reason` says why)."""
    verdict = NOT_MEASURED if holds is None else (SUPPORTED if holds else NOT_SUPPORTED)
    if holds is None and not reason:
        raise ValueError(f"{claim}: a 'not measured' verdict needs a reason")
    return {"claim": claim, "claim_text": text, "statistic": statistic, "value": value, "threshold": threshold,
            "spread": spread, "n": n, "verdict": verdict, "reason": reason}
