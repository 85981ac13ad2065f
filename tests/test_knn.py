"""The optimised weighted kNN (blocked top-k, chunked, leave-one-out) predicts exactly what the textbook definition
predicts, on random data without ties."""

from __future__ import annotations

import pytest
import torch

from embnorm.evaluation import knn as knn_module
from embnorm.evaluation.knn import block_size, block_topk, knn_accuracy, knn_predict, largest


def reference_knn(bank, bank_labels, queries, k, temperature, num_classes, exclude_self=False):
    """One query at a time: cosine similarities, a full sort, the first k, weighted votes exp(sim / t)."""
    preds = []
    for i, q in enumerate(queries):
        sim = torch.nn.functional.cosine_similarity(bank.double(), q.double().unsqueeze(0), dim=1)
        order = [j for j in sim.argsort(descending=True).tolist() if not (exclude_self and j == i)]
        votes = [0.0] * num_classes
        for j in order[:k]:
            votes[int(bank_labels[j])] += float(torch.exp(sim[j] / temperature))
        preds.append(max(range(num_classes), key=votes.__getitem__))
    return torch.tensor(preds)


def data(n_bank, n_query, dim, classes, seed):
    g = torch.Generator().manual_seed(seed)
    bank = torch.randn(n_bank, dim, generator=g) + 0.5 * torch.randn(classes, dim, generator=g).repeat(
        n_bank // classes + 1, 1)[:n_bank]
    return bank, torch.arange(n_bank) % classes, torch.randn(n_query, dim, generator=g)


@pytest.mark.parametrize("n_bank,k,chunk", [(3000, 20, 256), (2999, 20, 7), (500, 200, 64), (1000, 1, 100)])
def test_predictions_equal_the_reference(n_bank, k, chunk):
    bank, labels, queries = data(n_bank, 150, 16, 7, seed=n_bank + k)
    expected = reference_knn(bank, labels, queries, k, 0.1, 7)
    assert torch.equal(knn_predict(bank, labels, queries, k, 0.1, 7, chunk=chunk), expected)


def test_leave_one_out_equals_the_reference():
    bank, labels, _ = data(2501, 0, 8, 5, seed=3)
    expected = reference_knn(bank, labels, bank, 30, 0.1, 5, exclude_self=True)
    assert torch.equal(knn_predict(bank, labels, bank, 30, 0.1, 5, chunk=300, exclude_self=True), expected)


def test_blocked_top_k_is_the_exact_top_k_set():
    sim = torch.randn(64, 40 * 9)
    top, columns = block_topk(sim, 40, block=9)
    expected = sim.topk(40, dim=1)
    assert torch.equal(top.sort(dim=1).values, expected.values.sort(dim=1).values)
    assert torch.equal(columns.sort(dim=1).values, expected.indices.sort(dim=1).values)
    assert torch.equal(sim.gather(1, columns), top)


def test_largest_is_the_top_k_set_with_numpy_on_the_cpu_and_torch_elsewhere(monkeypatch):
    x = torch.randn(33, 500)
    expected = x.topk(60, dim=1)
    values, index = largest(x, 60)  # numpy's argpartition on the CPU
    assert torch.equal(index.sort(dim=1).values, expected.indices.sort(dim=1).values)
    assert torch.equal(x.gather(1, index), values)
    calls = []
    monkeypatch.setattr(knn_module.np, "argpartition", lambda *a, **kw: calls.append(1))
    values, index = largest(x.to("meta"), 60)  # another device: torch.topk, numpy untouched
    assert values.shape == index.shape == (33, 60) and not calls


def test_blocked_top_k_when_the_top_k_crowd_into_few_blocks():
    """Rows whose k largest values fill whole blocks, sit one per block, or share blocks with -inf padding: the
    candidates then hold many values from the k best blocks that are not top-k elements."""
    k, block = 20, 4
    sim = torch.randn(3, 40 * block)
    sim[0, :k] += 10  # the top k fill the first k / block blocks
    sim[1, ::block] += 10  # one top-k candidate per block, 40 such blocks for k = 20
    sim[2, -3:] = float("-inf")
    sim[2, :k:2] += 10
    top, columns = block_topk(sim, k, block)
    expected = sim.topk(k, dim=1)
    assert torch.equal(top.sort(dim=1).values, expected.values.sort(dim=1).values)
    assert torch.equal(sim.gather(1, columns), top)


def test_block_size_is_plain_top_k_when_blocking_does_not_pay():
    assert block_size(20000, 200) == 10 and block_size(50000, 200) == 15
    assert block_size(500, 200) == 1 and block_size(2000, 200) == 1


def test_accuracy_of_a_separable_problem():
    bank = torch.eye(4).repeat(10, 1)
    labels = torch.arange(4).repeat(10)
    assert knn_accuracy(bank, labels, torch.eye(4) + 0.01, torch.arange(4), k=5) == 1.0
