"""Finding test spots in a ground-truth raster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer


@dataclass(frozen=True)
class Spot:
    row: int
    col: int
    lon: float
    lat: float


def interior_spot(truth_path: Path, grid_code: int, margin: int = 25) -> Spot:
    """A pixel of ``grid_code`` whose whole (2*margin+1)^2 neighbourhood has that class too."""
    with rasterio.open(truth_path) as src:
        truth = src.read(1)
        transform, crs = src.transform, src.crs
    mask = (truth == grid_code).astype(np.int64)
    # Integral image: the box sum around every pixel in O(1), no scipy needed.
    integral = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = 2 * margin + 1
    box = (integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k])
    rows, cols = np.nonzero(box == k * k)
    if rows.size == 0:
        raise AssertionError(f"no interior pixel of grid code {grid_code} in {truth_path}")
    mid = rows.size // 2
    row, col = int(rows[mid]) + margin, int(cols[mid]) + margin
    x, y = transform * (col + 0.5, row + 0.5)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return Spot(row, col, lon, lat)
