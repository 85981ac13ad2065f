"""BYOL against independent computations: the loss (2 - 2 cos against the other view's target projection, summed
over both directions, GradScale on the predictor outputs), the cosine EMA of the target after each optimizer step,
cut-initialization of the online network copied to the target, and the target's place in the checkpoint."""

from __future__ import annotations

import math

import pytest
import torch

from embnorm.models import build_model
from embnorm.models.methods.byol import TAU_BASE
from embnorm.train.optim import build_optimizer
from helpers.models import grads, scaled
from helpers.training import tiny_params


def byol_model(**overrides):
    torch.manual_seed(0)
    return build_model(tiny_params("byol", **overrides), image_size=16).train()


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_the_loss_is_normalised_mse_against_the_other_views_target(power):
    model = byol_model(gradscale=power)
    x1, x2 = torch.rand(6, 3, 16, 16), torch.rand(6, 3, 16, 16)
    got_loss = model.loss(x1, x2)
    got = grads(model, got_loss)

    x, n = torch.cat([x1, x2]), 6
    p = scaled(model(x)["predictor"], power)
    with torch.no_grad():
        t = model.target_projector(model.target_backbone(x))
    unit = lambda v: v / v.norm(dim=1, keepdim=True)  # noqa: E731
    hand = ((unit(p[:n]) - unit(t[n:])) ** 2).sum(1).mean() + ((unit(p[n:]) - unit(t[:n])) ** 2).sum(1).mean()
    expected = grads(model, hand)
    assert got_loss.item() == pytest.approx(hand.item(), rel=1e-5)
    assert got.keys() == expected.keys() and not any(k.startswith("target_") for k in got)
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)


def test_the_target_is_a_cosine_ema_of_the_online_network_outside_the_optimizer():
    model = byol_model()
    optimizer = build_optimizer(tiny_params("byol"), model)
    optimized = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in optimized for n, p in model.named_parameters() if n.startswith("target_"))
    assert all(id(p) in optimized for n, p in model.named_parameters() if not n.startswith("target_"))

    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(1.0)  # as if the online network had moved
    before = {n: p.clone() for n, p in model.named_parameters()}
    step, total = 30, 100
    model.after_step(step, total)
    tau = 1 - (1 - TAU_BASE) * (math.cos(math.pi * step / total) + 1) / 2
    for name, p in model.named_parameters():
        if name.startswith("target_"):
            online = before[name.replace("target_", "", 1)]
            torch.testing.assert_close(p, tau * before[name] + (1 - tau) * online, rtol=0, atol=1e-6)
        else:
            assert torch.equal(p, before[name])  # the hook never touches the online network
    assert model.tau(0, total) == pytest.approx(TAU_BASE) and model.tau(total, total) == 1.0


def test_cut_divides_the_online_network_and_the_target_starts_equal_to_it():
    plain, cut = byol_model(), byol_model(cut=3.0)
    params = dict(plain.named_parameters())
    for name, q in cut.named_parameters():
        if not name.startswith("target_"):
            assert torch.equal(q, params[name] / 3.0), name
    for part in ("backbone", "projector"):
        online, target = getattr(cut, part).state_dict(), getattr(cut, f"target_{part}").state_dict()
        assert all(torch.equal(online[k], target[k]) for k in online)


def test_the_checkpointed_state_holds_the_target():
    keys = byol_model().state_dict().keys()
    assert any(k.startswith("target_backbone.") for k in keys) and any(k.startswith("target_projector.") for k in keys)
