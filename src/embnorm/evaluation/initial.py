"""A run's encoder at initialisation, rebuilt from its seed and checked bit-identical against its training.

Training seeds torch with `seeding.derive(base_seed, seed, INIT)` and then builds the model (`models.build_model`,
cut-initialization included); `rebuild` does the same, so the initial weights need not be stored. What makes the
rebuild trustworthy is a check, not the recipe: training records `state_digest` of the freshly built model in the
final checkpoint (`init_digest`), and `initial_model` refuses a rebuilt model whose digest differs (a change to model
construction, to the seeding, or to the order of random draws since the run trained) or a checkpoint that records
none.

The initial encoder is measured as the training monitor measures it at epoch 0: in eval mode, with BatchNorm
statistics re-estimated on the run's fixed probe images (`probe_positions`, the same draw the monitor makes;
`features.with_data_bn_statistics`). Its running statistics at initialisation are the defaults (mean 0, variance 1),
not statistics of any data, so without this its norms would measure those defaults. With the trained encoder's
embeddings beside them, an analysis can tell a statistic that training made from one that was already there.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from embnorm import seeding
from embnorm.errors import EmbnormError
from embnorm.models import build_model
from embnorm.evaluation.features import with_data_bn_statistics


class InitialWeightsMismatch(EmbnormError):
    pass


def state_digest(model: torch.nn.Module) -> str:
    """sha256 over the state_dict in key order: each key, dtype and shape, then the tensor's bytes (on the CPU, in
    contiguous layout, so a channels-last or GPU copy of the same weights has the same digest)."""
    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}\n".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def probe_positions(keys: tuple[int, int], probe_size: int, n: int) -> np.ndarray:
    """The fixed probe set of a run with seed `keys` (base_seed, seed): `probe_size` positions (sorted) into its `n`
    training images, in the order it trains on them (for an imbalanced run, the order of its indices file)."""
    rng = np.random.default_rng(seeding.derive(*keys, seeding.PROBE))
    return np.sort(rng.permutation(n)[:probe_size])


def rebuild(params: dict, image_size: int) -> torch.nn.Module:
    """The run's model as training built it, before its first step: torch seeded from the run's INIT seed, then
    `build_model` (cut-initialization applied). On the CPU, in train mode."""
    torch.manual_seed(seeding.derive(params["base_seed"], params["seed"], seeding.INIT))
    return build_model(params, image_size)


def check_digest(model: torch.nn.Module, state: dict, checkpoint_path) -> None:
    """Refuse a rebuilt model that is not bit-identical to the one training started from (digest in the final
    checkpoint `state`)."""
    run = state["params"].get("run_id")
    recorded = state.get("init_digest")
    if recorded is None:
        raise InitialWeightsMismatch(
            f"{run}: {checkpoint_path} records no digest of the initial weights (written before training recorded "
            f"one), so a rebuild cannot be checked; re-run its training: snakemake --cores 1 --force {checkpoint_path}")
    rebuilt = state_digest(model)
    if rebuilt != recorded:
        raise InitialWeightsMismatch(
            f"{run}: the initial weights rebuilt from the run's seed (sha256 {rebuilt[:12]}) differ from those its "
            f"training started from ({recorded[:12]}, recorded in {checkpoint_path}); model construction or seeding "
            f"changed since it trained: re-run its training (snakemake --cores 1 --force {checkpoint_path})")


def initial_model(state: dict, checkpoint_path, probe_images: np.ndarray, device: torch.device) -> torch.nn.Module:
    """The run's encoder at initialisation (checked against the digest in `state`, its final checkpoint), on
    `device`, in eval mode, with BatchNorm statistics re-estimated on `probe_images` (uint8, the run's probe set)."""
    model = rebuild(state["params"], state["image_size"])
    check_digest(model, state, checkpoint_path)
    model = model.to(device).to(memory_format=torch.channels_last)
    return with_data_bn_statistics(model, torch.from_numpy(np.asarray(probe_images)).to(device)).eval()
