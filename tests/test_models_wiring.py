"""What the other model tests do not build or wire: the ResNet backbones the paper presets train (ResNet-50), and
each method's `loss` (which outputs pair, which loss, where GradScale sits), each against an independent computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from embnorm.models import make_model
from embnorm.models.backbones import build_backbone
from helpers.models import grads, scaled
from helpers.training import tiny_params

torch.set_num_threads(1)


@pytest.mark.parametrize("name, image_size, dim", [("resnet18", 32, 512), ("resnet50", 32, 2048),
                                                   ("resnet50", 128, 2048)])
def test_resnet_backbones_are_torchvisions_with_the_cifar_stem_for_small_images(name, image_size, dim):
    import torchvision

    torch.manual_seed(0)
    net, feat_dim = build_backbone(name, image_size)
    reference = getattr(torchvision.models, name)(weights=None)
    expected = sum(p.numel() for p in reference.parameters()) - sum(p.numel() for p in reference.fc.parameters())
    cifar = image_size <= 64
    if cifar:  # 3x3 stride-1 stem instead of 7x7 stride 2, no max-pool
        expected += 64 * 3 * 3 * 3 - 64 * 3 * 7 * 7
    assert feat_dim == dim and sum(p.numel() for p in net.parameters()) == expected
    assert net.conv1.kernel_size == ((3, 3) if cifar else (7, 7)) and isinstance(net.maxpool, nn.Identity) == cifar
    last_bn = [m.bn3 if hasattr(m, "bn3") else m.bn2 for m in net.modules() if hasattr(m, "downsample")]
    assert last_bn and all(bn.weight.abs().sum() == 0 for bn in last_bn)  # zero_init_residual
    out = net.eval()(torch.randn(2, 3, image_size, image_size))
    assert out.shape == (2, dim) and torch.isfinite(out).all()


def test_a_resnet50_ssl_model_builds_with_the_papers_heads():
    params = tiny_params("simsiam", backbone="resnet50", embed_dim=2048, predictor_dim=512)
    model = make_model(params, 32)
    assert model.projector[0].in_features == 2048 and model.predictor[-1].out_features == 2048


def ntxent_by_hand(z1, z2, t):
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    n, total = len(z1), 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        logits = [z[i] @ z[j] / t for j in range(2 * n) if j != i]
        total = total - (z[i] @ z[positive] / t - torch.logsumexp(torch.stack(logits), 0))
    return total / (2 * n)


def authors_by_hand(z1, z2, t):
    z1, z2 = z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)
    n = len(z1)
    terms = [-(z1[i] @ z2[i]) / t + torch.logsumexp(torch.stack([z1[i] @ z2[j] / t for j in range(n) if j != i]), 0)
             for i in range(n)]
    return torch.stack(terms).mean()


def simsiam_by_hand(p1, p2, z1, z2):
    cos = lambda p, z: (p * z.detach()).sum(1) / (p.norm(dim=1) * z.detach().norm(dim=1))  # noqa: E731
    return -0.5 * (cos(p1, z2).mean() + cos(p2, z1).mean())


@pytest.mark.parametrize("model_name, loss_name, power", [("simclr", "ntxent", 0.0), ("simclr", "ntxent", 1.0),
                                                          ("simclr", "authors", 0.0), ("simsiam", None, 0.0),
                                                          ("simsiam", None, 1.0)])
def test_the_loss_pairs_the_views_and_places_gradscale_as_written(model_name, loss_name, power):
    extra = {"loss": loss_name} if loss_name else {}
    params = tiny_params(model_name, gradscale=power, **extra)
    torch.manual_seed(0)
    model = make_model(params, 16).train()  # the losses compute in float32
    x1, x2 = torch.rand(6, 3, 16, 16), torch.rand(6, 3, 16, 16)
    got_loss = model.loss(x1, x2)
    got = grads(model, got_loss)

    out = model(torch.cat([x1, x2]))  # one pass over both views, as the model does
    n = len(x1)
    if model_name == "simclr":
        z = scaled(out["projector"], power)
        hand = (ntxent_by_hand if loss_name == "ntxent" else authors_by_hand)(z[:n], z[n:], params["temperature"])
    else:
        z, q = out["projector"], scaled(out["predictor"], power)
        hand = simsiam_by_hand(q[:n], q[n:], z[:n], z[n:])
    expected = grads(model, hand)
    assert got_loss.item() == pytest.approx(hand.item(), rel=1e-5)
    assert got.keys() == expected.keys()
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)
