"""The public monitoring API (embnorm.monitor, embnorm.mitigations): each number against an independent computation,
and the monitor leaves the model it watches as it found it."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score

import embnorm.mitigations
import embnorm.monitor
from conftest import REPO
from embnorm.mitigations import cut_init, gradscale
from embnorm.monitor import NormMonitor, norm_ood_auroc, norm_stats, rankme

torch.set_num_threads(1)


@pytest.mark.parametrize("module", [embnorm.monitor, embnorm.mitigations])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_public_names_have_docstrings_naming_their_paper():
    for fn, paper in [(norm_stats, "Draganov"), (rankme, "Garrido"), (norm_ood_auroc, "Draganov"),
                      (NormMonitor, "Draganov"), (gradscale, "Algorithm 1"), (cut_init, "Draganov")]:
        assert paper in fn.__doc__ and ">>>" in fn.__doc__, fn.__name__


def test_core_imports_neither_lightning_nor_snakemake():
    code = ("import sys, embnorm.monitor, embnorm.mitigations, embnorm.models, embnorm.train.loop; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'snakemake')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "src")})


# --- norm_stats ----------------------------------------------------------------------------------------------------

def test_norm_stats_against_numpy_with_classes():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(101, 7)) * rng.uniform(0.1, 5, size=(101, 1))
    labels = rng.integers(0, 3, 101)
    s = norm_stats(torch.from_numpy(z).float(), torch.from_numpy(labels))
    n = np.sqrt((z ** 2).sum(axis=1))
    expected = {"norm_mean": n.mean(), "norm_median": np.median(n), "norm_p10": np.percentile(n, 10),
                "norm_p90": np.percentile(n, 90), **{f"norm_mean_class{c}": n[labels == c].mean() for c in range(3)}}
    assert s.keys() == expected.keys()
    for k, v in expected.items():
        assert s[k] == pytest.approx(v, rel=1e-6), k


def test_norm_stats_refuses_mismatched_labels():
    with pytest.raises(ValueError, match="one label per embedding"):
        norm_stats(torch.ones(4, 2), labels=[0, 1])


# --- rankme --------------------------------------------------------------------------------------------------------

def numpy_rankme(z: np.ndarray, eps: float = 1e-7) -> float:
    """Garrido et al. 2023, Eq. 1, written independently: singular values by numpy, entropy by hand."""
    s = np.linalg.svd(z, compute_uv=False)
    p = s / np.abs(s).sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


@pytest.mark.parametrize("n,d,r", [(200, 64, 5), (300, 128, 20), (64, 256, 40), (500, 32, 32)])
def test_rankme_matches_numpy_and_recovers_the_rank(n, d, r):
    rng = np.random.default_rng(r)
    # random low-rank matrix with flat spectrum: orthonormal factors, so RankMe should recover r
    u = np.linalg.qr(rng.normal(size=(n, r)))[0]
    v = np.linalg.qr(rng.normal(size=(d, r)))[0]
    flat = 3.0 * u @ v.T
    assert rankme(torch.from_numpy(flat)) == pytest.approx(numpy_rankme(flat), rel=1e-9)
    assert abs(rankme(torch.from_numpy(flat)) - r) <= 0.05 * r
    # random low-rank Gaussian product (uneven spectrum): same number as the numpy computation, at most r
    g = rng.normal(size=(n, r)) @ rng.normal(size=(r, d))
    assert rankme(torch.from_numpy(g).float()) == pytest.approx(numpy_rankme(g), rel=1e-4)
    assert 1 <= rankme(g) <= r * 1.0001


def test_rankme_of_collapsed_embeddings_is_one():
    assert rankme(torch.ones(50, 8) * torch.rand(50, 1)) == pytest.approx(1.0, abs=1e-4)


# --- norm_ood_auroc ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_norm_ood_auroc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    z_id = rng.normal(size=(150, 10)) * (1.0 + 0.3 * seed)
    z_ood = rng.normal(size=(90, 10))
    if seed == 3:  # ties: rounded norms, duplicated rows across the two sets
        z_id = np.round(z_id)
        z_ood = np.concatenate([np.round(z_ood), z_id[:20]])
    y = np.r_[np.ones(len(z_id)), np.zeros(len(z_ood))]
    scores = np.r_[np.linalg.norm(z_id, axis=1), np.linalg.norm(z_ood, axis=1)]
    assert norm_ood_auroc(torch.from_numpy(z_id), z_ood) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


# --- gradscale and cut_init ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0])
def test_gradscale_gradient_equals_autograd_of_an_explicitly_rescaled_loss(p):
    """Autograd through gradscale must give ||z_i||^p times the plain gradient of each row. The reference is an
    explicitly rescaled loss: L(w * z + (1 - w) * stopgrad(z)) with w_i = ||z_i||^p, whose value is L(z) and whose
    gradient, by the chain rule alone, is w_i * dL/dz_i."""
    torch.manual_seed(0)
    z0 = torch.randn(9, 6, dtype=torch.float64) * torch.linspace(0.2, 4.0, 9, dtype=torch.float64)[:, None]
    target = torch.randn(9, 6, dtype=torch.float64)  # float64: the reference adds and subtracts w * z

    def loss(z):  # a normalized, contrastive-like loss of the rows
        zn = nn.functional.normalize(z, dim=1)
        return -(zn * target).sum() + torch.logsumexp(zn @ zn.T, dim=1).sum()

    z = z0.clone().requires_grad_()
    loss(gradscale(z, p)).backward()

    ref = z0.clone().requires_grad_()
    w = ref.detach().norm(dim=1, keepdim=True) ** p
    loss(w * ref + (1 - w) * ref.detach()).backward()
    torch.testing.assert_close(z.grad, ref.grad, rtol=1e-10, atol=1e-12)
    if p:
        plain = z0.clone().requires_grad_()
        loss(plain).backward()
        assert not torch.allclose(plain.grad, z.grad)


def test_cut_init_divides_parameters_not_buffers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    net(torch.rand(2, 3, 3, 3))  # running statistics move away from their defaults
    params = [p.clone() for p in net.parameters()]
    buffers = [b.clone() for b in net.buffers()]
    cut_init(net, 3.0)
    for p, q in zip(params, net.parameters()):
        torch.testing.assert_close(q, p / 3.0)
    for b, c in zip(buffers, net.buffers()):
        assert torch.equal(b, c)


# --- NormMonitor ---------------------------------------------------------------------------------------------------

class NoisyNet(nn.Module):
    """A model that draws random numbers in its forward pass even in eval mode, and returns named layers."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.Dropout(0.3))
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        h = self.body(x) + 1e-3 * torch.randn(x.shape[0], 8, device=x.device)
        return {"backbone": h, "projector": self.head(h)}


def test_monitor_leaves_mode_and_rng_state_unchanged():
    torch.manual_seed(0)
    net = NoisyNet().train()
    net.body[2].eval()  # a frozen BatchNorm inside a training model must stay frozen, and the rest training
    modes = {name: m.training for name, m in net.named_modules()}
    bn_stats = [b.clone() for b in net.buffers()]
    monitor = NormMonitor(torch.rand(40, 3, 2, 2), probe_labels=torch.arange(40) % 4,
                          ood_images=torch.rand(20, 3, 2, 2), batch_size=16)
    torch.manual_seed(123)
    expected_next = torch.rand(5)
    torch.manual_seed(123)
    row = monitor(net, epoch=3)
    assert torch.equal(torch.rand(5), expected_next), "the monitor consumed or changed the global RNG state"
    assert {name: m.training for name, m in net.named_modules()} == modes
    assert all(torch.equal(b, c) for b, c in zip(bn_stats, net.buffers())), "eval mode: BN statistics untouched"
    assert {"epoch", "backbone_rankme", "projector_ood_auroc", "projector_norm_mean_class3"} <= row.keys()


def test_monitor_rows_are_eval_mode_fp32_norm_stats_and_go_to_a_tsv(tmp_path):
    import pandas as pd

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Dropout(0.5)).train()
    probe, ood = torch.rand(30, 3, 2, 2), torch.rand(10, 3, 2, 2) * 0.2
    tsv = tmp_path / "norms.tsv"
    monitor = NormMonitor(probe, ood_images=ood, layers=["emb"], tsv=tsv, batch_size=7)
    rows = [monitor(net, epoch=e) for e in (0, 1)]
    with torch.no_grad():
        z = net.eval()(probe)  # eval mode: no dropout
    assert rows[0]["emb_norm_mean"] == pytest.approx(norm_stats(z)["norm_mean"], rel=1e-6)
    assert rows[0]["emb_rankme"] == pytest.approx(rankme(z), rel=1e-6)
    assert rows[0]["emb_ood_auroc"] == pytest.approx(norm_ood_auroc(z, net(ood)), abs=1e-12)
    table = pd.read_csv(tsv, sep="\t")
    assert list(table.epoch) == [0, 1] and list(table.columns) == list(rows[0])
    assert table.emb_norm_mean.tolist() == [r["emb_norm_mean"] for r in rows]  # full precision


def test_monitor_refuses_a_tsv_with_other_columns(tmp_path):
    tsv = tmp_path / "norms.tsv"
    tsv.write_text("epoch\tsomething_else\n0\t1.0\n")
    with pytest.raises(ValueError, match="columns"):
        NormMonitor(torch.rand(8, 4), tsv=tsv)(nn.Linear(4, 3), epoch=0)
    assert tsv.read_text() == "epoch\tsomething_else\n0\t1.0\n"


def test_monitor_names_missing_layers():
    with pytest.raises(KeyError, match="predictor"):
        NormMonitor(torch.rand(8, 3, 2, 2), layers=["predictor"])(NoisyNet(), epoch=0)
