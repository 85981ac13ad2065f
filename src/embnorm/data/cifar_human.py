"""Real human labels: CIFAR-10N / CIFAR-100N (Wei et al., ICLR 2022) and CIFAR-10H (Peterson et al., ICCV 2019).

- CIFAR-10N/100N rows follow the original CIFAR train order (`data_batch_1..5`, i.e. the prepared train split). The
  upstream files are `torch.save` pickles; they are read once, by the numpy-only reader in `pickles.py`, and written as
  a pickle-free `.npz` with the same keys (int64 arrays; CIFAR-100N's coarse label lists become arrays too). Their
  `clean_label` must equal the prepared train labels, which proves that the rows line up.
- CIFAR-10H rows follow the original CIFAR-10 test order; counts (int64) and probs (float64) are copied after checks.
  No CIFAR-100H exists: for `cifar100n` the two CIFAR-10H-layout files hold zero rows, so a join fails loudly.

Files are pinned to the upstream commits named in ../shared/data/README.md, with their md5s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embnorm import io
from embnorm.data import fetch, pickles
from embnorm.data import format as fmt
from embnorm.data.fetch import DataSourceError, Remote
from embnorm.data.human_labels import CIFAR10N_KEYS
from embnorm.errors import EmbnormError

_N = "https://raw.githubusercontent.com/UCSC-REAL/cifar-10-100n/49df7d8a69e355470c77c1c2f2424916325a394b/"
_H = "https://raw.githubusercontent.com/jcpeterson/cifar-10h/48da312b193b82e6939ec20f23d1f09cbdd849c8/"
CIFAR10N = Remote("cifar-n", "CIFAR-10_human.pt", _N + "data/CIFAR-10_human.pt", "96644db5574813cae939af5f7f2a0aec")
CIFAR100N = Remote("cifar-n", "CIFAR-100_human.pt", _N + "data/CIFAR-100_human.pt", "a67b45c1d7992051865b5c755bd68bb1")
CIFAR10H_COUNTS = Remote("cifar-10h", "cifar10h-counts.npy", _H + "data/cifar10h-counts.npy",
                         "f1284b6fba48a67d3db69bbafb5685ad")
CIFAR10H_PROBS = Remote("cifar-10h", "cifar10h-probs.npy", _H + "data/cifar10h-probs.npy",
                        "7b41f73eee90fdefc73bfc820ab29ba8")
CIFAR100N_KEYS = ("clean_label", "noisy_label", "clean_coarse_label", "noisy_coarse_label")


@dataclass(frozen=True)
class HumanLabels:
    source: str  # the dataset source whose order the rows follow
    labels: Remote
    keys: tuple[str, ...]
    soft: tuple[Remote, Remote] | None  # CIFAR-10H counts and probs, where they exist


KINDS = {
    "cifar10n": HumanLabels("cifar10", CIFAR10N, CIFAR10N_KEYS, (CIFAR10H_COUNTS, CIFAR10H_PROBS)),
    "cifar100n": HumanLabels("cifar100", CIFAR100N, CIFAR100N_KEYS, None),
}


def kind_of(dataset: str, spec: dict) -> HumanLabels:
    kind = spec.get("human_labels", "none")
    if kind not in KINDS:
        raise EmbnormError(f"datasets.{dataset}.human_labels is '{kind}'; real human labels are {sorted(KINDS)}")
    info = KINDS[kind]
    if spec.get("source") != info.source:
        raise EmbnormError(f"datasets.{dataset}.human_labels: '{kind}' rows follow the {info.source} train order, "
                           f"so it needs source '{info.source}' (got '{spec.get('source')}')")
    return info


def remotes(info: HumanLabels) -> list[Remote]:
    return [info.labels, *(info.soft or ())]


def fetch_raw(dataset: str, spec: dict) -> list[dict]:
    """Each label file in place and verified; every missing or bad one is named in a single error."""
    records, problems = [], []
    for remote in remotes(kind_of(dataset, spec)):
        try:
            records.append(fetch.record(remote, fetch.ensure(remote, spec)))
        except DataSourceError as e:
            problems.append(str(e))
    if problems:
        raise DataSourceError("\n".join(problems))
    return records


def convert_cifarn(raw: dict, keys: tuple[str, ...], where: str) -> dict[str, np.ndarray]:
    """The .pt dict as int64 arrays under the same keys, after checking keys and lengths."""
    if set(raw) != set(keys):
        raise DataSourceError(f"{where}: keys {sorted(raw)}, expected {sorted(keys)}")
    arrays = {k: np.asarray(raw[k], dtype=np.int64) for k in keys}
    lengths = {a.shape for a in arrays.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise DataSourceError(f"{where}: label arrays have shapes {sorted(lengths)}, expected one common (N,)")
    return arrays


def _check_rows(where: str, name: str, got: np.ndarray, expected: np.ndarray) -> None:
    if len(got) != len(expected):
        raise DataSourceError(f"{where}: {len(got)} rows, but the prepared split has {len(expected)}")
    wrong = int((got != expected).sum())
    if wrong:
        raise DataSourceError(f"{where}: {name} differs from the prepared labels in {wrong} of {len(got)} rows; "
                              f"the rows do not follow the original order")


def write(dataset: str, spec: dict, train_dir, test_dir, out_n: str, out_h_counts: str, out_h_probs: str) -> None:
    """The human-label files of `dataset`, checked against its prepared splits in `train_dir` and `test_dir`."""
    info = kind_of(dataset, spec)
    train, test = fmt.read_split(train_dir, mmap=True), fmt.read_split(test_dir, mmap=True)
    path = fetch.ensure(info.labels, spec)
    arrays = convert_cifarn(pickles.load_numpy_pt(path), info.keys, str(path))
    _check_rows(str(path), "clean_label", arrays["clean_label"], train.labels)
    if "clean_coarse_label" in arrays and "coarse_labels" in train.meta:
        coarse = np.asarray(train.meta["coarse_labels"])
        _check_rows(str(path), "clean_coarse_label", arrays["clean_coarse_label"], coarse)
    io.write_npz(out_n, **arrays)

    k = train.num_classes
    if info.soft is None:
        io.write_npy(out_h_counts, np.zeros((0, k), np.int64))
        io.write_npy(out_h_probs, np.zeros((0, k), np.float64))
        return
    counts_path, probs_path = (fetch.ensure(r, spec) for r in info.soft)
    counts, probs = io.read_npy(counts_path), io.read_npy(probs_path)
    if counts.shape != (len(test.labels), k) or probs.shape != counts.shape:
        raise DataSourceError(f"{counts_path}, {probs_path}: shapes {counts.shape}, {probs.shape}; expected "
                              f"({len(test.labels)}, {k}) rows in the test order")
    if (counts < 0).any() or not np.allclose(probs, counts / counts.sum(axis=1, keepdims=True)):
        raise DataSourceError(f"{probs_path}: probs are not counts / row sum of {counts_path}")
    io.write_npy(out_h_counts, counts.astype(np.int64))
    io.write_npy(out_h_probs, probs.astype(np.float64))
