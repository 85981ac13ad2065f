"""GradScale and cut-initialization: the gradient scaling is exactly ||z||^p and sits where the paper puts it; cut-init
divides what it should (both scopes) and shrinks the norms at initialization as expected."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from embnorm.mitigations import cut_init, gradscale
from embnorm.models import build_model

torch.set_num_threads(1)

BASE = {"backbone": "small", "hidden_dim": 0, "embed_dim": 16, "predictor_dim": 8, "temperature": 0.5,
        "loss": "ntxent", "gradscale": 0.0, "cut": 1.0, "cut_scope": "all"}


def model_of(kind: str, seed: int = 0, **params):
    torch.manual_seed(seed)
    return build_model({**BASE, "model": kind, **params}, image_size=16)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 2.0])
def test_gradscale_gradient_is_upstream_gradient_times_norm_power(power):
    torch.manual_seed(0)
    z = (torch.randn(7, 5) * torch.linspace(0.1, 5, 7)[:, None]).requires_grad_()
    upstream = torch.randn(7, 5)
    out = gradscale(z, power)
    assert torch.equal(out, z)  # identity forward
    (out * upstream).sum().backward()
    expected = upstream * z.detach().norm(dim=1, keepdim=True) ** power
    torch.testing.assert_close(z.grad, expected, rtol=1e-6, atol=0)


def test_gradscale_p1_makes_the_normalized_loss_gradient_norm_free():
    """Through an L2 normalization the gradient scales as 1/||z|| (Prop. 3.1); GradScale with p=1 cancels it."""
    direction = torch.nn.functional.normalize(torch.randn(1, 6), dim=1)
    target = torch.randn(1, 6)
    grads = []
    for scale in (0.1, 1.0, 10.0):
        z = (direction * scale).requires_grad_()
        loss = -(nn.functional.normalize(gradscale(z, 1.0), dim=1) * target).sum()
        loss.backward()
        grads.append(z.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grads[2], grads[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind,layer", [("simclr", "projector"), ("simsiam", "predictor")])
def test_model_applies_gradscale_to_the_right_output(kind, layer):
    """SimCLR: the embeddings (projector output); SimSiam: the predictor outputs. The gradient reaching that output
    with p=1 is the p=0 gradient times each row's norm."""
    model = model_of(kind).eval()  # eval: BatchNorm is per-sample, so both passes see identical activations
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["out"] = output

    getattr(model, layer).register_forward_hook(keep)
    torch.manual_seed(1)
    x1, x2 = torch.rand(6, 3, 16, 16), torch.rand(6, 3, 16, 16)
    grads = {}
    for p in (0.0, 1.0):
        model.gradscale = p
        model.zero_grad()
        model.loss(x1, x2).backward()
        grads[p] = captured["out"].grad.clone()
    norms = captured["out"].detach().norm(dim=1, keepdim=True)
    torch.testing.assert_close(grads[1.0], grads[0.0] * norms, rtol=1e-5, atol=1e-9)
    assert not torch.allclose(grads[1.0], grads[0.0])


@pytest.mark.parametrize("kind", ["simclr", "simsiam"])
def test_cut_all_divides_every_parameter_and_no_buffer(kind):
    plain, cut = model_of(kind), model_of(kind, cut=3.0)
    for (name, p), (_, q) in zip(plain.named_parameters(), cut.named_parameters()):
        assert torch.equal(q, p / 3.0), name
    for (name, b), (_, c) in zip(plain.named_buffers(), cut.named_buffers()):
        assert torch.equal(b, c), name
    if kind == "simsiam":
        assert any(n.startswith("predictor.") for n, _ in cut.named_parameters())  # the predictor is cut too


def test_cut_weights_scope_divides_only_conv_and_linear_weights():
    plain, cut = model_of("simsiam"), model_of("simsiam", cut=3.0, cut_scope="weights")
    modules = dict(plain.named_modules())
    divided = 0
    for (name, p), (_, q) in zip(plain.named_parameters(), cut.named_parameters()):
        owner, kind = modules[name.rsplit(".", 1)[0]], name.rsplit(".", 1)[1]
        if isinstance(owner, (nn.Conv2d, nn.Linear)) and kind == "weight":
            assert torch.equal(q, p / 3.0), name
            divided += 1
        else:
            assert torch.equal(q, p), name  # biases and BatchNorm affine parameters untouched
    assert divided > 0


def test_cut_init_shrinks_norms_as_expected():
    """Scope `all`: a conv-BN-ReLU block's output scales with the BN affine (γ/c, β/c) whatever its input scale, so
    backbone features shrink by exactly c when BN's eps is negligible, and by about c with the default eps. The BN-free
    SimCLR projector then divides by c per linear layer, so embeddings shrink by more than c. Scope `weights`:
    BatchNorm cancels the conv scaling, so backbone features are unchanged."""
    torch.manual_seed(2)
    x = torch.rand(32, 3, 16, 16)
    models = {"plain": model_of("simclr"), "all": model_of("simclr", cut=3.0),
              "weights": model_of("simclr", cut=3.0, cut_scope="weights")}
    with torch.no_grad():
        out = {k: m.train()(x) for k, m in models.items()}
    norm = {k: o["backbone"].norm(dim=1) for k, o in out.items()}
    assert abs((norm["plain"] / norm["all"]).mean().item() - 3.0) < 0.15
    assert abs((norm["plain"] / norm["weights"]).mean().item() - 1.0) < 0.05
    assert (out["all"]["projector"].norm(dim=1) < out["plain"]["projector"].norm(dim=1) / 3.0).all()

    for m in models.values():  # without eps the scaling is exact
        for bn in m.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.eps = 1e-20
    with torch.no_grad():
        exact = {k: m(x) for k, m in models.items()}
    torch.testing.assert_close(exact["all"]["backbone"], exact["plain"]["backbone"] / 3.0, rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(exact["weights"]["backbone"], exact["plain"]["backbone"], rtol=1e-3, atol=1e-6)


def test_cut_one_is_a_no_op_and_bad_scope_is_refused():
    model = nn.Linear(3, 2)
    before = model.weight.clone()
    cut_init(model, 1.0)
    assert torch.equal(model.weight, before)
    with pytest.raises(ValueError, match="cut_scope"):
        cut_init(model, 2.0, "last")
