"""Weighted kNN classifier on cosine similarity (the InstDisc/MoCo monitor the authors use): k=200, t=0.1.

Each query's k most similar bank rows vote for their labels with weight exp(similarity / t); the class with the
largest total wins. The cost floor is the similarity matmul itself; the top-k is kept close to it by a two-stage
selection that is exact (see `block_topk`): the row is cut into blocks of b columns, only the k blocks with the
largest maxima can hold a top-k element, and the final top-k runs over those k * b candidates instead of the whole
row. Queries go 512 at a time, so that the similarity chunk the selection reads again is still in cache.
Example:

    >>> bank, labels = torch.eye(3), torch.tensor([0, 1, 1])
    >>> knn_predict(bank, labels, torch.tensor([[0.9, 0.1, 0.0]]), k=1, temperature=0.1, num_classes=2)
    tensor([0])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KNN_FEATURES = "backbone"  # the layer the training monitor classifies (paper-reference §6.4)


def block_size(columns: int, k: int) -> int:
    """Columns per block that minimise the two top-k passes (columns / b block maxima, then k * b candidates):
    b = sqrt(columns / k); 1 (plain top-k) when blocking would not cut the work at least in half."""
    b = int(math.sqrt(columns / max(k, 1)))
    return b if columns / b + k * b <= columns / 2 else 1


def block_topk(sim: torch.Tensor, k: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest values of each row of `sim` (rows, block * blocks) and their column indices, in no order.

    Block j holds the columns j, j + blocks, j + 2 * blocks, ... (strided, so that the block maxima are one
    vectorised reduction over `block` planes). Exact: if tau is the k-th largest block maximum, k distinct elements
    are >= tau, so the row's k-th largest value is >= tau; every top-k element therefore lies in a block whose
    maximum is >= tau, i.e. in the top k blocks (ties between equal values aside, which any top-k breaks
    arbitrarily)."""
    if block == 1:
        return sim.topk(k, dim=1, sorted=False)
    rows, blocks = sim.shape[0], sim.shape[1] // block
    planes = sim.view(rows, block, blocks)
    best = planes.amax(dim=1).topk(k, dim=1, sorted=False).indices  # (rows, k): the k blocks with the largest maxima
    candidates = planes.gather(2, best.unsqueeze(1).expand(-1, block, -1)).view(rows, -1)  # (rows, block * k)
    top_sim, pos = candidates.topk(k, dim=1, sorted=False)
    columns = best.gather(1, pos % k) + (pos // k) * blocks
    return top_sim, columns


@torch.no_grad()
def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, k: int, temperature: float,
                num_classes: int, chunk: int = 512, exclude_self: bool = False) -> torch.Tensor:
    """Predicted labels of `queries`: the top-k cosine neighbours in `bank` vote with weight exp(sim / temperature).
    With exclude_self, query i is bank row i and is left out of its own neighbours (leave-one-out).
    Runs in float32 on the inputs' device, `chunk` queries at a time."""
    n = len(bank)
    k = min(k, n - int(exclude_self))
    block = block_size(n, k)
    padded = -(-n // block) * block
    # zero rows pad the bank to whole blocks (a copy of the bank, so only when needed); their similarity is set to
    # -inf so that they are never chosen
    bank = F.normalize(bank.float(), dim=1)
    if padded > n:
        bank = F.pad(bank, (0, 0, 0, padded - n))
    bank = bank.T
    queries = F.normalize(queries.float(), dim=1)
    bank_labels = bank_labels.long()
    preds = []
    for start in range(0, len(queries), chunk):
        sim = queries[start:start + chunk] @ bank
        if padded > n:
            sim[:, n:] = float("-inf")
        if exclude_self:
            rows = torch.arange(sim.shape[0], device=sim.device)
            sim[rows, rows + start] = float("-inf")
        top_sim, top_idx = block_topk(sim, k, block)
        weights = top_sim.div_(temperature).exp_()
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def knn_accuracy(bank, bank_labels, queries, query_labels, k=200, temperature=0.1, num_classes=None) -> float:
    num_classes = num_classes or int(max(bank_labels.max(), query_labels.max())) + 1
    pred = knn_predict(bank, bank_labels, queries, k, temperature, num_classes)
    return (pred == query_labels).float().mean().item()
