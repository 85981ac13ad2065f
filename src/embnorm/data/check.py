"""The `check_dataset` job: a dataset's prepared files are whole and valid before any job trains or embeds on them.

The train and embed rules depend on this job's record (resources/datasets/<name>/checked.json). When a prepared file
is damaged or replaced after a run finished, Snakemake plans that run again; this job runs first and fails with one
line naming the file and the rule to re-run, so the train job, which would delete the finished checkpoint.pt and
metrics.tsv before failing, never starts. (The record is an `ancient` input of train and embed: it orders the jobs,
but writing it never makes a finished run re-train.)

    embnorm check-dataset --dataset fruitimb --spec '{"parent": "fruit", "imbalance": {"base": 1.5}}' \
        --parent-spec '{"source": "imagefolder", "path": "data"}' --train resources/datasets/fruit/train \
        --test resources/datasets/fruit/test --indices resources/splits/fruitimb/indices.npy \
        --out resources/datasets/fruitimb/checked.json
"""

from __future__ import annotations

from embnorm import io
from embnorm.data import format as fmt
from embnorm.data import validate
from embnorm.errors import EmbnormError


def check_dataset(dataset: str, spec: dict, train_dir, test_dir, out: str, parent_spec: dict | None = None,
                  indices_path=None) -> None:
    """Verify the prepared splits in `train_dir` and `test_dir` (checksums, split and pair checks) of a source dataset,
    or of a derived dataset's parent (`parent_spec`) plus its split indices (`indices_path`); write a record of what
    was verified to `out`."""
    source = spec.get("parent", dataset)
    record: dict = {"dataset": dataset, "source": source, "splits": {}}
    splits = {"train": fmt.read_split(train_dir), "test": fmt.read_split(test_dir)}  # read_split verifies checksums
    source_spec = spec if source == dataset else (parent_spec or {})
    validate.check_pair(source, source_spec, splits["train"].meta, splits["test"].meta)
    for name, split in splits.items():
        record["splits"][name] = {"n": split.meta["n"], "sha256": split.meta["sha256"]}
    if "parent" in spec:
        if indices_path is None:
            raise EmbnormError(f"datasets.{dataset}: a derived dataset's check needs its split indices "
                                     "(--indices)")
        indices = io.read_npy(indices_path)
        train = splits["train"]
        validate.check_subset(dataset, source, indices, train.labels, train.meta["classes"], str(indices_path))
        record["indices"] = {"n": int(len(indices)), "sha256": io.sha256(indices_path)}
    io.write_json(out, record)
