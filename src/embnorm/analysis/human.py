"""Fig. 4 (middle, right): does the norm track human confidence? (paper-reference §5.3)

- Train split: agreement of the CIFAR-N style human label with `clean_label`, per norm bucket (drawn when a bucket
  holds at least `analysis.min_bucket_count_human` samples, 50 as in the notebook). The human label is `aggre_label`
  (CIFAR-10N's 3-annotator majority; also the simulated annotators' file) or, where absent, `noisy_label`
  (CIFAR-100N's single annotator).
- Test split: mean CIFAR-10H label entropy in bits per norm bucket (drawn from `analysis.min_bucket_count` samples),
  with the norms normalised over the test split.
- Human labels are joined to embeddings by original index (the label files are in the original dataset order), and
  the join is checked: `clean_label` must equal the embeddings' labels, else the files do not belong together.
Beside the curves: per-sample Spearman(norm, agreement) and Spearman(norm, entropy), and their within-class means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embnorm import io
from embnorm.analysis.buckets import BUCKET_COLUMNS, STATS_COLUMNS, bucket_rows, group_summaries
from embnorm.analysis.common import Run, load_embeddings, norms, run_columns
from embnorm.data.human_labels import entropy_bits

HUMAN_KEYS = ("aggre_label", "noisy_label")  # CIFAR-10N majority vote first, else CIFAR-100N's single annotator


def _joined(table: np.ndarray, original_index: np.ndarray, what: str) -> np.ndarray:
    if len(original_index) and original_index.max() >= len(table):
        raise io.ArtifactError(f"{what}: {len(table)} rows, but embeddings refer to original index "
                               f"{int(original_index.max())}")
    return table[original_index]


def train_agreement(path: str, arrays: dict) -> tuple[np.ndarray, str]:
    """Per ID-train sample: 1.0 where the human label (CIFAR-N layout file `path`) equals the clean label, and the key
    used."""
    labels = io.read_npz(path)
    key = next((k for k in HUMAN_KEYS if k in labels), None)
    if key is None or "clean_label" not in labels:
        raise io.ArtifactError(f"{path}: needs clean_label and one of {HUMAN_KEYS}; has {sorted(labels)}")
    clean = _joined(labels["clean_label"], arrays["original_index"], path)
    if not np.array_equal(clean, arrays["labels"]):
        raise io.ArtifactError(f"{path}: clean_label disagrees with the dataset labels at "
                               f"{int((clean != arrays['labels']).sum())} samples; the join by original index is wrong")
    return (_joined(labels[key], arrays["original_index"], path) == clean).astype(np.float64), key


def test_entropy(path: str, arrays: dict) -> np.ndarray | None:
    """Per ID-test sample: entropy (bits) of the CIFAR-10H style label distribution in `path`; None if the dataset has
    none (an empty file)."""
    probs = io.read_npy(path)
    if probs.ndim != 2 or len(probs) == 0:
        return None
    return entropy_bits(_joined(probs, arrays["original_index"], path))


def human_agreement(runs: list[Run], human: dict[str, tuple[str, str]], layer: str, buckets: int,
                    min_count_train: int, min_count_test: int, resamples: int,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-bucket table, per-group Spearman table) for every run whose source dataset has human labels: `human` maps
    such a dataset to its (CIFAR-N labels file, CIFAR-10H probabilities file)."""
    tables, samples = [], {"human_agreement": [], "human_entropy": []}
    for run in runs:
        params = run.params
        if params["source"] not in human:
            continue
        labels_file, probs_file = human[params["source"]]
        train = load_embeddings(run, "id_train")
        agree, key = train_agreement(labels_file, train)
        n = norms(train, layer)
        tables += bucket_rows(params, n, agree, buckets, min_count_train, layer=layer, split="train",
                              measure="human_agreement", label_key=key, n=len(n))
        samples["human_agreement"].append(pd.DataFrame({**run_columns(params), "x": n, "y": agree,
                                                        "classes": train["labels"]}))
        test = load_embeddings(run, "id_test")
        entropy = test_entropy(probs_file, test)
        if entropy is not None:
            n = norms(test, layer)
            tables += bucket_rows(params, n, entropy, buckets, min_count_test, layer=layer, split="test",
                                  measure="human_entropy", label_key="cifar10h_probs", n=len(n))
            samples["human_entropy"].append(pd.DataFrame({**run_columns(params), "x": n, "y": entropy,
                                                          "classes": test["labels"]}))
    stats = [group_summaries(pd.concat(s, ignore_index=True), measure, resamples, seed)
             for measure, s in samples.items() if s]
    return (pd.concat(tables, ignore_index=True) if tables
            else pd.DataFrame(columns=[*BUCKET_COLUMNS, "split", "measure", "label_key"]),
            pd.concat(stats, ignore_index=True).assign(layer=layer) if stats else pd.DataFrame(columns=STATS_COLUMNS))
