"""How the claims table is shown to readers (Markdown, the report's HTML, the results page docs/results.md): its
title, the headers of the two readings and the line that says which is which. The TSV keeps the plain column names
(`analysis.claims.COLUMNS`)."""

from __future__ import annotations

TITLE = "Claims check: pre-registered reading (paper-reference §7.1, amended 2026-11-30) and amended reading " \
        "(2026-12-02)"
HEADERS = {"amended_verdict": "verdict (amended 2026-12-02)", "amended_reason": "reason (amended 2026-12-02)",
           "untrained": "untrained encoder (shown, not a rule)"}
VERDICT_COLUMNS = ("verdict", "amended_verdict")
READINGS_LINE = (
    "Two readings: `verdict` (pre-registered) applies the rules of paper-reference §7.1 (as of "
    "2026-11-30), fixed before any result; `verdict (amended 2026-12-02)` applies the amended rules of 2026-12-02, "
    "declared after the first claims study was read (read-gate per model/optimizer/dataset group, C6 on run-averaged and C13 on "
    "seed-mean norms, two-level bootstrap CIs for C6, C8, C9, C12's balance comparison only where both sets learned), "
    "so it is post hoc and shown beside the pre-registered verdict, never in its place. `untrained encoder` is a "
    "confidence claim's statistic on the encoders at initialisation, shown, not a rule.")
