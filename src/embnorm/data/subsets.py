"""Class subsets and per-class caps, for any source: a dataset that keeps some of its source's classes, relabelled
0..K'-1 in the order given, and at most n images per class in each split, the first n in dataset order.

    datasets:
      fmnist_id:  {source: fashion_mnist, classes: [0, 1, 2, 3, 4], max_train_per_class: 1000}
      fmnist_ood: {source: fashion_mnist, classes: [5, 6, 7, 8, 9], max_train_per_class: 1000}

So one source gives a study's in-distribution dataset and, from its other classes, its OOD partner. The selection is
applied after the source has written its splits (prepare.py), so every source gets it the same way; the rewritten
split keeps the source's row order, its `original_index` (the row in the source's split) and its per-sample records,
and records what was kept in `meta.json` under `subset`: the labels kept (source numbering, in new label order),
the source's class names, the cap, and per class the images available and kept (as an imbalanced split's audit.tsv).
"""

from __future__ import annotations

import numpy as np

from embnorm.data import format as fmt
from embnorm.data.validate import DataError

KEYS = ("classes", "max_train_per_class", "max_test_per_class")
# meta.json entries written by format.write_split itself (recomputed when the split is written again)
FORMAT_KEYS = ("dataset", "split", "source", "classes", "n", "image_size", "class_counts", "original_index", "sha256")
PER_SAMPLE = ("files", "coarse_labels")  # per-image lists some sources record (folders, tinyimagenet; cifar100)
PER_SAMPLE_TABLES = ("structure",)  # dicts of per-image lists (synthetic)
PER_CLASS = ("class_words",)  # one entry per source class (tinyimagenet)


def requested(spec: dict) -> bool:
    return any(key in spec for key in KEYS)


def selection(dataset: str, split: str, labels: np.ndarray, names: list[str], spec: dict):
    """Rows to keep (sorted, source order), their new labels, the kept source labels and the per-class audit."""
    keep = [int(c) for c in spec.get("classes", range(len(names)))]
    unknown = [c for c in keep if not 0 <= c < len(names)]
    if unknown:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise DataError(f"datasets.{dataset}.classes: {unknown} are not labels of the source, whose {len(names)} "
                        f"classes are 0..{len(names) - 1} ({shown})")
    cap = spec.get(f"max_{split}_per_class")
    rows, audit = [], []
    for new, c in enumerate(keep):
        members = np.flatnonzero(labels == c)
        kept = members if cap is None else members[:cap]
        rows.append(kept)
        audit.append({"class": new, "source_label": c, "name": names[c], "available": int(len(members)),
                      "kept": int(len(kept))})
    indices = np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
    relabel = np.full(len(names), -1, np.int64)
    relabel[keep] = np.arange(len(keep))
    return indices, relabel[np.asarray(labels)[indices]], keep, audit


def apply(dataset: str, spec: dict, directory, split: str) -> None:
    """Rewrite the prepared split in `directory` to the dataset's class subset and cap (no-op without them)."""
    if not requested(spec):
        return
    full = fmt.read_split(directory)
    names = full.meta["classes"]
    indices, labels, keep, audit = selection(dataset, split, full.labels, names, spec)
    extra = {k: v for k, v in full.meta.items() if k not in FORMAT_KEYS}
    for key in PER_SAMPLE:
        if key in extra:
            extra[key] = [extra[key][i] for i in indices]
    for key in PER_SAMPLE_TABLES:
        if key in extra:
            extra[key] = {k: [v[i] for i in indices] for k, v in extra[key].items()}
    for key in PER_CLASS:
        if key in extra:
            extra[key] = [extra[key][c] for c in keep]
    extra["subset"] = {"classes": keep, "source_classes": names, "max_per_class": spec.get(f"max_{split}_per_class"),
                       "audit": audit}
    fmt.write_split(directory, dataset, split, np.asarray(full.images[indices]), labels, [names[c] for c in keep],
                    full.meta["source"], original_index=np.asarray(full.meta["original_index"])[indices], extra=extra)
