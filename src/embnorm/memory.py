"""Keep freed tensor memory in the process instead of handing it back to the kernel (glibc only).

A CPU training step allocates and frees the same large activation buffers (a few MB to tens of MB each) every step.
glibc serves blocks above its mmap threshold with a fresh `mmap` and unmaps them on free, and trims the heap top
above its trim threshold, so every step touches newly zeroed pages again: one SimCLR run of the default study
(228 steps, batch 256, one thread) took 5.1 million minor page faults and 11.3 s of its 94 s in the kernel.
With both thresholds raised it took 0.17 million faults and 1.0 s (docs/training.md, "Speed"). The numbers the run
computes are the same: only where freed memory goes changes. `embnorm train` and `embnorm embed` call it first:

    from embnorm import memory
    memory.keep_freed_memory()
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_LIMIT = 32 * 1024 * 1024  # the largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1024 * 1024 * 1024  # keep up to 1 GiB of freed memory at the heap's top


def keep_freed_memory() -> bool:
    """Raise glibc's mmap threshold to its maximum and its trim threshold to 1 GiB for this process (what
    MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ would set at start-up). True if both were set; False where
    the C library is not glibc (macOS, musl), which is left as it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on, found without ldconfig
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_LIMIT)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
