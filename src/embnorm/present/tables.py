"""Tables: TSV at full precision for machines, Markdown for people."""

from __future__ import annotations

from typing import Sequence

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


VERDICT_COLOURS = {"supported": "#d9f2d9", "not supported": "#f8d7d3", "inconclusive": "#fff2cc",
                   "not measured": "#ececec"}


def _notes(note: str | Sequence[str]) -> list[str]:
    return [note] if isinstance(note, str) else list(note)


def to_html(frame: pd.DataFrame, title: str, note: str | Sequence[str] = "", verdict_columns=()) -> str:
    """A self-contained HTML page of a table (the report shows HTML inline); rows coloured by a `verdict` column,
    and each cell of `verdict_columns` by its own verdict; `note` one paragraph (or several) above the table."""
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for record in frame.to_dict("records"):
        colour = VERDICT_COLOURS.get(record.get("verdict"), "#ffffff")
        cells = "".join(
            (f'<td style="background:{VERDICT_COLOURS.get(v, colour)}">' if c in verdict_columns else "<td>")
            + f"{html.escape('' if v != v else str(v))}</td>" for c, v in record.items())
        body.append(f'<tr style="background:{colour}">{cells}</tr>')
    style = ("body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
             "td,th{border:1px solid #bbb;padding:4px;vertical-align:top;text-align:left}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h2>{html.escape(title)}</h2>"
            + "".join(f"<p>{html.escape(n)}</p>" for n in _notes(note) if n) + f"<table><tr>{head}</tr>"
            + "".join(body) + "</table></body></html>\n")


def write_table(frame: pd.DataFrame, tsv_path, md_path=None, html_path=None, title: str = "",
                note: str | Sequence[str] = "", headers: dict | None = None, verdict_columns=()) -> None:
    """TSV (the frame only, its column names), Markdown and HTML (columns renamed by `headers` for readers, with
    `note`: one line, or several, for readers, below and above the table)."""
    io.write_tsv(tsv_path, frame)
    shown = frame.rename(columns=headers or {})
    notes = [n for n in _notes(note) if n]
    if md_path:
        io.write_text(md_path, to_markdown(shown) + "".join(f"\n{n}\n" for n in notes))
    if html_path:
        io.write_text(html_path, to_html(shown, title, notes, [(headers or {}).get(c, c) for c in verdict_columns]))
