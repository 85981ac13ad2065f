"""Feature extraction: backbone, projector and (SimSiam) predictor outputs of a prepared split, from a final checkpoint.

Every sample in original order (no drop_last), model in eval mode, no augmentation. Norms are computed in fp32 before
any downcast; features of width >= 512 are stored as float16 (they are large), narrower ones as float32.
"""

from __future__ import annotations

import numpy as np
import torch

from embnorm import io
from embnorm.data.format import Split
from embnorm.models import SSLModel
from embnorm.train.checkpoint import load_final
from embnorm.train.monitor import embed_batches
from embnorm.train.step import pick_device

FLOAT16_FROM_DIM = 512


def load_model(checkpoint_path, device: torch.device) -> tuple[SSLModel, dict]:
    state = load_final(checkpoint_path)
    model = SSLModel(state["params"], state["image_size"])
    model.load_state_dict(state["model"])
    return model.to(device).to(memory_format=torch.channels_last).eval(), state["params"]


def embed_split(checkpoint_path, split: Split, out_path, trained_on: np.ndarray | None = None,
                batch_size: int = 512, threads: int = 0) -> None:
    device = pick_device("auto")
    if threads:
        torch.set_num_threads(threads)
    model, params = load_model(checkpoint_path, device)
    layers = ["backbone", "projector"] + (["predictor"] if model.predictor is not None else [])
    arrays: dict[str, np.ndarray] = {}
    chunks = {layer: [] for layer in layers}
    for start in range(0, len(split.labels), 4096):  # bounded host memory for large splits
        images = torch.from_numpy(np.asarray(split.images[start:start + 4096])).to(device)
        feats = embed_batches(model, images, layers, batch_size, amp=params["amp"])
        for layer in layers:
            chunks[layer].append(feats[layer].cpu())
    for layer in layers:
        feats = torch.cat(chunks[layer])
        arrays[f"{layer}_norm"] = feats.norm(dim=1).numpy().astype(np.float32)
        dtype = np.float16 if feats.shape[1] >= FLOAT16_FROM_DIM else np.float32
        arrays[layer] = feats.numpy().astype(dtype)
    arrays["labels"] = split.labels.astype(np.int64)
    arrays["original_index"] = np.asarray(split.meta["original_index"], dtype=np.int64)
    arrays["trained_on"] = np.ones(len(split.labels), bool) if trained_on is None else trained_on
    io.write_npz(out_path, **arrays)
