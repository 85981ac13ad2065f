"""The PyTorch Lightning callback: a tiny LightningModule trained for 2 epochs with NormMonitorCallback logs the
monitor's numbers through the trainer's logger, at epoch 0 and after each epoch, and leaves training as it was."""

from __future__ import annotations

import doctest

import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn as nn

import embnorm.integrations.lightning
from embnorm.integrations.lightning import NormMonitorCallback
from embnorm.mitigations import gradscale
from embnorm.monitor import NormMonitor, norm_stats


class TinySimCLR(pl.LightningModule):
    """A two-layer encoder trained with a cosine loss between two noisy views, GradScale on the embeddings."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.projector = nn.Linear(32, 16)
        self.modes_at_step: list[bool] = []

    def forward(self, x):
        h = self.backbone(x)
        return {"backbone": h, "projector": self.projector(h)}

    def training_step(self, batch, batch_idx):
        self.modes_at_step.append(self.training)
        (x,) = batch
        z1 = gradscale(self(x + 0.1 * torch.randn_like(x))["projector"], 1.0)
        z2 = gradscale(self(x + 0.1 * torch.randn_like(x))["projector"], 1.0)
        loss = -nn.functional.cosine_similarity(z1, z2).mean()
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def test_callback_logs_through_the_trainer_for_two_epochs(tmp_path):
    torch.manual_seed(0)
    data = torch.rand(64, 3, 4, 4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=16, shuffle=True)
    probe, labels, ood = data[:32], torch.arange(32) % 4, torch.rand(16, 3, 4, 4) * 0.3
    callback = NormMonitorCallback(NormMonitor(probe, probe_labels=labels, ood_images=ood, tsv=tmp_path / "norms.tsv"))
    logger = pl.loggers.CSVLogger(tmp_path, name="tiny")
    module = TinySimCLR()
    trainer = pl.Trainer(max_epochs=2, callbacks=[callback], logger=logger, accelerator="cpu", log_every_n_steps=1,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, loader)

    assert [row["epoch"] for row in callback.history] == [0, 1, 2]
    assert all(module.modes_at_step) and len(module.modes_at_step) == 8  # every step ran in train mode
    logged = pd.read_csv(tmp_path / "tiny" / "version_0" / "metrics.csv")
    norms = logged.dropna(subset=["norms/projector_norm_mean"])
    assert list(norms.step) == [0, 4, 8]  # epoch 0 before training, then after each epoch's 4 steps
    assert norms["norms/projector_norm_mean"].tolist() == [r["projector_norm_mean"] for r in callback.history]
    for key in ("backbone_rankme", "projector_ood_auroc", "projector_norm_mean_class3", "backbone_norm_p90"):
        assert f"norms/{key}" in logged.columns, key
    assert len(pd.read_csv(tmp_path / "norms.tsv", sep="\t")) == 3
    # the last row describes the trained model in eval mode
    with torch.no_grad():
        z = module.eval()(probe)["projector"]
    assert callback.history[-1]["projector_norm_mean"] == norm_stats(z)["norm_mean"]


def test_callback_every_and_embedder():
    torch.manual_seed(1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(32, 3, 4, 4)), batch_size=16)
    callback = NormMonitorCallback(NormMonitor(torch.rand(16, 3, 4, 4), every=2), embedder=lambda m: m.backbone)
    trainer = pl.Trainer(max_epochs=3, callbacks=[callback], logger=False, accelerator="cpu",
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(TinySimCLR(), loader)
    assert [row["epoch"] for row in callback.history] == [0, 2]
    assert "z_norm_mean" in callback.history[0]  # the backbone returns a tensor: one layer, named z


def test_callback_docstring_example_runs():
    result = doctest.testmod(embnorm.integrations.lightning)
    assert result.attempted > 0 and result.failed == 0
