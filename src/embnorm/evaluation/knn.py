"""Weighted kNN classifier on cosine similarity (the InstDisc/MoCo monitor the authors use): k=200, t=0.1.

Each query's k most similar bank rows vote for their labels with weight exp(similarity / t); the class with the
largest total wins. The cost floor is the similarity matmul itself; the top-k is kept close to it by a two-stage
selection that is exact (see `block_topk`): the row is cut into blocks of b adjacent columns, only the k blocks with
the largest maxima can hold a top-k element, and the final top-k runs over those k * b candidates instead of the whole
row. Queries go 512 at a time into one reused similarity buffer.

What the selection costs, measured on the 2-core CPU (one thread, 512 queries x 20,000 bank rows, k = 200, b = 10,
per chunk; the matmul is about 110 ms): the work is per-element compute, not memory traffic. `torch.topk` on the CPU
spends 8 ms on 512 rows of 2,000 values, numpy's `argpartition` 2 ms, so `largest` uses numpy there (and `torch.topk`
on a GPU); block maxima by `max_pool1d` over adjacent columns (3.6 ms) with one `index_select` of whole blocks
(2.2 ms) beat strided blocks (3.0 ms `amax` but 4.8 ms `gather`). Tried and dropped: 256 queries a time (a 20 MB
chunk that stays in the 32 MB L3) made the selection cheaper (0.09 s against 0.14 s for 5,000 queries, one thread)
but the matmul on 2 threads slower (0.70 s against 0.59 s); a third level of blocks, and a cheap lower bound to
pre-mask the block maxima, saved less than their own cost; raising the candidates below the k-th block maximum to one
value speeds `torch.topk` up but slows numpy's introselect 10-fold (it is slow on runs of equal values, which only
degenerate embeddings produce in earnest). The memory effect that mattered is allocation: a fresh 41 MB chunk is
faulted in page by page, 13 % of the matmul, hence the reused buffer (and the benchmark's floor reuses one too).
Example:

    >>> bank, labels = torch.eye(3), torch.tensor([0, 1, 1])
    >>> knn_predict(bank, labels, torch.tensor([[0.9, 0.1, 0.0]]), k=1, temperature=0.1, num_classes=2)
    tensor([0])
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

KNN_FEATURES = "backbone"  # the layer the training monitor classifies (paper-reference §6.4)


def block_size(columns: int, k: int) -> int:
    """Columns per block that minimise the two top-k passes (columns / b block maxima, then k * b candidates):
    b = sqrt(columns / k); 1 (plain top-k) when blocking would not cut the work at least in half."""
    b = int(math.sqrt(columns / max(k, 1)))
    return b if columns / b + k * b <= columns / 2 else 1


def largest(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest values of each row of `x` (rows, columns) and their column indices, in no order: `torch.topk`,
    except on the CPU, where numpy's introselect (`np.argpartition`) finds them about 4 times faster (one thread,
    512 rows of 2,000 values, k = 200: 2 ms against 8 ms)."""
    if x.device.type != "cpu":
        return x.topk(k, dim=1, sorted=False)
    index = torch.from_numpy(np.ascontiguousarray(np.argpartition(x.numpy(), x.shape[1] - k, axis=1)[:, -k:]))
    return x.gather(1, index), index


def block_topk(sim: torch.Tensor, k: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest values of each row of `sim` (rows, block * blocks, contiguous) and their column indices, in no
    order.

    Block j holds the `block` adjacent columns from j * block, so that its maximum is one pooling window and its
    columns one contiguous row of `sim.view(-1, block)` to copy out. Exact: if tau is the k-th largest block maximum,
    k distinct elements are >= tau, so the row's k-th largest value is >= tau; every top-k element therefore lies in a
    block whose maximum is >= tau, i.e. in the top k blocks (ties between equal values aside, which any top-k breaks
    arbitrarily)."""
    if block == 1:
        return largest(sim, k)
    rows = sim.shape[0]
    maxima = F.max_pool1d(sim, block)  # (rows, blocks); a 2-d input is pooled along its rows
    best = largest(maxima, k)[1]  # the k blocks with the largest maxima
    first_row = maxima.shape[1] * torch.arange(rows, device=sim.device).unsqueeze(1)
    candidates = sim.view(-1, block).index_select(0, (best + first_row).view(-1)).view(rows, k * block)
    top_sim, pos = largest(candidates, k)
    columns = best.gather(1, pos // block) * block + pos % block
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
    # one similarity buffer for all chunks: a fresh 512 x 20,000 float32 chunk (41 MB) is mapped from the system
    # and faulted in page by page each time, 13 % of the matmul on the 2-core CPU
    buffer = torch.empty(min(chunk, len(queries)), padded, device=bank.device)
    for start in range(0, len(queries), chunk):
        block_queries = queries[start:start + chunk]
        sim = torch.mm(block_queries, bank, out=buffer[:len(block_queries)])
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
