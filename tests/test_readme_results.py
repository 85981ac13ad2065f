"""The README's Results block: the claims table inline, figures copied, and a stamp naming the study's commit and config."""

import json

from embnorm import provenance
from embnorm.present import readme_results


def test_results_block_is_stamped_with_the_claims_tables_commit_and_the_config(tmp_path):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    (results / "tables" / "claims.md").write_text("| claim | verdict |\n|---|---|\n| C1 | supported |\n")
    (results / "figures" / "norm_growth.png").write_bytes(b"\x89PNG fake")
    record = provenance.record_path(tmp_path, "results/tables/claims.tsv")
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"artifact": "results/tables/claims.tsv", "sha256": "0", "bytes": 1,
                                  "end": "2026-11-30T20:00:00Z", "git_commit": "abcdef1234567890", "git_dirty": "false"}))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{readme_results.BEGIN}\nold\n{readme_results.END}\n\ntail\n")

    readme_results.main([str(results), str(tmp_path / "docs" / "figures"), str(readme), "config/claims.yaml"])

    text = readme.read_text()
    assert "old" not in text and text.endswith("tail\n")
    assert "made 2026-11-30T20:00:00Z at commit `abcdef123456` with `config/claims.yaml`." in text
    assert "| C1 | supported |" in text and "![norm_growth](docs/figures/norm_growth.png)" in text
    assert (tmp_path / "docs" / "figures" / "norm_growth.png").read_bytes() == b"\x89PNG fake"


def test_without_a_record_the_stamp_names_the_config_only(tmp_path):
    (tmp_path / "results" / "figures").mkdir(parents=True)
    block = readme_results.results_block(tmp_path / "results", tmp_path / "docs", tmp_path, "config.yaml")
    assert "Study config: `config.yaml`." in block and "commit" not in block
