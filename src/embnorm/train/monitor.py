"""What a run records each epoch besides its loss: embedding-norm statistics of a fixed probe batch and kNN accuracy.

The kNN protocol is the authors' monitor with unaugmented images: k nearest bank images by cosine similarity of
backbone features, votes weighted exp(sim / t), model in eval mode, float32 features. The protocol string is written
beside every number in metrics.tsv.

Every evaluation, epoch 0 included, runs on a copy of the model whose BatchNorm statistics are re-estimated on the
fixed probe images (`evaluation.features.with_data_bn_statistics`): norms and kNN features of the initial and the
trained model are then measured by the same procedure. Running statistics lag the weights (and at initialization are the defaults, mean 0
and variance 1), and for a head that ends in BatchNorm (SimSiam's projector) the difference moves the norm itself.
The training model, its running statistics included, is never changed.

The kNN bank is the run's training images, or for a run on a derived (imbalanced) subset its parent's full train
split: k = 200 neighbours over a bank whose rarest class has a dozen images cannot recognise that class however
well the encoder separates it. The probe is always drawn from the run's own training images.

Features are computed in float32 with autocast off (`evaluation.features.embed_batches`), even when training runs
under bf16 autocast (`amp`): every norm, kNN accuracy and embedding an analysis reads is then an fp32 number, as the
protocol string says.
"""

from __future__ import annotations

import torch

from embnorm.evaluation.features import embed_batches, with_data_bn_statistics
from embnorm.evaluation.knn import KNN_FEATURES, knn_accuracy
from embnorm.models import method_of
from embnorm.monitor import norm_stats


def last_bn_affine_norm(model) -> float | None:
    """The L2 norm of the affine parameters (weight and bias together) of the BatchNorm that ends the projector head,
    or None when the head does not end in an affine BatchNorm (the last module, in registration order, of
    `model.projector`). Weight decay shrinks these parameters directly, and they set the scale of such a head's
    output, so they explain a BN-ended head's norm."""
    head = getattr(model, "projector", None)
    leaves = [m for m in head.modules() if not list(m.children())] if isinstance(head, torch.nn.Module) else []
    last = leaves[-1] if leaves else None
    if not isinstance(last, torch.nn.modules.batchnorm._BatchNorm) or not last.affine:
        return None
    return float(torch.cat([last.weight.detach().flatten(), last.bias.detach().flatten()]).float().norm())


def knn_protocol(params: dict, probe_images: int | None = None, bank: str = "train(unaugmented)") -> str:
    """The protocol string written beside every number: the kNN settings, the bank, and the BatchNorm statistics
    (re-estimated on `probe_images` probe images, default `probe_size`, at every evaluation)."""
    probe_images = params["probe_size"] if probe_images is None else probe_images
    return (f"k={params['knn_k']} t={params['knn_temperature']} cosine {KNN_FEATURES} bank={bank} "
            f"queries=test(unaugmented) BN-stats=re-estimated on the {probe_images} probe images at every evaluation "
            f"eval-mode fp32")


def bank_name(params: dict, bank_images: int, derived: bool) -> str:
    """How the protocol string names the kNN bank: the run's train images, or its parent's full train split."""
    if derived:
        return f"parent train({params['source']}, all {bank_images} images, unaugmented)"
    return "train(unaugmented)"


class Monitor:
    """Evaluates a model on fixed data: the probe batch (norms, every epoch) and bank/test (kNN, at `knn_at` epochs;
    default every `knn_every` epochs, the first and the last), always on a copy with BatchNorm statistics of the probe.
    `bank_label` names the kNN bank in the protocol string."""

    def __init__(self, params: dict, probe, bank, bank_labels, queries, query_labels, num_classes: int,
                 knn_at: frozenset[int] | None = None, bank_label: str = "train(unaugmented)"):
        self.params = params
        self.layers = list(method_of(params).layers)
        self.probe, self.bank, self.bank_labels = probe, bank, bank_labels
        self.queries, self.query_labels, self.num_classes = queries, query_labels, num_classes
        self.knn_at, self.bank_label = knn_at, bank_label

    def knn_due(self, epoch: int) -> bool:
        if self.knn_at is not None:
            return epoch in self.knn_at
        return epoch % self.params["knn_every"] == 0 or epoch == self.params["epochs"]

    def protocol(self) -> str:
        return knn_protocol(self.params, len(self.probe), self.bank_label)

    def evaluate(self, model, epoch: int) -> dict[str, float]:
        row: dict[str, float] = {}
        affine = last_bn_affine_norm(model)
        model = with_data_bn_statistics(model, self.probe)
        feats = embed_batches(model, self.probe, self.layers)
        for layer in self.layers:
            row.update({f"{layer}_{k}": v for k, v in norm_stats(feats[layer]).items()})
        if affine is not None:
            row["last_bn_affine_norm"] = affine
        if self.knn_due(epoch):
            bank = embed_batches(model, self.bank, [KNN_FEATURES])[KNN_FEATURES]
            queries = embed_batches(model, self.queries, [KNN_FEATURES])[KNN_FEATURES]
            row["knn_acc"] = knn_accuracy(bank, self.bank_labels, queries, self.query_labels, self.params["knn_k"],
                                          self.params["knn_temperature"], self.num_classes)
        return row
