"""Tables: TSV at full precision for machines, Markdown for people."""

from __future__ import annotations

import pandas as pd

from embnorm import io


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub Markdown table (no extra dependency), floats rounded for reading."""
    def cell(v):
        if isinstance(v, float):
            return "" if v != v else f"{v:.{digits}g}"
        return str(v).replace("|", "\\|")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def write_table(frame: pd.DataFrame, tsv_path, md_path=None) -> None:
    io.write_tsv(tsv_path, frame)
    if md_path:
        io.write_text(md_path, to_markdown(frame))
