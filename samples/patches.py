"""Training patches for the U-Net cut from a generated scene (generated, not real data).

The folder format is ``inference.patches``' (one GeoTIFF per band and a reference raster).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from rasterio import Affine

from catalog_schemas import clc
from inference.patches import BANDS, write_patch
from samples import generate_scene, reflectance_from_dn


def write_generated_patches(root: Path, count: int, size: int = 64, seed: int = 1) -> Path:
    """``count`` patches of ``size`` px from one generated cloud-free scene."""
    per_row = int(np.ceil(np.sqrt(count)))
    scene = generate_scene("32TQM", dt.date(2024, 7, 15), per_row * size, seed=seed)
    bands = np.stack([reflectance_from_dn(scene.dn(b)) for b in BANDS])
    lut = np.asarray(clc.clc_code_by_grid_code(), np.uint16)
    codes = lut[scene.truth()]
    for k in range(count):
        r, c = divmod(k, per_row)
        win = (slice(r * size, (r + 1) * size), slice(c * size, (c + 1) * size))
        pid = f"generated_{seed}_{k:04d}"
        transform = scene.window(10).transform * Affine.translation(c * size, r * size)
        write_patch(Path(root) / pid, pid, bands[:, win[0], win[1]], codes[win],
                    crs=scene.grid.crs, transform=transform)
    return Path(root)
