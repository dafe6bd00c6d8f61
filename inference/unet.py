"""The original service's U-Net, in PyTorch (optional extra ``torch``).

3x3 convolution + batch norm + ReLU blocks (two per level), max-pool down, transposed
convolution up with the skip connection concatenated, a 1x1 convolution head to the classes.
Softmax is applied at export (the repository's models answer probabilities) and inside the
cross-entropy loss in training. ``width`` and ``depth`` are parameters so tests can train a
tiny one; the original used 64 channels and four levels.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 4, n_classes: int = 44, width: int = 64,
                 depth: int = 4) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_block(in_channels, widths[0])] + [
            _block(widths[i], widths[i + 1]) for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(2 * widths[i], widths[i])
                                    for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    @property
    def multiple(self) -> int:
        """Height and width must be multiples of this (one halving per level)."""
        return 2 ** len(self.up)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, classes, H, W]."""
        return self.head(self.features(x))

    def replace_head(self, n_classes: int) -> None:
        """Freeze everything and put a new, trainable 1x1 head (pilot-specific models)."""
        for p in self.parameters():
            p.requires_grad = False
        self.head = nn.Conv2d(self.head.in_channels, n_classes, 1)


class WithSoftmax(nn.Module):
    """What is exported: probabilities, as every repository model answers."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)
