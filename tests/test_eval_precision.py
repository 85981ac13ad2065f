"""Features for the monitor and the analyses are fp32 whatever `amp` says (issue 11), and the embed stage's storage:
norms from fp32 features, features of width >= 512 stored as float16 (compared with an independent fp32 forward pass).

CPU autocast stands in for CUDA's: `step.autocast` enables bf16 only on CUDA, so the tests open a CPU bf16 autocast
region around the evaluation, as training does around its steps on the GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embnorm import io
from embnorm.data.format import Split
from embnorm.embed import FLOAT16_FROM_DIM, embed_split
from embnorm.evaluation.features import embed_batches, to_float
from embnorm.models import make_model
from embnorm.train.monitor import Monitor, knn_protocol
from helpers.training import tiny_params


def images(n: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))


def model_of(params) :
    torch.manual_seed(0)
    model = make_model(params, 16)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode is not an identity
        model.train()(to_float(images(64, 9)))
    return model.eval()


def fp32_reference(model, x_uint8) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return model.eval()(to_float(x_uint8))


def test_features_are_fp32_inside_a_bf16_autocast_region():
    params = tiny_params("simsiam")
    model, x = model_of(params), images(40, 1)
    expected = fp32_reference(model, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats = embed_batches(model, x, ["backbone", "projector", "predictor"], batch_size=16)
    for layer, value in feats.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, expected[layer], rtol=1e-5, atol=1e-6)


def test_the_monitor_with_amp_on_gives_the_fp32_numbers():
    """With `amp: true` the monitor used to evaluate under the training autocast (bf16 on CUDA); call it inside a CPU
    bf16 autocast region, as training's step would leave it, and require the numbers of `amp: false` outside one."""
    rows = {}
    for amp in (False, True):
        params = tiny_params(amp=amp, knn_every=1, knn_k=5)
        bank_labels, query_labels = torch.arange(48) % 4, torch.arange(24) % 4
        mon = Monitor(params, images(32, 2), images(48, 3), bank_labels, images(24, 4), query_labels, 4)
        model = model_of(params)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            rows[amp] = mon.evaluate(model, epoch=1)
    assert rows[True] == rows[False]
    assert knn_protocol(tiny_params()).endswith("fp32")


@pytest.mark.parametrize("embed_dim", [FLOAT16_FROM_DIM, 64])
def test_embed_split_stores_wide_layers_as_float16_with_fp32_norms(tmp_path, embed_dim):
    params = tiny_params("simsiam", amp=True, embed_dim=embed_dim, predictor_dim=16)
    model, x = model_of(params), images(50, 5)
    split = Split(x.numpy(), np.arange(50) % 4, {"classes": list("abcd"), "original_index": list(range(100, 150))})
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as if the caller were inside training's autocast
        embed_split(model, params, split, tmp_path / "e.npz", np.ones(50, bool), batch_size=16)
    arrays = io.read_npz(tmp_path / "e.npz")
    expected = fp32_reference(model, x)
    wide = np.float16 if embed_dim >= FLOAT16_FROM_DIM else np.float32
    assert arrays["projector"].dtype == arrays["predictor"].dtype == wide and arrays["backbone"].dtype == np.float32
    for layer in ("backbone", "projector", "predictor"):
        reference = expected[layer].numpy()
        np.testing.assert_allclose(arrays[f"{layer}_norm"], np.linalg.norm(reference, axis=1), rtol=1e-5)
        tol = 2e-3 if arrays[layer].dtype == np.float16 else 1e-5  # float16 keeps 11 significant bits
        np.testing.assert_allclose(arrays[layer].astype(np.float32), reference, rtol=tol, atol=tol * np.abs(reference).max())
    assert arrays["original_index"].tolist() == list(range(100, 150)) and arrays["trained_on"].all()
    assert arrays["labels"].tolist() == (np.arange(50) % 4).tolist()
