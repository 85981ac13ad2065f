"""The results for readers: docs/results.md in full from a finished study's claims table and figures, the README's
short verdict table between its markers with every study side by side, and a stamp naming each study's commit and
config."""

import json

import pytest

from embnorm import provenance
from embnorm.analysis.claims import COLUMNS
from embnorm.errors import EmbnormError
from embnorm.present import results_docs
from embnorm.present.claims_table import HEADERS

C1 = {"claim": "C1", "claim_text": "The gradient scales as 1/||z||", "statistic": "max |cos(z, grad)|",
      "value": "abs_cos = 3.6e-16", "threshold": "< 1e-8", "spread": "", "n": "10000 pairs", "verdict": "supported",
      "reason": "", "amended_verdict": "supported", "amended_reason": "same rule", "untrained": ""}
C5 = {**C1, "claim": "C5", "claim_text": "Norms grow during SSL training", "statistic": "final / initial norm",
      "value": "run-s0: 3.29; run_s1: 0.9", "spread": "min 0.9", "verdict": "not supported",
      "reason": "a run's norm shrank",
      "amended_verdict": "inconclusive", "amended_reason": "seed means span 1", "untrained": "x*y"}


def finished_study(tmp_path, record=True):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    rows = [C1, C5]
    (results / "tables" / "claims.tsv").write_text(
        "\n".join("\t".join(row[c] for c in COLUMNS) for row in [dict(zip(COLUMNS, COLUMNS)), *rows]) + "\n")
    (results / "tables" / "claims.md").write_text("| claim | verdict |\n|---|---|\n| C1 | supported |\n\n"
                                                  "Two readings: which is which.\n\nThe configuration decides all.\n")
    (results / "figures" / "norm_growth.png").write_bytes(b"\x89PNG fake")
    if record:
        path = provenance.record_path(tmp_path, "results/tables/claims.tsv")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"artifact": "results/tables/claims.tsv", "sha256": "0", "bytes": 1,
                                    "end": "2026-11-30T20:00:00Z", "git_commit": "abcdef1234567890",
                                    "git_dirty": "false"}))
    return results


def make_results_docs(tmp_path) -> tuple[str, str]:
    """`make results-docs CONFIG=config/claims.yaml` on a finished study: the page's text and the README's."""
    results = finished_study(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{results_docs.BEGIN}\nold\n{results_docs.END}\n\ntail\n")
    results_docs.main(["--results", str(results), "--page", str(tmp_path / "docs" / "results.md"),
                       "--readme", str(readme), "--config", "config/claims.yaml"])
    return (tmp_path / "docs" / "results.md").read_text(), readme.read_text()


def test_the_page_holds_every_column_of_every_claim_and_the_figures(tmp_path):
    page, _ = make_results_docs(tmp_path)
    assert page.startswith("# Results: synthetic\n") and results_docs.PAGE_NOTE in page
    assert "made 2026-11-30T20:00:00Z at commit `abcdef123456` with `config/claims.yaml`." in page
    assert "Two readings: which is which." in page and "The configuration decides all." in page
    assert "| [C5](#c5) | Norms grow during SSL training | not supported | inconclusive |" in page
    section = page[page.index("### C5"):page.index("## Figures")]
    for key in results_docs.DETAILS:
        assert f"- **{HEADERS.get(key, key)}:** " in section, key
    assert "- **value:** run-s0: 3.29; run\\_s1: 0.9" in section and "x\\*y" in section
    assert "1/\\|\\|z\\|\\|" in page  # the claim text's bars stay literal in a table and a heading
    c1 = page[page.index("### C1"):page.index("### C5")]
    assert "- **spread:**" not in c1 and "- **reason:**" not in c1  # an empty cell is left out
    assert "![norm_growth](figures/norm_growth.png)" in page
    assert (tmp_path / "docs" / "figures" / "norm_growth.png").read_bytes() == b"\x89PNG fake"


def test_the_readme_gets_the_short_table_the_stamp_and_the_link(tmp_path):
    _, text = make_results_docs(tmp_path)
    assert "old" not in text and text.endswith("tail\n") and text.count(results_docs.BEGIN) == 1
    block = text[text.index(results_docs.BEGIN):text.index(results_docs.END)]
    assert "| claim | what the paper claims | synthetic: pre-registered | synthetic: amended |" in block
    assert "amended: the verdict (amended 2026-12-02)" in block
    assert "| [C1](docs/results.md#c1) | The gradient scales as 1/\\|\\|z\\|\\| | supported | supported |" in block
    assert "a run's norm shrank" not in block and "final / initial norm" not in block  # reasons live on the page
    assert "- **synthetic**: Claims table made 2026-11-30T20:00:00Z at commit `abcdef123456` with " \
           "`config/claims.yaml`. Every statistic, reason and figure: [docs/results.md](docs/results.md)." in block


def test_two_studies_from_two_folders_meet_side_by_side_in_the_readme(tmp_path):
    """A second study, run in another folder, gets its own page and figures folder; the README shows both, in the
    order given, each claim's row with four verdicts, and `not run` where one study has no row for a claim."""
    make_results_docs(tmp_path)
    other = tmp_path / "fmnist"
    results = finished_study(other)
    (results / "tables" / "claims.tsv").write_text(  # this study's C5 is supported; it has no C1
        "\n".join("\t".join(row[c] for c in COLUMNS) for row in
                  [dict(zip(COLUMNS, COLUMNS)), {**C5, "verdict": "supported", "amended_verdict": "supported"}]) + "\n")
    readme = tmp_path / "README.md"
    docs = tmp_path / "docs"
    results_docs.main(["--results", str(results), "--page", str(docs / "results-fmnist.md"), "--label",
                       "Fashion-MNIST", "--figures", str(docs / "figures" / "fmnist"), "--readme", str(readme),
                       "--config", "config/fmnist.yaml", "--studies", str(docs / "results.verdicts.json"),
                       str(docs / "results-fmnist.verdicts.json")])
    page = (docs / "results-fmnist.md").read_text()
    assert page.startswith("# Results: Fashion-MNIST\n") and "with `config/fmnist.yaml`." in page
    assert "![norm_growth](figures/fmnist/norm_growth.png)" in page and (docs / "figures" / "fmnist").is_dir()
    text = readme.read_text()
    block = text[text.index(results_docs.BEGIN):text.index(results_docs.END)]
    assert "| synthetic: pre-registered | synthetic: amended | Fashion-MNIST: pre-registered | Fashion-MNIST: amended |" \
        in block
    assert "| [C1](docs/results.md#c1) | The gradient scales as 1/\\|\\|z\\|\\| | supported | supported | not run | " \
           "not run |" in block
    assert "| [C5](docs/results.md#c5) | Norms grow during SSL training | not supported | inconclusive | supported | " \
           "supported |" in block
    assert block.index("- **synthetic**: ") < block.index("- **Fashion-MNIST**: ")
    assert "with `config/fmnist.yaml`. Every statistic, reason and figure: " \
           "[docs/results-fmnist.md](docs/results-fmnist.md)." in block


def test_without_a_record_the_stamp_names_the_config_only(tmp_path):
    results = finished_study(tmp_path, record=False)
    page = results_docs.results_page(results, tmp_path / "docs" / "results.md", "config.yaml")
    assert "Study config: `config.yaml`." in page and "commit" not in page


def test_a_study_without_a_claims_table_or_a_readme_without_markers_is_refused(tmp_path):
    (tmp_path / "results" / "figures").mkdir(parents=True)
    with pytest.raises(EmbnormError, match="no claims table"):
        results_docs.results_page(tmp_path / "results", tmp_path / "docs" / "results.md")
    with pytest.raises(EmbnormError, match="no .* block"):
        results_docs.replace_block("# a README without the markers\n", "block")
    with pytest.raises(EmbnormError, match="results-fmnist.verdicts.json: no study record"):
        results_docs.read_record(tmp_path / "docs" / "results-fmnist.verdicts.json")


def test_learning_curves_average_seeds_at_each_nominal_share_and_fill_the_marked_block(tmp_path):
    """Two seeds of one setting, evaluated at slightly different steps (an imbalanced run's epochs end elsewhere),
    meet in the nominal columns; a second setting with one seed shows no range; the block between a page's markers
    is replaced, the rest kept."""
    results = finished_study(tmp_path)
    (results / "runs.tsv").write_text("run_id\tknn_fractions\n" + "".join(
        f"{run}\t[0.25, 0.5, 0.75]\n" for run in ("simclr-sgd-none-a-s0", "simclr-sgd-none-a-s1", "byol-sgd-none-a-s0")))
    evaluations = {"simclr-sgd-none-a-s0": [(0, 0.30), (57, 0.40), (114, 0.50), (171, 0.60), (228, 0.70)],
                   "simclr-sgd-none-a-s1": [(0, 0.50), (60, 0.60), (115, 0.70), (175, 0.80), (230, 0.90)],
                   "byol-sgd-none-a-s0": [(0, 0.25), (228, 0.75)]}
    for run, rows in evaluations.items():
        folder = results / "runs" / run
        folder.mkdir(parents=True)
        total = rows[-1][0]
        lines = ["run_id\tepoch\tstep\tknn_acc\ttotal_steps"] + [f"{run}\t{i}\t{step}\t{acc}\t{total}"
                                                                  for i, (step, acc) in enumerate(rows)]
        lines.insert(2, f"{run}\t1\t20\t\t{total}")  # an epoch without an evaluation
        (folder / "metrics.tsv").write_text("\n".join(lines) + "\n")
    curves = "\n".join(results_docs.learning_curves(results))
    assert "| setting | seeds | 0 % | 25 % | 50 % | 75 % | 100 % |" in curves
    assert "| simclr-sgd-none-a | 2 | 40.0 (30.0-50.0) | 50.0 (40.0-60.0) | 60.0 (50.0-70.0) | 70.0 (60.0-80.0) | " \
           "80.0 (70.0-90.0) |" in curves
    assert "| byol-sgd-none-a | 1 | 25.0 |  |  |  | 75.0 |" in curves
    begin, end = results_docs.curve_markers("Fashion-MNIST")
    page = tmp_path / "training.md"
    page.write_text(f"# Training\n\n{begin}\nold table\n{end}\n\nafter\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"{results_docs.BEGIN}\n{results_docs.END}\n")
    results_docs.main(["--results", str(results), "--page", str(tmp_path / "docs" / "results-fmnist.md"), "--label",
                       "Fashion-MNIST", "--readme", str(readme), "--curves", str(page)])
    text = page.read_text()
    assert "old table" not in text and text.startswith("# Training\n\n" + begin + "\n") and text.endswith(
        end + "\n\nafter\n") and "| byol-sgd-none-a | 1 | 25.0 |" in text
    assert "## Learning curves" in (tmp_path / "docs" / "results-fmnist.md").read_text()
