"""Seeds: one per run, recorded, and derived per component so that every stream can be re-created exactly."""

from __future__ import annotations

import numpy as np

INIT, ORDER, AUGMENT, PROBE = range(4)


def derive(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative ints (base seed, run seed, component, epoch, step, ...)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
