"""What a run records each epoch besides its loss: embedding-norm statistics of a fixed probe batch and kNN accuracy.

The kNN protocol is the authors' monitor with unaugmented images: k nearest train images by cosine similarity of
backbone features, votes weighted exp(sim / t), model in eval mode, float32 features. The protocol string is written
beside every number in metrics.tsv.

Features are computed in float32 with autocast off, even when training runs under bf16 autocast (`amp`): every
norm, kNN accuracy and embedding an analysis reads is then an fp32 number, as the protocol string says.
"""

from __future__ import annotations

import copy

import torch

from embnorm.evaluation.knn import KNN_FEATURES, knn_accuracy
from embnorm.models import method_of
from embnorm.monitor import norm_stats
from embnorm.train.augment import to_float


@torch.no_grad()
def embed_batches(model, images_uint8: torch.Tensor, layers, batch_size: int = 512):
    """Features of unaugmented images (model in eval mode), computed in float32 (autocast off, also inside an
    autocast region), in input order."""
    was_training = model.training
    model.eval()
    out = {layer: [] for layer in layers}
    for start in range(0, len(images_uint8), batch_size):
        x = to_float(images_uint8[start:start + batch_size])
        with torch.autocast(x.device.type, enabled=False):
            feats = model(x)
        for layer in layers:
            out[layer].append(feats[layer].float())
    model.train(was_training)
    return {layer: torch.cat(chunks) for layer, chunks in out.items()}


@torch.no_grad()
def with_data_bn_statistics(model, images_uint8: torch.Tensor, batch_size: int = 512):
    """A copy of `model` whose BatchNorm running statistics are estimated from `images` (cumulative average).

    At initialization the running statistics are the defaults (mean 0, variance 1), not statistics of any data, so
    eval-mode norms of an untrained network would be an artifact of those defaults (for SimSiam's BN-ended projector,
    orders of magnitude too small). The epoch-0 row is therefore measured on such a copy; the model itself is untouched.
    """
    calibrated = copy.deepcopy(model)
    norms = [m for m in calibrated.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    calibrated.train()
    for start in range(0, len(images_uint8), batch_size):
        calibrated(to_float(images_uint8[start:start + batch_size]))
    return calibrated.eval()


def knn_protocol(params: dict) -> str:
    return (f"k={params['knn_k']} t={params['knn_temperature']} cosine {KNN_FEATURES} "
            f"bank=train(unaugmented) queries=test(unaugmented) eval-mode fp32")


class Monitor:
    """Evaluates a model on fixed data: the probe batch (norms, every epoch) and train/test (kNN, every knn_every)."""

    def __init__(self, params: dict, probe, bank, bank_labels, queries, query_labels, num_classes: int):
        self.params = params
        self.layers = list(method_of(params).layers)
        self.probe, self.bank, self.bank_labels = probe, bank, bank_labels
        self.queries, self.query_labels, self.num_classes = queries, query_labels, num_classes

    def knn_due(self, epoch: int) -> bool:
        return epoch % self.params["knn_every"] == 0 or epoch == self.params["epochs"]

    def evaluate(self, model, epoch: int) -> dict[str, float]:
        if epoch == 0:
            model = with_data_bn_statistics(model, self.probe)
        row: dict[str, float] = {}
        feats = embed_batches(model, self.probe, self.layers)
        for layer in self.layers:
            row.update({f"{layer}_{k}": v for k, v in norm_stats(feats[layer]).items()})
        if self.knn_due(epoch):
            bank = embed_batches(model, self.bank, [KNN_FEATURES])[KNN_FEATURES]
            queries = embed_batches(model, self.queries, [KNN_FEATURES])[KNN_FEATURES]
            row["knn_acc"] = knn_accuracy(bank, self.bank_labels, queries, self.query_labels, self.params["knn_k"],
                                          self.params["knn_temperature"], self.num_classes)
        return row
