"""Progress output: a tqdm bar on a terminal, one plain line per epoch in a log file.

A tqdm bar written to a file is a single line of carriage-return overwrites; SLURM and Snakemake logs are files, so
there the same numbers go out as ordinary lines that `tail -f` and `grep` can read.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def _summary(row: dict) -> str:
    text = f"loss={row['loss']:.4f} lr={row['lr']:.4g} norm={row['projector_norm_mean']:.3f} " \
           f"img/s={row['images_per_s']:.0f}"
    return text + (f" knn={row['knn_acc']:.4f}" if "knn_acc" in row else "")


class Progress:
    """Reports optimizer steps (the bar's rate is images/s) and finished epochs (loss, lr, mean norm, kNN)."""

    def __init__(self, run_id: str, epochs: int, steps_per_epoch: int, images_per_step: int, start_step: int,
                 stream=None):
        self.stream = stream or sys.stderr
        self.run_id, self.epochs, self.images_per_step = run_id, epochs, images_per_step
        self.bar = None
        if self.stream.isatty():
            self.bar = tqdm(total=epochs * steps_per_epoch * images_per_step, initial=start_step * images_per_step,
                            desc=run_id, unit="img", unit_scale=True, file=self.stream, dynamic_ncols=True)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(self.images_per_step)

    def epoch(self, row: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"epoch={row['epoch']} " + _summary(row))
        else:
            print(f"{self.run_id} epoch {row['epoch']}/{self.epochs} {_summary(row)}", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
