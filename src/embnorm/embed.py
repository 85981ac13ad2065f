"""Feature extraction: the layers a run's method exposes (backbone, projector and, with a predictor, predictor
outputs) of a run's splits, from its final checkpoint.

A job (`embed_run`) loads the model once and writes the splits it is given, of those the analyses read
(`config.role_datasets`: the source's train and test, and the OOD partner's), into one folder, a file
`<dataset>-<split>.npz` (`paths.EMBEDDING_FILE`) each; the workflow's folder is `results/runs/<run>/embeddings/`, and
it runs one job per dataset, whose two files are the job's outputs:

    embnorm embed --params results/runs/R/params.json --checkpoint results/runs/R/checkpoint.pt \
        --splits resources/datasets/synth_ood/train resources/datasets/synth_ood/test --out results/runs/R/embeddings

`--init` embeds the splits with the run's encoder at initialisation instead (`evaluation/initial.py`: rebuilt from
the run's seed, checked bit-identical against the digest its checkpoint records, BatchNorm statistics re-estimated on
the run's probe images, drawn from its source's train split: `--probe` gives that split when it is not among
`--splits`), into a folder with the same files; the workflow's is `results/runs/<run>/embeddings_init/`. Beside the
trained encoder's, it shows whether training made a statistic or found it there.

Every sample in original order (no drop_last), model in eval mode, no augmentation, features computed in fp32 with
autocast off whatever the run's `amp` (`evaluation.features.embed_batches`). Norms are computed in fp32 before any
downcast; features of width >= 512 are stored as float16 (they are large), narrower ones as float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from embnorm import io, paths
from embnorm.checkpoint import load_final
from embnorm.config import role_datasets
from embnorm.data.format import Split, read_split
from embnorm.errors import EmbnormError
from embnorm.evaluation.features import embed_batches, pick_device
from embnorm.evaluation.initial import initial_model, probe_positions
from embnorm.models import make_model

FLOAT16_FROM_DIM = 512


def trained_model(state: dict, device: torch.device):
    """The model of a final checkpoint's `state`, on `device`, in eval mode."""
    model = make_model(state["params"], state["image_size"])
    model.load_state_dict(state["model"])
    return model.to(device).to(memory_format=torch.channels_last).eval()


def embed_run(params_path, checkpoint_path, split_dirs, out_dir, indices_path=None, threads: int = 0,
              batch_size: int = 512, init: bool = False, probe_dir=None) -> list[str]:
    """Embed the prepared splits in `split_dirs` (some or all of the run's roles, `config.role_datasets`) with the
    model of `checkpoint_path` (`init`: the run's encoder at initialisation, whose probe images come from the source's
    train split, among `split_dirs` or `probe_dir`), into `out_dir`; `indices_path` is the imbalanced subset a run on
    one trained on. Return the files written."""
    if threads:
        torch.set_num_threads(threads)
    params = io.read_json(params_path)
    state = load_final(checkpoint_path)  # a damaged checkpoint is named before any split is read
    splits = {}
    for directory in split_dirs:
        split = read_split(directory)
        splits[split.meta["dataset"], split.meta["split"]] = split
    roles = set(role_datasets(params).values())
    if not splits or set(splits) - roles:
        raise EmbnormError(f"{params['run_id']}: embeds the splits {_show(roles)}; given {_show(splits)}")
    device = pick_device("auto")
    if init:
        probe = probe_images(params, _source_train(params, splits, probe_dir), indices_path)
        model = initial_model(state, checkpoint_path, probe, device)
    else:
        model = trained_model(state, device)
    written = []
    for (dataset, split_name), split in splits.items():
        out = str(Path(out_dir) / paths.EMBEDDING_FILE.format(dataset=dataset, split=split_name))
        mask = trained_on(params, dataset, split_name, len(split.labels), indices_path)
        embed_split(model, params, split, out, mask, batch_size)
        written.append(out)
    return written


def _show(pairs) -> str:
    return ", ".join(f"{d}/{s}" for d, s in sorted(pairs)) or "none"


def _source_train(params: dict, splits: dict, probe_dir) -> Split:
    """The run's source train split, which its probe images are drawn from: one of `splits`, else `probe_dir`."""
    wanted = (params["source"], "train")
    if wanted in splits:
        return splits[wanted]
    if probe_dir is None:
        raise EmbnormError(f"{params['run_id']}: the initial encoder's probe images come from {_show([wanted])}; give "
                           "it (--probe)")
    split = read_split(probe_dir)
    given = (split.meta["dataset"], split.meta["split"])
    if given != wanted:
        raise EmbnormError(f"{probe_dir}: --probe must be {_show([wanted])}, the run's source train split; it holds "
                           f"{_show([given])}")
    return split


def probe_images(params: dict, train: Split, indices_path=None) -> np.ndarray:
    """The run's probe images (uint8), as the training monitor draws them from the images it trains on."""
    rows = _indices(params, indices_path) if params["imbalanced"] else np.arange(len(train.labels))
    probe = probe_positions((params["base_seed"], params["seed"]), params["probe_size"], len(rows))
    return np.asarray(train.images[rows[probe]])


def _indices(params: dict, indices_path) -> np.ndarray:
    if indices_path is None:
        raise EmbnormError(f"{params['run_id']}: trains on an imbalanced subset of {params['source']}; give its "
                           "indices (--indices)")
    return io.read_npy(indices_path)


def trained_on(params: dict, dataset: str, split: str, n: int, indices_path=None) -> np.ndarray:
    """Which rows of a split the run trained on: the imbalanced subset of its source's train split (the indices in
    `indices_path`), else all or none."""
    if dataset != params["source"] or split != "train":
        return np.zeros(n, bool)
    if not params["imbalanced"]:
        return np.ones(n, bool)
    mask = np.zeros(n, bool)
    mask[_indices(params, indices_path)] = True
    return mask


def embed_split(model, params: dict, split: Split, out_path, trained_on: np.ndarray,
                batch_size: int = 512) -> None:
    device = next(model.parameters()).device
    layers = model.layers
    arrays: dict[str, np.ndarray] = {}
    chunks = {layer: [] for layer in layers}
    for start in range(0, len(split.labels), 4096):  # bounded host memory for large splits
        # A copy of the chunk: a prepared split is memory-mapped read-only, and torch.from_numpy on a read-only array
        # warns ("The given NumPy array is not writable") in every embed log.
        images = torch.from_numpy(np.array(split.images[start:start + 4096])).to(device)
        feats = embed_batches(model, images, layers, batch_size)
        for layer in layers:
            chunks[layer].append(feats[layer].cpu())
    for layer in layers:
        feats = torch.cat(chunks[layer])
        arrays[f"{layer}_norm"] = feats.norm(dim=1).numpy().astype(np.float32)
        dtype = np.float16 if feats.shape[1] >= FLOAT16_FROM_DIM else np.float32
        arrays[layer] = feats.numpy().astype(dtype)
    arrays["labels"] = split.labels.astype(np.int64)
    arrays["original_index"] = np.asarray(split.meta["original_index"], dtype=np.int64)
    arrays["trained_on"] = trained_on
    io.write_npz(out_path, **arrays)
