"""Gradient accumulation: 4 micro-batches of B give the same gradient and update as one batch of 4B.

This equality is only defined where the loss of a batch is the mean of per-sample terms that do not see each other.
SimSiam's negative cosine is such a mean; BatchNorm in train mode is not (its statistics are per batch), so the
comparison runs with BatchNorm in eval mode (running statistics: per-sample). SimCLR's NT-Xent is never such a mean
(every sample's negatives are the rest of its batch), so 4 x B and 4B are different objectives by design.
"""

from __future__ import annotations

import copy

import pytest
import torch

from embnorm.models import build_model
from embnorm.train.augment import AugmentRecipe
from embnorm.train.step import micro_batches, optimizer_step

torch.set_num_threads(1)
PARAMS = {"model": "simsiam", "backbone": "small", "embed_dim": 32, "predictor_dim": 8, "gradscale": 0.0, "cut": 1.0,
          "cut_scope": "all"}


@pytest.mark.parametrize("gradscale", [0.0, 1.0])
def test_four_micro_batches_equal_one_batch_of_four(gradscale):
    torch.manual_seed(0)
    model = build_model({**PARAMS, "gradscale": gradscale}, image_size=16).double().eval()
    x1, x2 = torch.rand(2, 32, 3, 16, 16, dtype=torch.float64)
    models, grads = [], []
    for chunks in (4, 1):
        m = copy.deepcopy(model)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        batches = list(zip(x1.chunk(chunks), x2.chunk(chunks)))
        loss_sum = optimizer_step(m, opt, batches, chunks, torch.device("cpu"), amp=False)
        assert torch.isfinite(loss_sum)
        models.append(m)
        grads.append([p.grad for p in m.parameters()])
    for g4, g1 in zip(*grads):
        torch.testing.assert_close(g4, g1, rtol=1e-9, atol=1e-12)
    for p4, p1 in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p4, p1, rtol=1e-9, atol=1e-12)
    assert any(g.abs().sum() > 0 for g in grads[0])


def test_micro_batches_take_consecutive_slices_of_the_order_and_replay_from_the_step_index():
    """Constant images (value = index) survive crop and flip unchanged, so with jitter and grayscale off each view
    says which image it came from."""
    images = torch.arange(48, dtype=torch.uint8).view(48, 1, 1, 1).expand(48, 4, 4, 3).contiguous()
    order = torch.randperm(48, generator=torch.Generator().manual_seed(0))
    recipe = AugmentRecipe(jitter_p=0.0, gray_p=0.0)
    seen = []
    for step in range(2):
        first = list(micro_batches(images, order, step, batch=6, accumulate=4, recipe=recipe, seed_keys=(0, 0, 2, 0)))
        again = list(micro_batches(images, order, step, batch=6, accumulate=4, recipe=recipe, seed_keys=(0, 0, 2, 0)))
        assert len(first) == 4
        for micro, ((a1, a2), (b1, b2)) in enumerate(zip(first, again)):
            assert torch.equal(a1, b1) and torch.equal(a2, b2)
            ids = (a1[:, 0, 0, 0] * 255).round().long()
            start = (step * 4 + micro) * 6
            assert ids.tolist() == order[start:start + 6].tolist()
            seen += ids.tolist()
    assert sorted(seen) == list(range(48))
