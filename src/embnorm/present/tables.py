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


VERDICT_COLOURS = {"supported": "#d9f2d9", "not supported": "#f8d7d3", "inconclusive": "#fff2cc",
                   "not measured": "#ececec"}


def to_html(frame: pd.DataFrame, title: str, note: str = "") -> str:
    """A self-contained HTML page of a table (the report shows HTML inline); rows coloured by a `verdict` column,
    `note` a paragraph above the table."""
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for record in frame.to_dict("records"):
        colour = VERDICT_COLOURS.get(record.get("verdict"), "#ffffff")
        cells = "".join(f"<td>{html.escape('' if v != v else str(v))}</td>" for v in record.values())
        body.append(f'<tr style="background:{colour}">{cells}</tr>')
    style = ("body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} "
             "td,th{border:1px solid #bbb;padding:4px;vertical-align:top;text-align:left}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h2>{html.escape(title)}</h2>"
            + (f"<p>{html.escape(note)}</p>" if note else "") + f"<table><tr>{head}</tr>"
            + "".join(body) + "</table></body></html>\n")


def write_table(frame: pd.DataFrame, tsv_path, md_path=None, html_path=None, title: str = "", note: str = "") -> None:
    """TSV (the frame only), Markdown and HTML (with `note`, one line for readers, below and above the table)."""
    io.write_tsv(tsv_path, frame)
    if md_path:
        io.write_text(md_path, to_markdown(frame) + (f"\n{note}\n" if note else ""))
    if html_path:
        io.write_text(html_path, to_html(frame, title, note))
