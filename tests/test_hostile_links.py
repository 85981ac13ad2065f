"""Links under results/ and resources/ as `embnorm audit` walks them: a link loop, a link back into the project and a
broken link are each reported once, as the link, instead of as every file they lead to (embnorm.audit.disk_artifacts);
a link to a folder elsewhere is followed."""

from __future__ import annotations

import os
from pathlib import Path

from embnorm import audit


def project(root: Path) -> Path:
    """A results/ tree with one run's params.json (no records: an orphan) and an empty resources/."""
    run = root / "results" / "runs" / "r"
    run.mkdir(parents=True)
    (run / "params.json").write_text("{}\n")
    (root / "resources").mkdir()
    return root


def findings(root: Path) -> dict[str, audit.Finding]:
    return {f.path: f for f in audit.audit(str(root / "results"), None)}


def test_a_link_loop_is_reported_once_as_the_link(tmp_path):
    root = project(tmp_path)
    os.symlink("..", root / "results/runs/r/loop")  # results/runs/r/loop/r/loop/... without end
    found = findings(root)
    assert set(found) == {"results/runs/r/params.json", "results/runs/r/loop"}
    loop = found["results/runs/r/loop"]
    assert loop.status == "orphan" and loop.detail.startswith("a link loop: it points to ")
    assert str((root / "results/runs").resolve()) in loop.detail


def test_a_link_back_into_the_project_is_not_walked_twice(tmp_path):
    root = project(tmp_path)
    os.symlink(root / "results/runs", root / "resources/latest")
    found = findings(root)
    assert set(found) == {"results/runs/r/params.json", "resources/latest"}
    assert "audited under their own names" in found["resources/latest"].detail


def test_a_broken_link_is_one_finding(tmp_path):
    root = project(tmp_path)
    os.symlink("nowhere.npz", root / "results/runs/r/dangling.npz")
    found = findings(root)
    assert found["results/runs/r/dangling.npz"].detail == "a broken link (or a link loop) to nowhere.npz"


def test_a_link_to_a_folder_elsewhere_is_followed_once(tmp_path):
    root = project(tmp_path / "project")
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    (elsewhere / "big.npz").write_bytes(b"x")
    os.symlink(elsewhere, root / "results/runs/r/scratch")
    os.symlink(elsewhere, root / "results/runs/r/scratch_again")
    found = findings(root)
    assert found["results/runs/r/scratch/big.npz"].detail == "no provenance record"
    assert "already audited through another link" in found["results/runs/r/scratch_again"].detail
    assert len(found) == 3
