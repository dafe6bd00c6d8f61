"""What the pipeline needs to know about one model version, read from its MLM document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from catalog_schemas import clc
from inference.errors import InputMismatchError

LANDCOVER = "landcover"  # output channels are CLC classes; raster value = CLC grid code
CLOUDMASK = "cloudmask"  # output channels are cloud-mask classes (catalog_schemas.cloudmask)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    input_name: str
    output_name: str
    input_bands: list[str]
    # Class of each output channel: a CLC code (landcover) or a cloud-mask value (cloudmask).
    output_classes: list[int]
    window_size: int
    # MLM v1.5 value_scaling objects, one per input band (or one for all); None: raw input.
    value_scaling: list[dict[str, Any]] | None = None
    # What read_window delivers before value_scaling: surface reflectance (scale/offset applied).
    input_units: str = "reflectance"
    output_kind: str = LANDCOVER
    framework: str = "ONNX"
    architecture: str = "soft decision tree"
    description: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    created: str = "2025-01-01T00:00:00Z"

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def raster_values(self) -> np.ndarray:
        """uint8 raster value of each output channel (what the class grid stores)."""
        if self.output_kind == LANDCOVER:
            values = [clc.grid_code_of(code) for code in self.output_classes]
        else:
            values = list(self.output_classes)
        return np.asarray(values, dtype=np.uint8)

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """Apply the MLM value_scaling to a [N, bands, H, W] batch; float32 out."""
        if batch.ndim != 4 or batch.shape[1] != len(self.input_bands):
            raise InputMismatchError(
                f"model {self.ref} takes {len(self.input_bands)} bands {self.input_bands}, "
                f"got an input of shape {batch.shape}")
        x = batch.astype(np.float32, copy=False)
        if not self.value_scaling:
            return x
        offset, scale = scaling_coefficients(self.value_scaling, len(self.input_bands))
        return ((x - offset[:, None, None]) / scale[:, None, None]).astype(np.float32)


def scaling_coefficients(scaling: list[dict[str, Any]], n_bands: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per band (offset, divisor) of the linear MLM scalings: x' = (x - offset) / divisor.

    One object broadcasts to all bands, as the MLM specification says.
    """
    items = scaling * n_bands if len(scaling) == 1 else scaling
    if len(items) != n_bands:
        raise InputMismatchError(
            f"value_scaling has {len(scaling)} entries for {n_bands} bands")
    offset, divisor = np.zeros(n_bands, np.float32), np.ones(n_bands, np.float32)
    for i, item in enumerate(items):
        kind = item.get("type") if item else None
        if kind is None:
            continue
        if kind == "min-max":
            offset[i], divisor[i] = item["minimum"], item["maximum"] - item["minimum"]
        elif kind == "z-score":
            offset[i], divisor[i] = item["mean"], item["stddev"]
        elif kind == "offset":
            offset[i] = item["value"]
        elif kind == "scale":
            divisor[i] = item["value"]
        else:  # clip and processing expressions are not linear: no model here uses them
            raise InputMismatchError(f"value_scaling type {kind!r} is not supported")
    return offset, divisor


def minmax_then_centre(minimum: list[float], maximum: list[float], means: list[float]
                       ) -> list[dict[str, Any]]:
    """The original U-Net's normalisation as MLM objects.

    Min-max scaling then channel mean-centring, ``(x - min) / (max - min) - mean``, is the one
    z-score ``(x - (min + mean * (max - min))) / (max - min)``: MLM allows one object per band.
    """
    return [{"type": "z-score", "mean": lo + m * (hi - lo), "stddev": hi - lo}
            for lo, hi, m in zip(minimum, maximum, means, strict=True)]
