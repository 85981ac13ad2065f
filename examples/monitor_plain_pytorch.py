"""A SimCLR training loop in plain PyTorch with the paper's instruments: NormMonitor (embedding norms, RankMe, OOD
AUROC of the norm) on a fixed probe set every epoch, and GradScale (Algorithm 1, p = 1) on the embeddings, with the
learning rate divided by 6 as the authors do for GradScale. Data: embnorm's built-in synthetic images (family 1 is
family 0's out-of-distribution partner). Under a minute on one CPU core. A demonstration of the API: a few epochs on
tiny data, so its numbers are not evidence for or against the paper.

    python examples/monitor_plain_pytorch.py [--epochs 5] [--images 2048] [--tsv norms.tsv]
"""
import argparse

import torch
import torch.nn as nn

from embnorm.data.synthetic import SyntheticSpec, generate
from embnorm.evaluation.features import to_float
from embnorm.mitigations import gradscale
from embnorm.models.backbones import small_cnn
from embnorm.models.methods.simclr import nt_xent
from embnorm.monitor import NormMonitor
from embnorm.train.augment import RECIPES, two_views

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--images", type=int, default=2048)
parser.add_argument("--tsv", default=None, help="append each epoch's metrics to this TSV")
args = parser.parse_args()
torch.manual_seed(0)

spec = SyntheticSpec(n_train=args.images, n_test=256)
images = torch.from_numpy(generate(spec, "train")[0])  # uint8 (N, 32, 32, 3)
probe, structure = generate(spec, "test")
ood, _ = generate(SyntheticSpec(family=1, n_train=16, n_test=256), "test")

backbone, width = small_cnn(width=16)
model = nn.Sequential(backbone, nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 64))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-6)
monitor = NormMonitor(to_float(torch.from_numpy(probe)), probe_labels=structure["label"],
                      ood_images=to_float(torch.from_numpy(ood)), tsv=args.tsv)
augment_gen = torch.Generator().manual_seed(1)

for epoch in range(args.epochs + 1):
    if epoch > 0:
        model.train()
        for batch in torch.randperm(len(images)).split(128):
            x1, x2 = two_views(images[batch], RECIPES["simclr_cifar"], augment_gen)
            z = gradscale(model(torch.cat([x1, x2])), 1.0)  # Algorithm 1, p = 1
            loss = nt_xent(z[:len(batch)], z[len(batch):], temperature=0.5)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    row = monitor(model, epoch=epoch)  # epoch 0: BatchNorm holds default statistics (docs/monitor.md)
    print(f"epoch {epoch}: loss {loss.item() if epoch else float('nan'):.3f}  norm mean {row['z_norm_mean']:.3f} "
          f"(p10 {row['z_norm_p10']:.3f}, p90 {row['z_norm_p90']:.3f})  RankMe {row['z_rankme']:.2f}  "
          f"OOD norm {row['z_ood_norm_mean']:.3f}  OOD AUROC {row['z_ood_auroc']:.3f}")
