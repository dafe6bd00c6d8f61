"""Training, fine-tuning and export of ``clc-unet`` (optional extra ``torch``).

The original recipe: min-max scaling then channel mean-centring from training statistics,
flips and 90-degree rotations, Adam (lr 1e-3, betas 0.9/0.999), cross-entropy on softmax.
A checkpoint (``torch.save``) holds the weights, the architecture, the classes (CLC codes of
the head's channels) and the normalisation, so export writes a complete MLM document.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from inference.patches import BANDS, Patches
from inference.repository import ModelRepository, ResolvedModel
from inference.spec import ModelSpec, minmax_then_centre
from inference.unet import UNet, WithSoftmax

IGNORE = -100  # pixels whose label is not among the model's classes


@dataclass
class Checkpoint:
    classes: list[int]  # CLC code of each output channel
    minimum: list[float]
    maximum: list[float]
    means: list[float]
    width: int
    depth: int
    state: dict[str, Any] = field(default_factory=dict)
    steps: int = 0  # optimiser steps taken (training and fine-tuning)

    def model(self) -> UNet:
        net = UNet(len(BANDS), len(self.classes), self.width, self.depth)
        if self.state:
            net.load_state_dict(self.state)
        return net

    def normalise(self, x: np.ndarray) -> np.ndarray:
        lo, hi = np.array(self.minimum), np.array(self.maximum)
        scaled = (x - lo[:, None, None]) / (hi - lo)[:, None, None]
        return (scaled - np.array(self.means)[:, None, None]).astype(np.float32)

    def save(self, path: Path) -> None:
        torch.save(self.__dict__, path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        return cls(**torch.load(path, weights_only=True))


def statistics(x: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Per band min, max (1st/99th percentiles: a few saturated pixels must not set the
    scale) and the mean after min-max scaling."""
    lo = np.percentile(x, 1, axis=(0, 2, 3))
    hi = np.percentile(x, 99, axis=(0, 2, 3))
    means = ((x - lo[None, :, None, None]) / (hi - lo)[None, :, None, None]).mean(axis=(0, 2, 3))
    return lo.tolist(), hi.tolist(), means.tolist()


def _targets(y: np.ndarray, classes: list[int]) -> np.ndarray:
    out = np.full(y.shape, IGNORE, np.int64)
    for i, code in enumerate(classes):
        out[y == code] = i
    return out


def _augment(x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    k = int(rng.integers(4))
    x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (1, 2))
    if rng.random() < 0.5:
        x, y = torch.flip(x, (3,)), torch.flip(y, (2,))
    return x, y


def fit(ckpt: Checkpoint, patches: Patches, *, steps: int, batch: int = 128, seed: int = 0,
        net: UNet | None = None, max_seconds: float | None = None) -> Checkpoint:
    """Train ``net`` (or a new one) for ``steps`` batches; only trainable parameters move.

    ``max_seconds`` stops earlier, after the step that crosses it (a time-boxed run: the
    number of steps done is ``ckpt.steps``).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = net or ckpt.model()
    x = torch.from_numpy(np.stack([ckpt.normalise(p) for p in patches.x]))
    y = torch.from_numpy(_targets(patches.y, ckpt.classes))
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=1e-3, betas=(0.9, 0.999))
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    net.train()
    start = time.monotonic()
    for step in range(steps):
        if max_seconds is not None and step and time.monotonic() - start >= max_seconds:
            break
        pick = torch.from_numpy(rng.choice(len(x), size=min(batch, len(x)), replace=False))
        xb, yb = _augment(x[pick], y[pick], rng)
        optimiser.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimiser.step()
        ckpt.steps += 1
    ckpt.state = net.state_dict()
    return ckpt


def train(patches: Patches, classes: list[int], *, steps: int, width: int = 64,
          depth: int = 4, batch: int = 128, seed: int = 0,
          max_seconds: float | None = None) -> Checkpoint:
    lo, hi, means = statistics(patches.x)
    return fit(Checkpoint(classes, lo, hi, means, width, depth), patches, steps=steps,
               batch=batch, seed=seed, max_seconds=max_seconds)


def finetune(base: Checkpoint, patches: Patches, classes: list[int], *, steps: int,
             batch: int = 128, seed: int = 0) -> Checkpoint:
    """Freeze the network, train a new head for ``classes`` (the base's normalisation)."""
    net = base.model()
    net.replace_head(len(classes))
    ckpt = Checkpoint(classes, base.minimum, base.maximum, base.means, base.width, base.depth)
    fit(ckpt, patches, steps=steps, batch=batch, seed=seed, net=net)
    return ckpt


def export(ckpt: Checkpoint, repo: ModelRepository, name: str = "clc-unet",
           version: str | None = None, window_size: int = 512) -> ResolvedModel:
    """ONNX + MLM + config.pbtxt as a new version (the next integer unless given)."""
    net = WithSoftmax(ckpt.model()).eval()
    buf = io.BytesIO()
    axes = {0: "N", 2: "H", 3: "W"}
    # The TorchScript exporter needs no onnxscript; the graph is plain convolutions.
    # (torch types `args` as a tuple and `f` as a path; it documents a tensor and a file too.)
    torch.onnx.export(net, torch.zeros(1, len(BANDS), 64, 64), buf,  # type: ignore[arg-type]
                      opset_version=17,
                      input_names=["reflectance"], output_names=["probabilities"],
                      dynamic_axes={"reflectance": axes, "probabilities": axes}, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    model.ir_version = 8
    existing = repo.versions(name)
    version = version or str(int(existing[-1]) + 1 if existing else 1)
    spec = ModelSpec(
        name=name, version=version, input_name="reflectance", output_name="probabilities",
        input_bands=list(BANDS), output_classes=list(ckpt.classes), window_size=window_size,
        value_scaling=minmax_then_centre(ckpt.minimum, ckpt.maximum, ckpt.means),
        architecture="U-Net", framework="ONNX",
        description=f"U-Net ({ckpt.width} channels, {ckpt.depth} levels), PyTorch "
                    f"{torch.__version__.split('+')[0]}",
        hyperparameters={"width": ckpt.width, "depth": ckpt.depth,
                         "size_multiple": 2**ckpt.depth, "training_steps": ckpt.steps})
    return repo.add_version(spec, model)
