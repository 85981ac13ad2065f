"""Backbones: torchvision ResNets (CIFAR stem for small images) and a small CNN for CPU presets."""

from __future__ import annotations

import torch.nn as nn


def small_cnn(width: int = 32) -> tuple[nn.Module, int]:
    """Four 3x3 conv blocks (width, 2w, 4w, 8w channels) with BN + ReLU and a global average pool. The first three
    have stride 2: a full-resolution first layer would cost 5x the CPU time (its backward pass dominates)."""
    chans = [3, width, 2 * width, 4 * width, 8 * width]
    strides = [2, 2, 2, 1]
    layers: list[nn.Module] = []
    for i in range(4):
        layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=strides[i], padding=1, bias=False),
                   nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), chans[-1]


def resnet(depth: int, image_size: int) -> tuple[nn.Module, int]:
    """torchvision ResNet-18/50 without its classifier. For images of at most 64 px, the CIFAR stem (3x3 conv, stride 1,
    no max-pool) as in the SimCLR/SimSiam CIFAR recipes."""
    import torchvision  # imported here: it costs 1.4 s per job, which CPU presets with the small CNN never need

    make = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[depth]
    net = make(weights=None, zero_init_residual=True)
    if image_size <= 64:
        net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, dim


def build_backbone(name: str, image_size: int) -> tuple[nn.Module, int]:
    if name == "small":
        return small_cnn()
    if name in ("resnet18", "resnet50"):
        return resnet(int(name[6:]), image_size)
    raise ValueError(f"unknown backbone '{name}' (expected small, resnet18 or resnet50)")
