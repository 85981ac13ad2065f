"""A successful job's log holds no warning a user would read as a problem."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import REPO

EMBED_A_READ_ONLY_SPLIT = textwrap.dedent("""
    import numpy as np
    from embnorm import io
    from embnorm.data.format import Split
    from embnorm.embed import embed_split
    from embnorm.models import make_model
    from helpers.training import tiny_params

    np.save("images.npy", np.random.default_rng(0).integers(0, 256, (20, 16, 16, 3), dtype=np.uint8))
    images = np.load("images.npy", mmap_mode="r")  # as read_split reads a prepared split: read-only
    split = Split(images, np.arange(20) % 2, {"classes": ["a", "b"], "original_index": list(range(20))})
    params = tiny_params("simclr")
    embed_split(make_model(params, 16).eval(), params, split, "e.npz", np.ones(20, bool), batch_size=8)
    assert io.read_npz("e.npz")["backbone_norm"].shape == (20,)
""")


def test_embedding_a_memory_mapped_split_warns_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-c", EMBED_A_READ_ONLY_SPLIT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300,
                          env={"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'tests'}", "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "not writable" not in done.stderr
    assert "Warning" not in done.stderr, done.stderr
