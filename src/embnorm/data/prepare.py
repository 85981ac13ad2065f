"""Prepare a source dataset into the one dataset format (train and test splits), dispatching on its source; the human
labels and imbalanced splits made from prepared data. Every function writes where its caller says (the workflow
passes its rule's outputs):

    prepare("synth", spec, {"train": "out/synth/train", "test": "out/synth/test"})
    write_imbalanced_split("synthimb", "out/synth/train", 1.5, None, "out/synthimb/indices.npy", "out/synthimb/a.tsv")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embnorm import io
from embnorm.data import format as fmt
from embnorm.data import human_labels, splits, subsets, synthetic, validate
from embnorm.errors import EmbnormError

SPLITS = ("train", "test")


def synthetic_spec(spec: dict) -> synthetic.SyntheticSpec:
    return synthetic.SyntheticSpec(**spec.get("synthetic", {}))


def prepare(dataset: str, spec: dict, out: dict) -> None:
    """Prepare both splits into the folders `out["train"]` and `out["test"]`, keep the dataset's class subset and
    per-class caps if it sets them (data/subsets.py), then check the splits as a pair (data/validate.py). A check
    that fails, in either split or in the pair, leaves no split behind (not even a train split written before the
    test split failed)."""
    if "parent" in spec or "source" not in spec:
        raise EmbnormError(f"datasets.{dataset}: only a source dataset (one with `source`) is prepared; a derived one "
                           "(`parent`) is made by rule imbalanced_split")
    try:
        if spec["source"] == "synthetic":
            _prepare_synthetic(dataset, spec, out)
        else:
            from embnorm.data import sources  # real sources: downloads, archives and folders

            sources.prepare(dataset, spec, out)
        for split in SPLITS:
            subsets.apply(dataset, spec, out[split], split)
        metas = [io.read_json(fmt.split_files(out[s])[2]) for s in SPLITS]
        validate.check_pair(dataset, spec, *metas)
    except EmbnormError:
        for split in SPLITS:
            for path in fmt.split_files(out[split]):
                Path(path).unlink(missing_ok=True)
        raise


def _prepare_synthetic(dataset: str, spec: dict, out: dict) -> None:
    sspec = synthetic_spec(spec)
    for split in SPLITS:
        images, structure = synthetic.generate(sspec, split)
        fmt.write_split(out[split], dataset, split, images, structure["label"], synthetic.class_names(sspec),
                        "synthetic",
                        extra={"synthetic": sspec.__dict__, "structure": {k: v.tolist() for k, v in structure.items()}})


def write_human_labels(dataset: str, spec: dict, train_dir, test_dir, out_n: str, out_h: str, out_hp: str) -> None:
    """CIFAR-N-layout train labels (`out_n`) and CIFAR-10H-layout test counts and probabilities (`out_h`, `out_hp`)
    for the dataset prepared in `train_dir` and `test_dir`."""
    kind = spec.get("human_labels", "none")
    if kind == "simulated":
        if spec["source"] != "synthetic":
            raise EmbnormError(f"datasets.{dataset}.human_labels: 'simulated' needs source 'synthetic'")
        sspec = synthetic_spec(spec)
        train, test = fmt.read_split(train_dir), fmt.read_split(test_dir)
        st = lambda m: {k: np.asarray(v) for k, v in m["structure"].items()}  # noqa: E731
        io.write_npz(out_n, **human_labels.simulate_cifar10n(sspec, st(train.meta), sspec.seed))
        counts, probs = human_labels.simulate_cifar10h(sspec, st(test.meta), sspec.seed)
        io.write_npy(out_h, counts)
        io.write_npy(out_hp, probs)
    else:
        from embnorm.data import sources

        sources.write_human_labels(dataset, spec, train_dir, test_dir, out_n, out_h, out_hp)


def write_imbalanced_split(dataset: str, parent_train, base: float, n_max: int | None, out_indices,
                           out_audit, min_class_size: int | None = None) -> None:
    """The exponentially imbalanced subset `dataset` of the prepared train split in `parent_train`: its row indices
    (`out_indices`) and a per-class audit table (`out_audit`)."""
    train = fmt.read_split(parent_train)
    indices, audit = splits.imbalanced_indices(train.labels, train.num_classes, base, n_max, dataset, min_class_size)
    io.write_npy(out_indices, indices.astype(np.int64))
    io.write_tsv(out_audit, audit)
