"""Figures (seaborn, PNG + PDF) and tables (TSV + Markdown)."""
