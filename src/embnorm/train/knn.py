"""Weighted kNN classifier on cosine similarity (the InstDisc/MoCo monitor the authors use): k=200, t=0.1."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int, temperature: float,
                num_classes: int, chunk: int = 1024, exclude_self: bool = False) -> torch.Tensor:
    """Predicted labels of `queries`: the top-k cosine neighbours in `bank` vote with weight exp(sim / temperature).
    With exclude_self, query i is bank row i and is left out of its own neighbours (leave-one-out)."""
    bank = F.normalize(bank.float(), dim=1)
    queries = F.normalize(queries.float(), dim=1)
    k = min(k, len(bank) - int(exclude_self))
    preds = []
    for start in range(0, len(queries), chunk):
        sim = queries[start:start + chunk] @ bank.T
        if exclude_self:
            rows = torch.arange(sim.shape[0], device=sim.device)
            sim[rows, rows + start] = float("-inf")
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def knn_accuracy(bank, bank_labels, queries, query_labels, k=200, temperature=0.1, num_classes=None) -> float:
    num_classes = num_classes or int(max(bank_labels.max(), query_labels.max())) + 1
    pred = knn_predict(bank, bank_labels, queries, k, temperature, num_classes)
    return (pred == query_labels).float().mean().item()
