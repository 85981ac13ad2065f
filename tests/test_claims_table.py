"""The claims table as readers see it: both readings in the TSV, the Markdown, the report's HTML and the results
page (docs/results.md), with one line saying which reading is which."""

from __future__ import annotations

import pandas as pd

from embnorm.analysis.claims import COLUMNS, SUPPORTED
from helpers.claims import WD, good_tables


def test_both_readings_are_in_the_tsv_the_markdown_the_report_and_the_results_page(tmp_path):
    """`embnorm claims`: the TSV keeps plain column names with both readings; the Markdown, the report's HTML and the
    results page show `verdict (amended 2026-12-02)` beside `verdict` and one line saying which reading is which."""
    import json

    from embnorm import io
    from embnorm.cli import main
    from embnorm.present.claims_table import HEADERS, READINGS_LINE
    from embnorm.present.results_docs import results_page

    tables_dir = tmp_path / "results" / "tables"
    tables_dir.mkdir(parents=True)
    argv = ["claims"]
    for key, frame in good_tables().items():
        io.write_tsv(tmp_path / f"{key}.tsv", frame)
        argv += [f"--{key.replace('_', '-')}", f"{tmp_path / key}.tsv"]
    argv += ["--default-weight-decay", json.dumps(WD), "--resamples", "100", "--tsv", str(tables_dir / "claims.tsv"),
             "--md", str(tables_dir / "claims.md"), "--html", str(tmp_path / "claims.html")]
    assert main(argv) == 0
    tsv = pd.read_csv(tables_dir / "claims.tsv", sep="\t")
    assert list(tsv.columns) == list(COLUMNS)
    assert {"verdict", "reason", "amended_verdict", "amended_reason", "untrained"} <= set(tsv.columns)
    assert tsv.amended_verdict.tolist() == [SUPPORTED] * 14 and tsv.verdict.tolist() == [SUPPORTED] * 14
    md = (tables_dir / "claims.md").read_text()
    header = md.splitlines()[0]
    assert "| verdict | reason | verdict (amended 2026-12-02) | reason (amended 2026-12-02) |" in header
    assert READINGS_LINE in md and "post hoc" in READINGS_LINE and "pre-registered" in READINGS_LINE
    html = (tmp_path / "claims.html").read_text()
    assert "<th>verdict (amended 2026-12-02)</th>" in html and "post hoc" in html
    assert html.count('<td style="background:#d9f2d9">supported</td>') == 28  # each verdict cell coloured
    page = results_page(tmp_path / "results", tmp_path / "docs" / "results.md")
    assert READINGS_LINE in page and "| pre-registered verdict | verdict (amended 2026-12-02) |" in page
    assert f"- **verdict:** {SUPPORTED}" in page and f"- **{HEADERS['amended_verdict']}:** {SUPPORTED}" in page
