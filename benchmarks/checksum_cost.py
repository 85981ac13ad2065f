"""What verifying a prepared split costs: sha256 of its images.npy (format.read_split does it before a train or an
embed job reads the arrays), in CPU seconds, for an array of a real dataset's size.

    python benchmarks/checksum_cost.py            # CIFAR-10 train at 32 px: 50,000 x 32 x 32 x 3 = 153.6 MB
    python benchmarks/checksum_cost.py --n 10000 --size 64

Prints the CPU time (time.process_time, not disturbed by other processes on the machine) and the rate; the rate
gives the cost for any size (ImageNet-100 train at 128 px is 6.2 GB).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from embnorm import io


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "images.npy"
        rng = np.random.default_rng(0)
        io.write_npy(path, rng.integers(0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8))
        mb = path.stat().st_size / 1e6
        times = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            io.sha256(path)
            times.append(time.process_time() - t0)
    best = min(times)
    print(f"sha256 of {mb:.1f} MB: {best:.3f} CPU s (best of {args.repeat}), {mb / best:.0f} MB per CPU second; "
          f"ImageNet-100 train at 128 px (6,230 MB) would take {6230 / (mb / best):.1f} CPU s")


if __name__ == "__main__":
    main()
