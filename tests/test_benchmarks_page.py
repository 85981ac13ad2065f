"""docs/benchmarks.md as benchmarks/speed.py writes it: the ratios against their targets, the printed lines, what each
line measures, and the measurements recorded in benchmarks/recorded.tsv."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import speed_page  # noqa: E402
from speed_page import Measurement, Ratio  # noqa: E402

ROW = {"measurement": "make run", "result": "3 min 1 s", "command": "make run | tee log", "date": "2026-12-03",
       "conditions": "idle 2-core machine"}


def write_recorded(path, rows, columns=speed_page.RECORDED_COLUMNS):
    lines = ["\t".join(columns), *("\t".join(row[c] for c in speed_page.RECORDED_COLUMNS) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_page_shows_each_ratio_against_its_target_and_the_recorded_rows(tmp_path):
    measurement = Measurement("benchmarks/speed.py --rounds 1", "2026-12-03  torch 2.14.1, 2 CPUs", [
        Ratio("kNN / matmul floor", "≤ 1.2", "1.16 (2 threads)", "1.15", True),
        Ratio("augmentation / PIL DataLoader", "≥ 8×", "7.5× (2 workers)", "8.2×", False)],
        ["knn    knn_predict 0.690 s", "summary: knn/floor 1.16"])
    recorded = speed_page.read_recorded(write_recorded(tmp_path / "recorded.tsv", [ROW]))

    text = speed_page.page(measurement, recorded, "- `knn`: what it compares")

    assert text.startswith("# Benchmarks\n") and speed_page.NOTE in text
    assert "`benchmarks/speed.py --rounds 1`: 2026-12-03  torch 2.14.1, 2 CPUs." in text
    assert "| kNN / matmul floor | ≤ 1.2 | 1.16 (2 threads) | 1.15 | yes |" in text
    assert "| augmentation / PIL DataLoader | ≥ 8× | 7.5× (2 workers) | 8.2× | no |" in text
    assert "```text\nknn    knn_predict 0.690 s\nsummary: knn/floor 1.16\n```" in text
    assert "- `knn`: what it compares" in text
    assert "| make run | 3 min 1 s | make run \\| tee log | 2026-12-03 | idle 2-core machine |" in text


def test_a_run_that_measured_nothing_says_so():
    text = speed_page.page(Measurement("benchmarks/speed.py --skip knn aug gpu", "2026-12-03"), [], "- measures")
    assert "This run measured no ratio" in text and "| ratio |" not in text and "```text" not in text


def test_the_recorded_file_has_its_columns_and_every_cell(tmp_path):
    rows = speed_page.read_recorded()  # the committed benchmarks/recorded.tsv
    assert rows and all(all(row[c].strip() for c in speed_page.RECORDED_COLUMNS) for row in rows)
    wrong = write_recorded(tmp_path / "wrong.tsv", [ROW], ("measurement", "result", "command", "date", "machine"))
    with pytest.raises(ValueError, match="the columns must be measurement, result, command, date, conditions"):
        speed_page.read_recorded(wrong)


@pytest.mark.process  # the script asks the machine about itself in processes of its own
def test_speed_py_writes_the_page(tmp_path, capsys):
    """The script's own `--markdown` path, with every measurement skipped (the measurements take minutes)."""
    import speed
    import torch

    threads = torch.get_num_threads()  # the script sets torch's threads; the tests after this one keep theirs
    try:
        speed.main(["--threads", str(threads), "--skip", "knn", "aug", "gpu", "--markdown", str(tmp_path / "bm.md")])
    finally:
        torch.set_num_threads(threads)
    text = (tmp_path / "bm.md").read_text()
    assert f"`benchmarks/speed.py --threads {threads} --skip knn aug gpu --markdown " in text
    assert "This run measured no ratio" in text
    assert speed.MEASURES.strip() in text and "## Recorded measurements" in text
    assert f"wrote {tmp_path / 'bm.md'}" in capsys.readouterr().out
