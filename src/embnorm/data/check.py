"""The `check_dataset` job: a dataset's prepared files are whole and valid before any job trains or embeds on them.

The train and embed rules depend on this job's record (resources/datasets/<name>/checked.json). When a prepared file
is damaged or replaced after a run finished, Snakemake plans that run again; this job runs first and fails with one
line naming the file and the rule to re-run, so the train job, which would delete the finished checkpoint.pt and
metrics.tsv before failing, never starts. (The record is an `ancient` input of train and embed: it orders the jobs,
but writing it never makes a finished run re-train.)

    embnorm check-dataset --dataset fruitimb --spec '{"parent": "fruit", "imbalance": {"base": 1.5}}' --out ...
"""

from __future__ import annotations

from embnorm import io, paths
from embnorm.data import format as fmt
from embnorm.data import validate


def checked_files(dataset: str, datasets: dict) -> list[str]:
    """What check_dataset verifies: the source's prepared splits, and a derived dataset's split indices."""
    spec = datasets[dataset]
    source = spec.get("parent", dataset)
    files = [paths.fmt(t, dataset=source, split=s) for s in ("train", "test")
             for t in (paths.DATASET_IMAGES, paths.DATASET_LABELS, paths.DATASET_META)]
    return files + ([paths.fmt(paths.SPLIT_INDICES, dataset=dataset)] if "parent" in spec else [])


def check_dataset(dataset: str, spec: dict, out: str, parent_spec: dict | None = None) -> None:
    """Verify the prepared splits (checksums, split and pair checks) of a source dataset, or of a derived dataset's
    parent (`parent_spec`) plus its split indices; write a record of what was verified."""
    source = spec.get("parent", dataset)
    record: dict = {"dataset": dataset, "source": source, "splits": {}}
    splits = {s: fmt.read_split(source, s) for s in ("train", "test")}  # read_split verifies checksums
    source_spec = spec if source == dataset else (parent_spec or {})
    validate.check_pair(source, source_spec, splits["train"].meta, splits["test"].meta)
    for name, split in splits.items():
        record["splits"][name] = {"n": split.meta["n"], "sha256": split.meta["sha256"]}
    if "parent" in spec:
        where = paths.fmt(paths.SPLIT_INDICES, dataset=dataset)
        indices = io.read_npy(where)
        train = splits["train"]
        validate.check_subset(dataset, source, indices, train.labels, train.meta["classes"], where)
        record["indices"] = {"n": int(len(indices)), "sha256": io.sha256(where)}
    io.write_json(out, record)
