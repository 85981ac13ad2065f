"""Prepare a source dataset into the one dataset format (train and test splits), dispatching on its source."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embnorm import io, paths
from embnorm.data import format as fmt
from embnorm.data import human_labels, splits, synthetic, validate
from embnorm.errors import EmbnormError


def synthetic_spec(spec: dict) -> synthetic.SyntheticSpec:
    return synthetic.SyntheticSpec(**spec.get("synthetic", {}))


def prepare(dataset: str, spec: dict) -> None:
    """Prepare both splits, then check them as a pair (data/validate.py); a pair that fails leaves no split behind."""
    if "parent" in spec or "source" not in spec:
        raise EmbnormError(f"datasets.{dataset}: only a source dataset (one with `source`) is prepared; a derived one "
                           "(`parent`) is made by rule imbalanced_split")
    if spec["source"] == "synthetic":
        _prepare_synthetic(dataset, spec)
    else:
        from embnorm.data import sources  # real sources: downloads, archives and folders

        sources.prepare(dataset, spec)
    try:
        metas = [io.read_json(paths.fmt(paths.DATASET_META, dataset=dataset, split=s)) for s in ("train", "test")]
        validate.check_pair(dataset, spec, *metas)
    except validate.DataError:
        for split in ("train", "test"):
            for template in (paths.DATASET_IMAGES, paths.DATASET_LABELS, paths.DATASET_META):
                Path(paths.fmt(template, dataset=dataset, split=split)).unlink(missing_ok=True)
        raise


def _prepare_synthetic(dataset: str, spec: dict) -> None:
    sspec = synthetic_spec(spec)
    for split in ("train", "test"):
        images, structure = synthetic.generate(sspec, split)
        fmt.write_split(dataset, split, images, structure["label"], synthetic.class_names(sspec), "synthetic",
                        extra={"synthetic": sspec.__dict__, "structure": {k: v.tolist() for k, v in structure.items()}})


def write_human_labels(dataset: str, spec: dict) -> None:
    """CIFAR-N-layout train labels and CIFAR-10H-layout test counts for a prepared dataset."""
    kind = spec.get("human_labels", "none")
    out_n = paths.fmt(paths.HUMAN_LABELS_N, dataset=dataset)
    out_h = paths.fmt(paths.HUMAN_LABELS_H_COUNTS, dataset=dataset)
    out_hp = paths.fmt(paths.HUMAN_LABELS_H_PROBS, dataset=dataset)
    if kind == "simulated":
        if spec["source"] != "synthetic":
            raise EmbnormError(f"datasets.{dataset}.human_labels: 'simulated' needs source 'synthetic'")
        sspec = synthetic_spec(spec)
        train, test = (fmt.read_split(dataset, s) for s in ("train", "test"))
        st = lambda m: {k: np.asarray(v) for k, v in m["structure"].items()}  # noqa: E731
        io.write_npz(out_n, **human_labels.simulate_cifar10n(sspec, st(train.meta), sspec.seed))
        counts, probs = human_labels.simulate_cifar10h(sspec, st(test.meta), sspec.seed)
        io.write_npy(out_h, counts)
        io.write_npy(out_hp, probs)
    else:
        from embnorm.data import sources

        sources.write_human_labels(dataset, spec, out_n, out_h, out_hp)


def write_imbalanced_split(dataset: str, parent: str, base: float, n_max: int | None) -> None:
    train = fmt.read_split(parent, "train")
    indices, audit = splits.imbalanced_indices(train.labels, train.num_classes, base, n_max, dataset)
    io.write_npy(paths.fmt(paths.SPLIT_INDICES, dataset=dataset), indices.astype(np.int64))
    io.write_tsv(paths.fmt(paths.SPLIT_AUDIT, dataset=dataset), audit)
