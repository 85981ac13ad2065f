"""Embedding-norm monitoring for any self-supervised training: the instruments of Draganov et al., "On the Importance
of Embedding Norms in Self-Supervised Learning" (ICML 2025), and RankMe (Garrido et al., ICML 2023), as a small public
API that needs neither Snakemake nor the rest of embnorm.

- `norm_stats(z, labels)`: the distribution of ||z_i|| (Section 3: norms grow during training; Section 5: they track
  class frequency and confidence), with per-class means when labels are given.
- `rankme(z)`: the effective rank of the embeddings (Garrido et al. 2023), a label-free collapse and quality signal.
- `norm_ood_auroc(z_id, z_ood)`: how well "larger norm = in-distribution" separates two sets (Section 5, Fig. 3).
- `NormMonitor`: all of the above on a fixed probe set, in eval mode and float32, every N epochs, appended to a TSV.

What each number means and when it moves: docs/monitor.md.

>>> import torch
>>> from embnorm.monitor import NormMonitor
>>> _ = torch.manual_seed(0)
>>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 6))
>>> monitor = NormMonitor(torch.rand(64, 3, 2, 2), probe_labels=torch.arange(64) % 2,
...                       ood_images=torch.rand(32, 3, 2, 2))
>>> row = monitor(net, epoch=0)
>>> sorted(k for k in row if not k.startswith("z_norm_mean_class"))  # doctest: +NORMALIZE_WHITESPACE
['epoch', 'z_norm_mean', 'z_norm_median', 'z_norm_p10', 'z_norm_p90', 'z_ood_auroc', 'z_ood_norm_mean', 'z_rankme']
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = ["norm_stats", "rankme", "norm_ood_auroc", "NormMonitor"]

RANKME_EPS = 1e-7  # Garrido et al. 2023, Eq. 1: p_k = sigma_k / ||sigma||_1 + eps


def _norms(z) -> np.ndarray:
    """Row norms of a (N, D) tensor or array, computed in float64 (no overflow of float16 embeddings)."""
    z = z.detach().cpu().double().numpy() if isinstance(z, torch.Tensor) else np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D (samples, dims) array, got shape {z.shape}")
    return np.linalg.norm(z, axis=1)


def norm_stats(z, labels=None) -> dict[str, float]:
    """Mean, median, 10th and 90th percentile of the embedding norms ||z_i|| (rows are samples), and with `labels`
    the mean norm of each class (`norm_mean_class<c>`), as plain floats.

    Draganov et al. (ICML 2025), Section 3: under cosine and InfoNCE losses the norms grow during training
    (Corollary 3.3), which slows convergence (the gradient scales as 1/||z||, Proposition 3.1); Section 5: frequent
    classes and confident, typical samples get larger norms.

    >>> import torch
    >>> z = torch.tensor([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0], [0.0, 2.0]])   # norms 5, 1, 10, 2
    >>> s = norm_stats(z, labels=[0, 1, 0, 1])
    >>> s["norm_mean"], s["norm_median"], s["norm_mean_class0"], s["norm_mean_class1"]
    (4.5, 3.5, 7.5, 1.5)
    """
    norms = _norms(z)
    if len(norms) == 0:
        raise ValueError("norm_stats needs at least one embedding")
    out = {"norm_mean": float(norms.mean()), "norm_median": float(np.median(norms)),
           "norm_p10": float(np.percentile(norms, 10)), "norm_p90": float(np.percentile(norms, 90))}
    if labels is not None:
        labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        if labels.shape != norms.shape:
            raise ValueError(f"labels must hold one label per embedding: {labels.shape} labels, {len(norms)} rows")
        for c in np.unique(labels):
            out[f"norm_mean_class{c}"] = float(norms[labels == c].mean())
    return out


def rankme(z, eps: float = RANKME_EPS) -> float:
    """RankMe, the effective rank of the embeddings (Garrido et al., "RankMe: Assessing the Downstream Performance of
    Pretrained Self-Supervised Representations by Their Rank", ICML 2023, Eq. 1): with sigma_k the singular values of
    the (N, D) embedding matrix, p_k = sigma_k / ||sigma||_1 + eps (eps = 1e-7, theirs), and
    RankMe = exp(-sum_k p_k log p_k). It lies between 1 (collapse to one direction) and min(N, D); no centering.

    Computed in float64. For a matrix with r equal non-zero singular values it is r.

    >>> import torch
    >>> round(rankme(torch.eye(8)[:, :5] @ torch.eye(5, 16)), 3)          # rank 5, equal singular values
    5.0
    >>> round(rankme(torch.ones(10, 4)), 3)                                 # collapsed
    1.0
    """
    z = z.detach().cpu().double() if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, np.float64))
    if z.ndim != 2 or min(z.shape) == 0:
        raise ValueError(f"embeddings must be a non-empty 2-D (samples, dims) array, got shape {tuple(z.shape)}")
    sigma = torch.linalg.svdvals(z)
    p = sigma / sigma.sum() + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))


def norm_ood_auroc(z_id, z_ood) -> float:
    """AUROC of the embedding norm as an in-distribution score: the probability that an in-distribution sample has a
    larger norm than an out-of-distribution one (ties count one half). 0.5 is chance; above 0.5, OOD samples have
    smaller norms, as Draganov et al. (ICML 2025) report in Section 5 (Fig. 3).

    Computed from midranks (the Mann-Whitney U statistic divided by n_id * n_ood), with numpy alone: importing
    scipy.stats would cost a training job seconds of start-up.

    >>> import torch
    >>> z_id = torch.tensor([[3.0, 4.0], [0.0, 2.0]])    # norms 5, 2
    >>> z_ood = torch.tensor([[1.0, 0.0], [0.0, 3.0]])   # norms 1, 3
    >>> norm_ood_auroc(z_id, z_ood)                      # pairs won: 5>1, 5>3, 2>1 of 4
    0.75
    """
    a, b = _norms(z_id), _norms(z_ood)
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"norm_ood_auroc needs samples in both sets, got {len(a)} in-distribution and {len(b)} OOD")
    _, where, counts = np.unique(np.concatenate([a, b]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[where]  # 1-based ranks, ties get their mean rank
    u = ranks[:len(a)].sum() - len(a) * (len(a) + 1) / 2
    return float(u / (len(a) * len(b)))


class NormMonitor:
    """The monitor of Draganov et al. (ICML 2025, Sections 3 and 5) for any training loop: embedding-norm statistics
    (`norm_stats`), RankMe (Garrido et al. 2023) and, with OOD images, the norm's OOD AUROC (`norm_ood_auroc`), of a
    fixed probe set, every `every` epochs.

    `monitor(model, epoch)` embeds the probe images with the model in eval mode, autocast off and outputs cast to
    float32, then restores the train/eval flag of every submodule and the torch random state (CPU and CUDA), so
    monitoring does not change the run it watches. `model` is an `nn.Module` or any callable; its output is either the
    embeddings (a tensor, reported under the name `layers[0]`, default "z") or a mapping of named tensors (reported for
    each name in `layers`, default every entry). Keys are `<layer>_norm_mean`, `_norm_median`, `_norm_p10`,
    `_norm_p90`, `_norm_mean_class<c>` (with probe labels), `_rankme`, `_ood_norm_mean` and `_ood_auroc` (with OOD
    images). With `tsv`, each call appends its row (with the epoch) to that file, header first.

    probe_images and ood_images are tensors the model accepts (already preprocessed, for example float in [0, 1]);
    they are moved to the model's device batch by batch. Note: at initialization BatchNorm running statistics are
    defaults, not data statistics, so eval-mode norms of an untrained BN network can be far off (docs/monitor.md).

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 6), torch.nn.Dropout(0.5))
    >>> monitor = NormMonitor(torch.rand(64, 3, 2, 2), every=5)
    >>> _ = net.train()
    >>> [monitor.due(e) for e in range(7)]
    [True, False, False, False, False, True, False]
    >>> row = monitor(net, epoch=5)
    >>> net.training, row["epoch"], row["z_rankme"] > 1
    (True, 5, True)
    """

    def __init__(self, probe_images: torch.Tensor, probe_labels=None, ood_images: torch.Tensor | None = None,
                 layers: Sequence[str] | None = None, every: int = 1, batch_size: int = 256,
                 tsv: str | os.PathLike | None = None, device: torch.device | str | None = None):
        if every < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}")
        if probe_labels is not None and len(probe_labels) != len(probe_images):
            raise ValueError(f"probe_labels must hold one label per probe image: {len(probe_labels)} labels, "
                             f"{len(probe_images)} images")
        self.probe_images, self.probe_labels, self.ood_images = probe_images, probe_labels, ood_images
        self.layers = list(layers) if layers is not None else None
        self.every, self.batch_size, self.tsv, self.device = every, batch_size, tsv, device

    def due(self, epoch: int) -> bool:
        """Whether `epoch` is a monitored one: every `every` epochs, starting at epoch 0."""
        return epoch % self.every == 0

    def __call__(self, model: Callable, epoch: int | None = None) -> dict[str, float]:
        """The row of metrics for `model` now (and appended to the TSV when one was given)."""
        row: dict[str, float] = {} if epoch is None else {"epoch": epoch}
        probe = self.embed(model, self.probe_images)
        ood = self.embed(model, self.ood_images) if self.ood_images is not None else None
        for layer, z in probe.items():
            row.update({f"{layer}_{k}": v for k, v in norm_stats(z, self.probe_labels).items()})
            row[f"{layer}_rankme"] = rankme(z)
            if ood is not None:
                row[f"{layer}_ood_norm_mean"] = norm_stats(ood[layer])["norm_mean"]
                row[f"{layer}_ood_auroc"] = norm_ood_auroc(z, ood[layer])
        if self.tsv is not None:
            self._append(row)
        return row

    @torch.no_grad()
    def embed(self, model: Callable, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Float32 embeddings of `images`, per layer, in input order; model mode and RNG state restored afterwards."""
        modules = list(model.modules()) if isinstance(model, torch.nn.Module) else []
        modes = [m.training for m in modules]
        device = self.device if self.device is not None else _device_of(model)
        cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
        chunks: dict[str, list[torch.Tensor]] = {}
        try:
            with torch.random.fork_rng(devices=cuda):
                for m in modules:
                    m.training = False
                for start in range(0, len(images), self.batch_size):
                    x = images[start:start + self.batch_size].to(device)
                    with torch.autocast(device_type=torch.device(device).type, enabled=False):
                        for layer, z in self._select(model(x)).items():
                            chunks.setdefault(layer, []).append(z.float().flatten(1).cpu())
        finally:
            for m, training in zip(modules, modes):
                m.training = training
        return {layer: torch.cat(parts) for layer, parts in chunks.items()}

    def _select(self, out) -> dict[str, torch.Tensor]:
        if isinstance(out, torch.Tensor):
            return {(self.layers or ["z"])[0]: out}
        if isinstance(out, Mapping):
            names = self.layers or [k for k, v in out.items() if isinstance(v, torch.Tensor)]
            missing = [n for n in names if n not in out]
            if missing:
                raise KeyError(f"NormMonitor layers {missing} are not in the model's output (keys: {list(out)})")
            return {name: out[name] for name in names}
        raise TypeError(f"the model must return a tensor or a mapping of tensors, got {type(out).__name__}")

    def _append(self, row: dict[str, float]) -> None:
        new = not os.path.exists(self.tsv) or os.path.getsize(self.tsv) == 0
        if not new:
            with open(self.tsv, newline="") as f:
                header = next(csv.reader(f, delimiter="\t"))
            if header != list(row):
                raise ValueError(f"{self.tsv}: its columns {header} differ from this monitor's {list(row)}; "
                                 f"write to a new file")
        with open(self.tsv, "a", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            if new:
                writer.writerow(row)
            writer.writerow([repr(v) if isinstance(v, float) else v for v in row.values()])


def _device_of(model) -> torch.device:
    """The device of the model's first parameter or buffer; the CPU for parameter-free callables."""
    if isinstance(model, torch.nn.Module):
        for t in [*model.parameters(), *model.buffers()]:
            return t.device
    return torch.device("cpu")
