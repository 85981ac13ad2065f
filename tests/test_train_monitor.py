"""The training monitor's protocol: every evaluation (epoch 0 and later) measures norms and kNN features on a copy
whose BatchNorm statistics are re-estimated on the probe images, so epoch-0 and final norms of a BN-ended head come
from the same procedure; the training model is left untouched; the predictor norm and the last BN's affine norm are
recorded; a run on a derived (imbalanced) dataset uses its parent's full train split as the kNN bank, and the
protocol string says so. Tiny random data on the CPU, one thread."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from embnorm.evaluation.features import to_float
from embnorm.models import build_model
from embnorm.train.loop import data_on_device, run_budget, train
from embnorm.train.monitor import last_bn_affine_norm
from helpers.training import TEST, TRAIN, tiny_params

torch.set_num_threads(1)
DERIVED = np.arange(0, 64, 3)[:20]


def monitor_for(params, indices=None):
    run = run_budget(params, TRAIN, indices)
    images, monitor = data_on_device(params, (0, 0), TRAIN, TEST, indices, run, torch.device("cpu"))
    return images, monitor, run


def untrained(params):
    torch.manual_seed(0)
    return build_model(params, TRAIN.image_size)


def test_an_untrained_bn_ended_head_measures_the_same_at_epoch_0_and_at_the_last_epoch():
    """SimSiam's projector ends in BatchNorm. With running statistics (the old protocol after epoch 0) its eval-mode
    norm is an artifact of the defaults; with statistics of the probe, the "final" evaluation of a model that did not
    change equals its epoch-0 evaluation, norms and kNN accuracy alike."""
    params = tiny_params("simsiam", epochs=3, knn_every=3)
    _, monitor, run = monitor_for(params)
    model = untrained(params)
    before = copy.deepcopy(model.state_dict())
    initial, final = monitor.evaluate(model, 0), monitor.evaluate(model, run.epochs)
    assert "knn_acc" in initial and "knn_acc" in final
    assert initial == final
    for key, value in model.state_dict().items():  # running statistics included: the model is not touched
        assert torch.equal(value, before[key]), key


def test_an_evaluation_does_not_depend_on_the_running_statistics():
    """Later epochs too: whatever running statistics training left, the row is that of the probe statistics."""
    params = tiny_params("simsiam", epochs=3, knn_every=1)
    images, monitor, _ = monitor_for(params)
    model = untrained(params)
    with torch.no_grad():
        model.train()(to_float(images[:16]))  # running statistics of another batch (momentum 0.1)
    stale = copy.deepcopy(model)
    for module in stale.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.add_(3.0), module.running_var.mul_(5.0)
    assert monitor.evaluate(model, 2) == monitor.evaluate(stale, 2)


@pytest.mark.parametrize("model", ["simclr", "simsiam", "byol"])
def test_rows_record_the_predictor_norm_and_the_last_bn_affine_norm_where_they_exist(model):
    params = tiny_params(model)
    _, monitor, _ = monitor_for(params)
    net = untrained(params)
    with torch.no_grad():
        for module in net.modules():  # non-trivial affine parameters
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 2.0), module.bias.uniform_(-1.0, 1.0)
    row = monitor.evaluate(net, 1)
    assert ("predictor_norm_mean" in row) == (model != "simclr")
    if model == "simsiam":  # the projector ends in BatchNorm1d
        last = net.projector[-1]
        assert isinstance(last, torch.nn.BatchNorm1d)
        expected = float(torch.sqrt((last.weight.detach() ** 2).sum() + (last.bias.detach() ** 2).sum()))
        assert row["last_bn_affine_norm"] == pytest.approx(expected, rel=1e-6)
    else:  # SimCLR's and BYOL's projectors end in a Linear layer
        assert "last_bn_affine_norm" not in row and last_bn_affine_norm(net) is None


def test_a_derived_run_uses_its_parents_full_train_split_as_the_bank(tmp_path):
    params = tiny_params(knn_k=30)  # more neighbours than the 20 derived images: possible only with the parent bank
    images, monitor, _ = monitor_for(params, DERIVED)
    assert len(images) == len(DERIVED) and torch.equal(images, torch.from_numpy(TRAIN.images[DERIVED]))
    assert len(monitor.bank) == len(TRAIN.labels) and torch.equal(monitor.bank_labels, torch.from_numpy(TRAIN.labels))
    probe = {bytes(x.numpy()) for x in monitor.probe}
    assert probe <= {bytes(x) for x in TRAIN.images[DERIVED]}  # the probe stays drawn from the run's own images
    assert "bank=parent train(synth, all 64 images, unaugmented)" in monitor.protocol()

    train(params, TRAIN, TEST, DERIVED, checkpoint_path=tmp_path / "c.pt", resume_path=tmp_path / "r.pt",
          metrics_path=tmp_path / "m.tsv")
    protocol = set(pd.read_csv(tmp_path / "m.tsv", sep="\t").knn_protocol)
    assert protocol == {monitor.protocol()}
    assert "BN-stats=re-estimated on the 20 probe images at every evaluation" in monitor.protocol()


def test_a_balanced_run_keeps_its_own_train_images_as_the_bank():
    params = tiny_params()
    images, monitor, _ = monitor_for(params)
    assert monitor.bank is images or torch.equal(monitor.bank, images)
    assert monitor.protocol() == ("k=20 t=0.1 cosine backbone bank=train(unaugmented) queries=test(unaugmented) "
                                  "BN-stats=re-estimated on the 64 probe images at every evaluation eval-mode fp32")
