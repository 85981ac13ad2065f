"""SimCLR as a PyTorch Lightning module, with the paper's monitor as a callback: NormMonitorCallback logs embedding
norms, RankMe and the norm's OOD AUROC through the trainer's logger (here a CSVLogger) before training and after every
epoch. The model starts from cut-initialization (c = 3, Section 6). Data: embnorm's built-in synthetic images. Under
a minute on one CPU core. A demonstration of the API: a few epochs on tiny data, so its numbers are not evidence for or
against the paper. Needs the extra: pip install embnorm[lightning].

    python examples/monitor_lightning.py [--epochs 4] [--images 2048] [--logs lightning_logs]
"""
import argparse
import tempfile

import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn as nn

from embnorm.data.synthetic import SyntheticSpec, generate
from embnorm.evaluation.features import to_float
from embnorm.integrations.lightning import NormMonitorCallback
from embnorm.mitigations import cut_init
from embnorm.models.backbones import small_cnn
from embnorm.models.methods.simclr import nt_xent
from embnorm.monitor import NormMonitor
from embnorm.train.augment import RECIPES, two_views


class SimCLR(pl.LightningModule):
    def __init__(self, cut: float = 3.0, lr: float = 0.05):
        super().__init__()
        backbone, width = small_cnn(width=16)
        self.encoder = nn.Sequential(backbone, nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 64))
        cut_init(self.encoder, cut)  # Section 6: start with small embedding norms
        self.lr, self.augment_gen = lr, torch.Generator().manual_seed(1)

    def forward(self, x):
        return self.encoder(x)

    def training_step(self, batch, batch_idx):
        (images,) = batch
        x1, x2 = two_views(images, RECIPES["simclr_cifar"], self.augment_gen)
        z = self(torch.cat([x1, x2]))
        loss = nt_xent(z[:len(images)], z[len(images):], temperature=0.5)
        self.log("loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9, weight_decay=1e-6)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--logs", default=None, help="CSVLogger folder (default: a temporary one)")
    args = parser.parse_args()
    pl.seed_everything(0, verbose=False)

    spec = SyntheticSpec(n_train=args.images, n_test=256)
    images = torch.from_numpy(generate(spec, "train")[0])
    probe, structure = generate(spec, "test")
    ood, _ = generate(SyntheticSpec(family=1, n_train=16, n_test=256), "test")
    monitor = NormMonitor(to_float(torch.from_numpy(probe)), probe_labels=structure["label"],
                          ood_images=to_float(torch.from_numpy(ood)), every=1)

    logs = args.logs or tempfile.mkdtemp(prefix="embnorm-lightning-")
    logger = pl.loggers.CSVLogger(logs, name="simclr")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=128, shuffle=True)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=logger,
                         callbacks=[NormMonitorCallback(monitor)], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(SimCLR(), loader)

    # what the logger recorded: one row per monitored epoch (step = optimizer steps so far)
    metrics = pd.read_csv(f"{logger.log_dir}/metrics.csv").dropna(subset=["norms/z_norm_mean"])
    columns = ["step", "norms/z_norm_mean", "norms/z_norm_p10", "norms/z_norm_p90", "norms/z_rankme",
               "norms/z_ood_norm_mean", "norms/z_ood_auroc"]
    print(metrics[columns].rename(columns=lambda c: c.removeprefix("norms/z_")).to_string(index=False))
    print(f"logged to {logger.log_dir}/metrics.csv")


if __name__ == "__main__":
    main()
