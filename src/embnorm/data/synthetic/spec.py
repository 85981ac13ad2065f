"""What a synthetic dataset is: its options (`SyntheticSpec`) and the per-sample structure both designs draw from.

Every sample is a (label, mode, blend weight alpha, other class) tuple (`sample_structure`). The two designs render
the same structure differently, and the simulated annotators of human_labels.py read it, so they serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 32  # image side in pixels
FAMILY_STREAM = 7_919  # any constant: separates prototype streams from sample streams


@dataclass(frozen=True)
class SyntheticSpec:
    design: str = "parts"  # what carries the class: "parts" (parts.py) or "appearance" (appearance.py)
    family: int = 0
    classes: int = 10
    n_train: int = 5000
    n_test: int = 1000
    modes: int = 6
    mode_decay: float = 1.5
    ambiguous_fraction: float = 0.25
    seed: int = 0

    def mode_weights(self) -> np.ndarray:
        w = (np.arange(self.modes) + 1.0) ** -self.mode_decay
        return w / w.sum()


def sample_structure(spec: SyntheticSpec, n: int, split_stream: int) -> dict[str, np.ndarray]:
    """Label, mode, ambiguity weight alpha and the other class for n samples (balanced classes, class-sorted order
    shuffled)."""
    rng = np.random.default_rng([spec.seed, spec.family, split_stream])
    k = spec.classes
    labels = rng.permutation(np.arange(n) % k)
    modes = rng.choice(spec.modes, size=n, p=spec.mode_weights())
    ambiguous = rng.uniform(size=n) < spec.ambiguous_fraction
    alpha = np.where(ambiguous, rng.uniform(0.0, 0.5, n), 0.0)
    other = (labels + rng.integers(1, k, n)) % k
    other = np.where(ambiguous, other, -1)
    return {"label": labels, "mode": modes, "alpha": alpha, "other": other, "rng_seed": rng.integers(0, 2**31, n)}
